"""Training stages INIT→COMPLETE with their state (pending/running/done/skipped/failed).

Why: the trainer only writes progress lines; this turns them into the checklist a person reads
at a glance. `stage_states` is pure (tested without a UI); `StageList` draws it.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from metahuman_core.training.runs import STAGES

MARK = {"pending": ("·", "dim"), "running": ("●", "bold yellow"), "done": ("✓", "green"),
        "skipped": ("–", "dim"), "failed": ("✗", "bold red")}


def stage_states(lines: list[dict[str, Any]]) -> dict[str, str]:
    states = {s: "pending" for s in STAGES}
    if not lines:
        return states
    reached = {str(line.get("stage")) for line in lines}
    last = lines[-1]
    current = str(last.get("stage"))
    if current not in STAGES:
        return states
    pos = STAGES.index(current)
    for i, stage in enumerate(STAGES):
        if i < pos:
            states[stage] = "done" if stage in reached else "skipped"
    status = str(last.get("status") or "running")
    states[current] = {"failed": "failed", "done": "done"}.get(status, "running")
    if current == "COMPLETE" and status != "failed":
        states[current] = "done"
    return states


class StageList(Widget):
    DEFAULT_CSS = "StageList { width: 24; height: auto; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.states = stage_states([])
        self.current_pct: float | None = None

    def set_lines(self, lines: list[dict[str, Any]]) -> None:
        self.states = stage_states(lines)
        last = lines[-1] if lines else {}
        self.current_pct = last.get("pct") if isinstance(last.get("pct"), (int, float)) else None
        self.refresh(layout=True)

    def get_content_height(self, container, viewport, width) -> int:
        return len(STAGES)

    def render(self) -> RenderResult:
        text = Text(no_wrap=True)
        for i, stage in enumerate(STAGES):
            state = self.states[stage]
            mark, style = MARK[state]
            text.append(f" {mark} ", style)
            text.append(stage, "bold" if state == "running" else ("dim" if state == "pending" else ""))
            if state == "running" and self.current_pct is not None:
                text.append(f" {self.current_pct:.0f}%", "yellow")
            if i < len(STAGES) - 1:
                text.append("\n")
        return text
