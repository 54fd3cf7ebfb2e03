"""Training pane: the stages of a run, progress and loss, the log tail, start a run, adapters.

Why this shape: training runs outside this process (the core starts it detached), so the pane
only reads metahuman-runs/<DATE>/progress.ndjson — quitting the TUI or losing SSH never stops
a run. The file is read incrementally from a remembered offset on a one-second timer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Log, ProgressBar, Static

from ..widgets.stage_list import StageList
from .base import PaneScreen
from .modals import ConfirmScreen
from .services import Unavailable, run_dirs
from .training_adapters import AdaptersScreen
from .training_eval import eval_text, load_eval


class RunStarted(Message):
    def __init__(self, text: str, ok: bool) -> None:
        super().__init__()
        self.text, self.ok = text, ok


class TrainingScreen(PaneScreen):
    PANE = "training"
    BINDINGS = [  # noqa: RUF012 - Textual reads the class attribute
        Binding("left_square_bracket", "run(1)", "Older run", id="training.older"),
        Binding("right_square_bracket", "run(-1)", "Newer run", id="training.newer"),
        Binding("s", "start", "Start local run", id="training.start"),
        Binding("x", "stop", "Stop run", id="training.stop"),
        Binding("a", "adapters", "Adapters", id="training.adapters"),
        Binding("ctrl+r", "reload", "Reload", id="training.reload", show=False),
    ]
    EXTRA_KEY_SCOPES = (AdaptersScreen,)

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Path] = []
        self.run_index = 0
        self.lines: list[dict[str, Any]] = []
        self._offset = 0
        self._partial = b""

    def compose_pane(self) -> ComposeResult:
        yield Static("", id="training-info", classes="info-line")
        with Horizontal(id="training-main"):
            yield StageList(id="stages")
            with Vertical(id="training-right"):
                yield ProgressBar(total=100, show_eta=False, id="training-progress")
                yield Static("", id="training-stats", markup=False)
                yield Static("", id="training-summary", markup=False)
                yield Static("", id="training-eval", markup=False)
        log = Log(max_lines=2000, id="training-log", auto_scroll=True)
        yield log

    def on_mount(self) -> None:
        self.action_reload()
        self.every(self.settings.training_interval, self.poll)

    # ------------------------------------------------------------------ runs
    @property
    def run(self) -> Path | None:
        return self.runs[self.run_index] if 0 <= self.run_index < len(self.runs) else None

    def action_reload(self) -> None:
        current = self.run
        self.runs = run_dirs(self.profile.home.runs)
        self.run_index = self.runs.index(current) if current in self.runs else 0
        self.open_run()

    def action_run(self, delta: int) -> None:
        if not self.runs:
            return
        self.run_index = max(0, min(len(self.runs) - 1, self.run_index + delta))
        self.open_run()

    def open_run(self) -> None:
        self.lines, self._offset, self._partial = [], 0, b""
        self.query_one(Log).clear()
        self.read_progress()
        self.show()

    # ------------------------------------------------------------------ progress file
    def read_progress(self) -> bool:
        """Read lines appended since the last call; True when something new arrived."""
        run = self.run
        if run is None:
            return False
        path = run / "progress.ndjson"
        try:
            with path.open("rb") as fh:
                fh.seek(0, 2)
                size = fh.tell()
                if size < self._offset:       # rewritten: start over
                    self.lines, self._offset, self._partial = [], 0, b""
                    self.query_one(Log).clear()
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            return False
        if not data:
            return False
        self._offset += len(data)
        data = self._partial + data
        complete, _, self._partial = data.rpartition(b"\n")
        log = self.query_one(Log)
        new = []
        for raw in complete.splitlines():
            try:
                item = json.loads(raw)
            except ValueError:
                continue
            if isinstance(item, dict) and "stage" in item:
                new.append(item)
                log.write_line(self._log_line(item))
        self.lines += new
        return bool(new)

    @staticmethod
    def _log_line(item: dict[str, Any]) -> str:
        ts = str(item.get("ts", ""))[11:19]
        extra = ""
        if item.get("step") is not None:
            extra += f" step {item['step']}"
        if item.get("loss") is not None:
            extra += f" loss {item['loss']:.4f}"
        return f"{ts} {item.get('stage', '?'):<14}{extra} {item.get('message', '')}".rstrip()

    def poll(self) -> None:
        runs = run_dirs(self.profile.home.runs)
        if runs != self.runs:
            following_newest = self.run_index == 0
            current = self.run
            self.runs = runs
            if following_newest or current not in runs:
                self.run_index = 0
                self.open_run()
                return
            self.run_index = runs.index(current)
        if self.read_progress():
            self.show()

    # ------------------------------------------------------------------ drawing
    def _summary(self) -> dict[str, Any]:
        run = self.run
        try:
            data = json.loads((run / "run-summary.json").read_text()) if run else {}
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def show(self) -> None:
        info = self.query_one("#training-info", Static)
        stats = self.query_one("#training-stats", Static)
        summary_box = self.query_one("#training-summary", Static)
        bar = self.query_one(ProgressBar)
        self.query_one(StageList).set_lines(self.lines)
        if self.run is None:
            info.update("No training runs yet · s starts a local run · a adapters")
            stats.update("")
            summary_box.update("Runs appear in metahuman-runs/<DATE>/ (mh train local).")
            bar.update(progress=0)
            return
        info.update(f"Run {self.run.name} ({self.run_index + 1}/{len(self.runs)}) · "
                    "[ ] other runs · s start · x stop · a adapters")
        last = self.lines[-1] if self.lines else {}
        bar.update(progress=float(last.get("pct") or 0))
        losses = [x["loss"] for x in self.lines if isinstance(x.get("loss"), (int, float))]
        parts = [f"status {last.get('status', 'waiting')}", f"stage {last.get('stage', '-')}"]
        if last.get("step") is not None:
            parts.append(f"step {last['step']}")
        if losses:
            parts.append(f"loss {losses[-1]:.4f} (first {losses[0]:.4f}, best {min(losses):.4f})")
        if last.get("ts"):
            parts.append(f"at {str(last['ts'])[:19].replace('T', ' ')}")
        stats.update(" · ".join(parts))
        summary = self._summary()
        if summary:
            keys = ("status", "base_model", "model", "gguf", "duration_seconds", "error")
            text = "summary: " + ", ".join(f"{k}={summary[k]}" for k in keys
                                           if summary.get(k) is not None)
            recipe = summary.get("recipe")
            if isinstance(recipe, dict) and isinstance(recipe.get("values"), dict):
                v = recipe["values"]
                text += (f"\nrecipe: batch {v.get('per_device_train_batch_size')} × "
                         f"{v.get('gradient_accumulation_steps')}, {v.get('total_steps')} steps, "
                         f"lr {v.get('learning_rate')}")
            summary_box.update(text)
        else:
            summary_box.update(str(last.get("message", "")))
        evaluation = self.query_one("#training-eval", Static)
        text = eval_text(load_eval(self.profile.home.adapters, self.run, summary)) \
            if self.run else ""
        evaluation.display = bool(text)
        evaluation.update(text)

    # ------------------------------------------------------------------ actions
    def action_start(self) -> None:
        try:
            base = self.profile.config.get("training").base_model
        except Exception as exc:  # noqa: BLE001
            self.notify(f"etc/training.json: {exc}", severity="error")
            return
        body = (f"Base model {base}. The run starts in the background and writes "
                "metahuman-runs/<DATE>/; quitting the TUI does not stop it.")
        self.app.push_screen(ConfirmScreen("Start a local training run?", body, yes="Start"),
                             lambda yes: self.start_run() if yes else None)

    @work(thread=True, group="training-start-run", exit_on_error=False)
    def start_run(self) -> None:
        try:
            run = self.services.training("local.start_local")(self.profile, actor="tui")
        except Unavailable as exc:
            self.post_message(RunStarted(str(exc), False))
            return
        except Exception as exc:  # noqa: BLE001 - a closed gate says what to do
            hint = getattr(exc, "hint", None)
            self.post_message(RunStarted(f"not started: {exc}" + (f" ({hint})" if hint and hint
                                                                  not in str(exc) else ""), False))
            return
        self.post_message(RunStarted(f"training started: {getattr(run, 'label', run)} "
                                     "(runs in the background)", True))

    def action_stop(self) -> None:
        run = self.run
        if run is None:
            return
        self.app.push_screen(
            ConfirmScreen(f"Stop training run {run.name}?", "The trainer is stopped and the run "
                          "is recorded as cancelled. Audited.", yes="Stop run", danger=True),
            lambda yes: self.stop_run(run.name) if yes else None)

    @work(thread=True, group="training-start-run", exit_on_error=False)
    def stop_run(self, label: str) -> None:
        try:
            pid = self.services.training("local.stop_run")(self.profile, label, actor="tui")
        except Exception as exc:  # noqa: BLE001
            self.post_message(RunStarted(f"not stopped: {exc}", False))
            return
        self.post_message(RunStarted(f"stopping run {label} (pid {pid})", True))

    def on_run_started(self, message: RunStarted) -> None:
        self.notify(message.text, severity="information" if message.ok else "error",
                    timeout=8)
        if message.ok:
            self.run_index = 0
            self.action_reload()

    def action_adapters(self) -> None:
        self.app.push_screen(AdaptersScreen())
