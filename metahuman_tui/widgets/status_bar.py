"""The two chrome lines every pane shows: pane tabs (top) and the status bar (bottom).

Why: the person must always see which pane is open and the state that matters for safety
(LLM up/down and model, trust, YOLO, pending approvals, training). Both widgets only read the
app's reactives (`status`, `yolo`, `keys_for`), so they stay in step on every screen.
"""

from __future__ import annotations

from dataclasses import dataclass

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
class StatusInfo:
    llm_up: bool | None = None
    llm_detail: str = ""
    model: str = "…"
    trust: str = "…"
    pending: int = 0
    training: str | None = None


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
        if info.llm_up is None:
            text.append(" LLM … ", "dim")
        elif info.llm_up:
            text.append(" LLM ● ", "bold green")
        else:
            text.append(" LLM ○ down ", "bold red")
        text.append(info.model, "bold")
        text.append(" │ trust ", "dim")
        text.append(info.trust, trust_style(info.trust))
        if yolo:
            text.append(" │ ")
            text.append(" YOLO ", "bold white on red")
        text.append(" │ ", "dim")
        if info.pending:
            text.append(f"⚑ {info.pending} pending", "bold yellow")
        else:
            text.append("0 pending", "dim")
        text.append(" │ train ", "dim")
        text.append(info.training or "idle", "bold" if info.training else "dim")
        return text
