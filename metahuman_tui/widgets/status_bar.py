"""The two chrome lines every pane shows: pane tabs (top) and the status bar (bottom).

Why: the person must always see which pane is open and the state that matters for safety
(LLM ready/down/model missing and the model, trust, YOLO, pending approvals, training, a dead
trainer included). Click the status bar for the details in words. Both widgets only read the
app's reactives (`status`, `yolo`, `keys_for`), so they stay in step on every screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import RenderResult
from textual.events import Click
from textual.widget import Widget

PANES = (("chat", "Chat"), ("memory", "Memory"), ("tasks", "Tasks"),
         ("approvals", "Approvals"), ("audit", "Audit"), ("training", "Training"))
FULL = dict(PANES)
SHORT = {"chat": "Chat", "memory": "Mem", "tasks": "Tasks", "approvals": "Appr",
         "audit": "Audit", "training": "Train"}


@dataclass(frozen=True)
class TrainingState:
    """The newest run as the status bar shows it, from the core's RunStatus."""
    key: str          # the run label
    text: str         # short, for the bar
    dead: bool        # recorded as running, but its trainer is gone
    failed: bool
    detail: str       # a sentence with what to do (toast, click on the bar)


def training_state(run: Any) -> TrainingState | None:
    """metahuman_core.training.runs.RunStatus (or None) -> what the bar says."""
    if run is None or not run.stage:
        return None
    where = run.stage
    if isinstance(run.pct, (int, float)) and run.stage != "COMPLETE":
        where += f" {int(run.pct)}%"
    if run.status == "lost":
        return TrainingState(run.run, f"✗ trainer died at {where} (F7)", True, True,
                             f"Run {run.run} stopped at {where}: its trainer is no longer running "
                             "(killed, crashed or the machine restarted). F7 shows its log; start "
                             "a new run there (s) or with `mh train local`.")
    if run.status in ("failed", "corrupt"):
        why = f": {run.error}" if run.error else ""
        return TrainingState(run.run, f"✗ {run.stage} {run.status}", False, True,
                             f"Run {run.run} {run.status} at {where}{why}. F7 shows its log.")
    return TrainingState(run.run, run.stage_text() or where, False, False,
                         f"Run {run.run}: {where}" + (f" · {run.message}" if run.message else ""))


@dataclass(frozen=True)
class StatusInfo:
    llm: str = "unknown"          # unknown | ok | down | no_model (the core's llm.health)
    llm_detail: str = ""          # its message and hint
    model: str = "…"
    trust: str = "…"
    pending: int | None = None    # None until the first count: "… pending", never a false 0
    training: TrainingState | None = None


def trust_style(level: str) -> str:
    """Above the default (supervised_auto) the level stands out: skills run without asking."""
    from metahuman_core.identity import DEFAULT_TRUST, TRUST_LEVELS, trust_rank

    if level in TRUST_LEVELS and trust_rank(level) > trust_rank(DEFAULT_TRUST):
        return "bold black on yellow"
    return ""


class PaneTabs(Widget):
    """`F2 Chat  F3 Memory …` with the current pane highlighted; click to switch."""

    DEFAULT_CSS = """
    PaneTabs { height: 1; background: $panel; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self.watch(self.app, "keymap_version", lambda _: self.refresh(), init=False)

    def render(self) -> RenderResult:
        """Full labels when they fit; short ones below ~70 columns, then only the current
        pane's label, so every pane's key stays visible in a narrow terminal."""
        width = self.size.width or 80
        for labels in (FULL, SHORT, None):
            text, spans = self._tabs(labels)
            if len(text) <= width:
                break
        self._spans = spans
        return text

    def _tabs(self, labels: dict[str, str] | None) -> tuple[Text, list[tuple[int, int, str]]]:
        text = Text(no_wrap=True, overflow="crop")
        spans = []
        for mode, label in PANES:
            key = self.app.key_for(f"pane_{mode}", first=True)  # type: ignore[attr-defined]
            start = len(text)
            if mode == self.current:
                text.append(f" {key} ", "bold reverse")
                text.append(f"{(labels or FULL)[mode]} ", "bold reverse")
            else:
                text.append(f" {key} ", "dim")
                if labels is not None:
                    text.append(labels[mode])
                    text.append(" ")
            spans.append((start, len(text), mode))
        return text, spans

    def on_click(self, event: Click) -> None:
        for start, end, mode in self._spans:
            if start <= event.x < end:
                self.app.action_pane(mode)  # type: ignore[attr-defined]
                return


LLM_MARK = {"unknown": (" LLM … ", "dim"), "ok": (" LLM ● ", "bold green"),
            "down": (" LLM ○ down ", "bold red"), "no_model": (" LLM ◐ no model ", "bold red")}


class StatusBar(Widget):
    """LLM ● model │ trust │ YOLO │ approvals │ training."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "status", lambda _: self.refresh(), init=False)
        self.watch(self.app, "yolo", lambda _: self.refresh(), init=False)

    def render(self) -> RenderResult:
        info: StatusInfo = self.app.status  # type: ignore[attr-defined]
        yolo: bool = self.app.yolo  # type: ignore[attr-defined]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(*LLM_MARK.get(info.llm, LLM_MARK["unknown"]))
        text.append(info.model, "bold")
        text.append(" │ trust ", "dim")
        text.append(info.trust, trust_style(info.trust))
        if yolo:
            text.append(" │ ")
            text.append(" YOLO ", "bold white on red")
        text.append(" │ ", "dim")
        if info.pending is None:
            text.append("… pending", "dim")
        elif info.pending:
            text.append(f"⚑ {info.pending} pending", "bold yellow")
        else:
            text.append("0 pending", "dim")
        text.append(" │ train ", "dim")
        run = info.training
        if run is None:
            text.append("idle", "dim")
        else:
            text.append(run.text, "bold red" if run.failed else "bold")
        return text

    def on_click(self, event: Click) -> None:
        self.app.action_status_details()  # type: ignore[attr-defined]
