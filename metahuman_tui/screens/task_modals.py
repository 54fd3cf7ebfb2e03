"""The task form (create and edit) as a modal. Validation is the core's; errors are shown.

The fields the core can check on their own (priority, due date) are checked before the form
closes, so a typo keeps the form open with everything typed, instead of losing the edit.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from metahuman_core.errors import MHError
from metahuman_core.tasks import PRIORITIES, check_due, check_priority

from ..widgets.footer import PaneFooter
from ..widgets.text_input import TextInput
from .memory_modals import split_tags

__all__ = ["PRIORITIES", "TaskFormScreen"]


class TaskFormScreen(ModalScreen["dict | None"]):
    """Title, description, priority, due date, tags. Enter/Ctrl+S saves, Esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="tasks.form.cancel"),
        Binding("ctrl+s", "save", "Save", id="tasks.form.save"),
    ]

    def __init__(self, task: dict[str, Any] | None = None) -> None:
        super().__init__(classes="modal")
        self.task_data = task or {}

    def compose(self) -> ComposeResult:
        t = self.task_data
        with Vertical(classes="dialog -wide"):
            yield Label(f"Edit {t['id']}" if t.get("id") else "New task", classes="dialog-title")
            yield TextInput(str(t.get("title", "")), placeholder="title", id="task-title")
            yield TextInput(str(t.get("description") or ""), placeholder="description",
                        id="task-description")
            with Horizontal(classes="form-row form-labels"):
                yield Label("priority (P0 urgent…P3)")
                yield Label("due (YYYY-MM-DD)")
                yield Label("tags")
            with Horizontal(classes="form-row -tight"):
                yield TextInput(str(t.get("priority") or "P2"), placeholder="P0..P3",
                            id="task-priority", compact=True)
                yield TextInput(str(t.get("due") or ""), placeholder="due YYYY-MM-DD",
                            id="task-due", compact=True)
                yield TextInput(", ".join(t.get("tags") or []), placeholder="tags, comma separated",
                            id="task-tags", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)
        yield PaneFooter()

    def on_mount(self) -> None:
        self.query_one("#task-title").focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_save() if event.button.id == "save" else self.action_cancel()

    def action_save(self) -> None:
        value = lambda wid: self.query_one(f"#{wid}", Input).value.strip()  # noqa: E731
        title = value("task-title")
        if not title:
            self.notify("A task needs a title.", severity="warning")
            return
        try:
            priority = check_priority(value("task-priority") or "P2")
            due = check_due(value("task-due") or None)
        except MHError as exc:
            self.notify(str(exc), title="Not saved yet", severity="warning")
            return
        self.dismiss({"title": title, "description": value("task-description"),
                      "priority": priority, "due": due,
                      "tags": split_tags(value("task-tags"))})

    def action_cancel(self) -> None:
        self.dismiss(None)
