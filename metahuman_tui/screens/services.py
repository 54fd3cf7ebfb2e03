"""What the screens need from the core, behind one object the app factory injects.

Why: panes must keep working when a core module is still missing (or broken) — each accessor
either returns the real core object or raises `Unavailable` with a sentence the pane shows.
Tests inject settings (no timers) and services (a fixed LLM probe, a chat backend).
No Textual imports here: this is the seam between the core and the UI.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from metahuman_core.errors import MHError
from metahuman_core.status import count_pending_approvals


class Unavailable(Exception):
    """A core feature the pane needs is not installed or failed to load."""


def error_text(exc: BaseException, *, one_line: bool = False) -> str:
    """What a pane shows for a failure: the core's own sentence (and hint) for MHError and
    Unavailable, which are written for people; the exception type for anything else.
    `one_line` puts the hint after the message, for one-row info lines."""
    if isinstance(exc, MHError) and one_line:
        return exc.message + (f" · {exc.hint}" if exc.hint else "")
    if isinstance(exc, (MHError, Unavailable)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


@dataclass
class TuiSettings:
    """Knobs the app reads; the test profile turns every timer off and drives updates itself."""

    poll: bool = True               # status, approval queue, audit follow and training timers
    status_interval: float = 5.0    # seconds between status-bar refreshes (LLM probe included)
    queue_interval: float = 1.0     # approval-queue mtime poll
    follow_interval: float = 0.5    # today's audit file growth poll
    training_interval: float = 1.0  # progress.ndjson poll
    search_debounce: float = 0.25   # memory search input debounce
    llm_timeout: float = 1.0        # LLM probe timeout
    browse_limit: int = 200_000     # rows listed when browsing memories without a query
    search_limit: int = 500         # search hits shown
    completed_tasks: int = 100      # done/cancelled tasks shown on the board


@dataclass
class LlmState:
    up: bool | None          # None = not checked yet
    model: str = ""
    detail: str = ""


def load_core(module: str, attr: str | None = None) -> Any:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"{module} is not available yet ({exc})") from None
    if attr is None:
        return mod
    try:
        return getattr(mod, attr)
    except AttributeError:
        raise Unavailable(f"{module}.{attr} is not available yet") from None


def probe_llm(profile, timeout: float = 1.0) -> LlmState:
    """Cheap reachability check of the configured backend (runs in a worker, never on the UI)."""
    from metahuman_core.active_model import active_model

    try:
        model = active_model(profile)["model"]
        agent = profile.config.get("agent")
    except Exception as exc:  # a broken config must not take the status bar down
        return LlmState(False, "?", str(exc).splitlines()[0])
    if agent.backend == "llamacpp":
        ok = bool(agent.ggufPath) and Path(agent.ggufPath).is_file()
        return LlmState(ok, model, "gguf found" if ok else "ggufPath not set or missing")
    import os

    import httpx

    if agent.backend == "ollama":
        host = os.environ.get("OLLAMA_HOST") or agent.host
        if not host.startswith("http"):
            host = "http://" + host
        url = host.rstrip("/") + "/api/version"
    else:
        url = agent.openaiBaseUrl.rstrip("/") + "/models"
    try:
        resp = httpx.get(url, timeout=timeout)
        resp.raise_for_status()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return LlmState(False, model, f"{url}: {type(exc).__name__}")
    return LlmState(True, model, url)


@dataclass
class Services:
    """The core behind the TUI. Every accessor raises Unavailable with a reason if missing."""

    profile: Any
    settings: TuiSettings = field(default_factory=TuiSettings)
    llm_probe: Callable[[Any], LlmState] | None = None
    chat_backend: Any = None            # object with .stream(prompt, history=, yolo=) (chat_events)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---------------------------------------------------------------- core objects
    def _once(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def memory(self):
        return self._once("memory", lambda: load_core("metahuman_core.memory", "MemoryStore")(self.profile))

    def memory_index(self):
        """The derived search index (lists 100k ids by time without reading the files)."""
        return load_core("metahuman_core.search", "index_for")(self.profile)

    def search(self, query: str, **kw) -> list:
        return load_core("metahuman_core.search", "search")(self.profile, query, **kw)

    def tasks(self):
        return self._once("tasks", lambda: load_core("metahuman_core.tasks", "TaskStore")(self.profile))

    def approvals(self):
        return self._once("approvals",
                          lambda: load_core("metahuman_core.approvals", "ApprovalQueue")(self.profile))

    def training(self, dotted: str) -> Callable[..., Any]:
        """A function of the core's training package, e.g. "local.start_local"."""
        module, name = dotted.rsplit(".", 1)
        return load_core(f"metahuman_core.training.{module}", name)

    def chat(self):
        if self.chat_backend is None:
            from ..widgets.chat_backend import default_backend

            self.chat_backend = default_backend(self.profile)
        return self.chat_backend

    # ---------------------------------------------------------------- cheap status reads
    def check_llm(self) -> LlmState:
        probe = self.llm_probe or (lambda p: probe_llm(p, self.settings.llm_timeout))
        return probe(self.profile)

    def local_status(self) -> dict[str, Any]:
        """Everything the status bar shows except the LLM probe: files only, a few ms."""
        from metahuman_core.active_model import active_model

        try:
            model = active_model(self.profile)["model"]
        except Exception:  # noqa: BLE001
            model = "?"
        return {
            "model": model,
            "trust": self.profile.persona.trust_level(),
            "pending": count_pending_approvals(self.profile.home.approval_queue),
            "training": latest_training_stage(self.profile.home.runs),
        }


# -------------------------------------------------------------------- training files
STAGES = ("INIT", "DATASET", "MODEL_DOWNLOAD", "PREPROCESSING", "LORA_SETUP", "TRAINING",
          "SAVE_ADAPTER", "GGUF_MERGE", "COMPLETE")


def run_dirs(runs_root: Path) -> list[Path]:
    """metahuman-runs/<DATE>[-n]/ folders, newest first."""
    if not runs_root.is_dir():
        return []
    return sorted((p for p in runs_root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name, reverse=True)


def last_progress(run_dir: Path, tail_bytes: int = 8192) -> dict | None:
    """The last complete JSON line of progress.ndjson (reads only the file's tail)."""
    path = run_dir / "progress.ndjson"
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - tail_bytes))
            data = fh.read()
    except OSError:
        return None
    for line in reversed(data.splitlines()):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def latest_training_stage(runs_root: Path) -> str | None:
    """'TRAINING 45%' for the newest run, or None when there is no run."""
    dirs = run_dirs(runs_root)
    if not dirs:
        return None
    last = last_progress(dirs[0])
    if not last:
        return None
    stage = str(last.get("stage", "?"))
    if last.get("error") or str(last.get("status", "")).lower() == "failed":
        return f"{stage} failed"
    pct = last.get("pct")
    return f"{stage} {int(pct)}%" if isinstance(pct, (int, float)) and stage != "COMPLETE" else stage
