"""What the screens need from the core, behind one object the app factory injects.

Why: one seam between the core and the UI, with plain lazy imports (the core loads when a pane
first needs it, so `mh --help` never pays for it). Status reads are the core's own answers:
`llm.health` for the LLM light and `training.runs` for the run state, so the status bar says
what `mh status` says. Tests inject settings (no timers) and services (a chat backend).
No Textual imports here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from metahuman_core.errors import MHError
from metahuman_core.status import count_pending_approvals
from metahuman_core.training.runs import STAGES as STAGES  # the trainer's one list (re-exported)

if TYPE_CHECKING:
    from metahuman_core.llm.health import LlmHealth
    from metahuman_core.training.runs import RunStatus


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
    llm_timeout: float = 2.0        # LLM health check timeout (per request)
    browse_limit: int = 200_000     # rows listed when browsing memories without a query
    search_limit: int = 500         # search hits shown
    completed_tasks: int = 100      # done/cancelled tasks shown on the board


def llm_health(profile, timeout: float = 2.0) -> LlmHealth:
    """The core's answer (host reachable AND the model there); runs in a worker, never on the UI.
    The TUI never probes the LLM itself: `mh status` and the status bar must agree."""
    from metahuman_core.llm.health import safe_health

    return safe_health(profile, timeout=timeout)


@dataclass
class Services:
    """The core behind the TUI (one object per app; core objects are built once)."""

    profile: Any
    settings: TuiSettings = field(default_factory=TuiSettings)
    llm_check: Callable[[Any], LlmHealth] | None = None   # tests may pin the answer
    chat_backend: Any = None            # object with .stream(prompt, history=, yolo=) (chat_events)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---------------------------------------------------------------- core objects
    def _once(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def memory(self):
        from metahuman_core.memory import MemoryStore

        return self._once("memory", lambda: MemoryStore(self.profile))

    def memory_index(self):
        """The derived search index (lists 100k ids by time without reading the files)."""
        from metahuman_core.search import index_for

        return index_for(self.profile)

    def search(self, query: str, **kw) -> list:
        from metahuman_core.search import search

        return search(self.profile, query, **kw)

    def count(self, query: str) -> int:
        """How many memories the keyword search matches in all (search() returns a capped list)."""
        from metahuman_core.search import count

        return count(self.profile, query)

    def tasks(self):
        from metahuman_core.tasks import TaskStore

        return self._once("tasks", lambda: TaskStore(self.profile))

    def approvals(self):
        from metahuman_core.approvals import ApprovalQueue

        return self._once("approvals", lambda: ApprovalQueue(self.profile))

    def training(self, dotted: str) -> Callable[..., Any]:
        """A function of the core's training package by "module.name" (the training panes'
        calls: local.start_local, local.stop_run, gates.list_datasets, activate.activate,
        activate.deactivate). Plain imports of a fixed set, no import-by-string."""
        module, name = dotted.split(".", 1)
        if module == "local":
            from metahuman_core.training import local as mod
        elif module == "gates":
            from metahuman_core.training import gates as mod
        elif module == "activate":
            from metahuman_core.training import activate as mod
        else:
            raise Unavailable(f"no training module {module!r} in the TUI's core calls")
        try:
            return getattr(mod, name)
        except AttributeError:
            raise Unavailable(f"metahuman_core.training.{module}.{name} does not exist") from None

    def chat(self):
        if self.chat_backend is None:
            from ..widgets.chat_backend import default_backend

            self.chat_backend = default_backend(self.profile)
        return self.chat_backend

    # ---------------------------------------------------------------- cheap status reads
    def check_llm(self) -> LlmHealth:
        if self.llm_check is not None:
            return self.llm_check(self.profile)
        return llm_health(self.profile, self.settings.llm_timeout)

    def local_status(self) -> dict[str, Any]:
        """Everything the status bar shows except the LLM check: files only, a few ms."""
        from metahuman_core.active_model import active_model

        try:
            model = active_model(self.profile)["model"]
        except Exception:  # noqa: BLE001
            model = "?"
        return {
            "model": model,
            "trust": self.profile.persona.trust_level(),
            "pending": count_pending_approvals(self.profile.home.approval_queue),
            "training": latest_run(self.profile),
        }


# -------------------------------------------------------------------- training runs

def latest_run(profile) -> RunStatus | None:
    """The newest run's status from the core (date then run number; a dead trainer is "lost")."""
    from metahuman_core.training.runs import latest_run_status

    try:
        return latest_run_status(profile)
    except MHError:
        return None


def run_dirs(runs_root: Path) -> list[Path]:
    """metahuman-runs/<DATE>[-n]/ folders, newest first, in the core's order (…-10 after …-9).
    Kept for the training pane; new code should use metahuman_core.training.runs directly."""
    from metahuman_core.training.runs import LABEL_RE, label_key

    if not runs_root.is_dir():
        return []
    found = [p for p in runs_root.iterdir() if p.is_dir() and LABEL_RE.match(p.name)]
    return sorted(found, key=lambda p: label_key(p.name), reverse=True)
