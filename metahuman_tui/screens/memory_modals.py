"""Memory modals: the detail view of one memory, and capturing a new one.

Why separate: the browser screen stays about searching and listing; these two own their forms.
"""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from ..widgets.footer import PaneFooter
from ..widgets.text_input import TextInput

SHOWN = ("id", "timestamp", "type", "tags", "entities", "importance", "source")


def detail_text(rec: dict[str, Any]) -> str:
    head = []
    for key in SHOWN:
        value = rec.get(key)
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        head.append(f"{key:>10}: {value}")
    body = str(rec.get("content", ""))
    if rec.get("response"):
        body += "\n\n— response —\n" + str(rec["response"])
    extra = {k: v for k, v in rec.items() if k not in SHOWN + ("content", "response", "path")}
    tail = "\n\n" + json.dumps(extra, ensure_ascii=False, indent=1) if extra else ""
    return "\n".join(head) + "\n\n" + body + tail


class MemoryDetailScreen(ModalScreen["str | None"]):
    """One memory in full. Dismisses with "tags" when the person wants to edit tags."""

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="memory.detail.close"),
        Binding("t", "tags", "Edit tags", id="memory.detail.tags"),
        Binding("y", "copy", "Copy", id="memory.detail.copy"),
    ]

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(classes="modal")
        self.record = record

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide"):
            yield Label(f"Memory {self.record.get('id', '?')}", classes="dialog-title")
            with VerticalScroll(id="memory-detail-body"):
                yield Static(detail_text(self.record), markup=False)
            yield Label("t edit tags · y copy · Esc close", classes="dialog-hint")
        yield PaneFooter()

    def on_mount(self) -> None:
        self.query_one("#memory-detail-body").focus()

    def action_copy(self) -> None:
        self.app.copy_text(str(self.record.get("content", "")), "the memory")  # type: ignore[attr-defined]

    def action_tags(self) -> None:
        self.dismiss("tags")

    def action_close(self) -> None:
        self.dismiss(None)


class CaptureScreen(ModalScreen["dict | None"]):
    """New memory: text, type, tags. Ctrl+S saves, Esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="memory.capture.cancel"),
        Binding("ctrl+s", "save", "Save", id="memory.capture.save"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide"):
            yield Label("Capture a memory", classes="dialog-title")
            area = TextArea(id="capture-text", soft_wrap=True)
            area.cursor_blink = False
            yield area
            with Horizontal(classes="form-row form-labels"):
                yield Label("type (observation, journal, …)")
                yield Label("tags")
            with Horizontal(classes="form-row -tight"):
                yield TextInput("observation", placeholder="type", id="capture-type", compact=True)
                yield TextInput(placeholder="tags, comma separated", id="capture-tags", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)
        yield PaneFooter()

    def on_mount(self) -> None:
        self.query_one("#capture-text").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_save() if event.button.id == "save" else self.action_cancel()

    def action_save(self) -> None:
        text = self.query_one("#capture-text", TextArea).text.strip()
        if not text:
            self.notify("Write something to remember first.", severity="warning")
            return
        kind = self.query_one("#capture-type", Input).value.strip() or "observation"
        tags = split_tags(self.query_one("#capture-tags", Input).value)
        self.dismiss({"content": text, "type": kind, "tags": tags})

    def action_cancel(self) -> None:
        self.dismiss(None)


def split_tags(text: str) -> list[str]:
    return [t.strip().lstrip("#") for t in text.replace(";", ",").split(",") if t.strip()]
