"""Small reusable modal screens: confirm, ask for a line of text, pick one option, show text.

Why: every risky action (YOLO on, approve, reject, activate an adapter) goes through the same
confirm; the text view is the copy fallback when a terminal ignores OSC 52.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from ..widgets.footer import PaneFooter
from ..widgets.line_list import KeyedOptionList
from ..widgets.text_input import TextInput


class ConfirmScreen(ModalScreen[bool]):
    """Yes/No. `y`/Enter on Yes, `n`/Esc cancels."""

    BINDINGS = [
        Binding("escape,n", "answer(False)", "No", id="modal.no"),
        Binding("y", "answer(True)", "Yes", id="modal.yes"),
    ]

    def __init__(self, title: str, body: str = "", yes: str = "Yes", danger: bool = False,
                 *, scroll: bool = False, default_no: bool | None = None):
        super().__init__(classes="modal")
        self.title_text, self.body, self.yes, self.danger = title, body, yes, danger
        self.scroll = scroll                     # a long body (full approval args) scrolls
        self.default_no = danger if default_no is None else default_no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog" + (" -danger" if self.danger else "")
                      + (" -wide -scroll" if self.scroll else "")):
            yield Label(self.title_text, classes="dialog-title")
            if self.body and self.scroll:
                with VerticalScroll(classes="dialog-scroll"):
                    yield Static(self.body, markup=False)
            elif self.body:
                yield Static(self.body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error" if self.danger else "primary")
                yield Button("Cancel (n)", id="no")
        yield PaneFooter()

    def on_mount(self) -> None:
        self.query_one("#no" if self.default_no else "#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class PromptScreen(ModalScreen["str | None"]):
    """One line of text (a rejection reason, tags, a title). Esc cancels. A given value opens
    with the cursor at its end, not selected: typing ", seeds" into "garden" adds a tag
    instead of silently replacing the old ones."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def __init__(self, title: str, *, value: str = "", placeholder: str = "",
                 required: bool = False):
        super().__init__(classes="modal")
        self.title_text, self.value, self.placeholder, self.required = (
            title, value, placeholder, required)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield TextInput(self.value, placeholder=self.placeholder, id="prompt-input")
            yield Label("Enter to accept, Esc to cancel", classes="dialog-hint")
        yield PaneFooter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if self.required and not text:
            self.notify("A value is required.", severity="warning")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen["str | None"]):
    """Pick one of `options` [(value, label)]. Enter picks, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def __init__(self, title: str, options: list[tuple[str, str]], current: str | None = None):
        super().__init__(classes="modal")
        self.title_text, self.options, self.current = title, options, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield KeyedOptionList(*[Option(label, id=value) for value, label in self.options],
                                  id="choices")
            yield Label("Enter picks · Esc cancels", classes="dialog-hint")
        yield PaneFooter()

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        for i, (value, _label) in enumerate(self.options):
            if value == self.current:
                choices.highlighted = i
        choices.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextViewScreen(ModalScreen[None]):
    """Read-only text you can select with the mouse or keyboard (the copy fallback)."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="modal.close"),
                Binding("y", "copy", "Copy again", id="modal.copy")]

    def __init__(self, title: str, text: str):
        super().__init__(classes="modal")
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide"):
            yield Label(self.title_text, classes="dialog-title")
            area = TextArea(self.text, read_only=True, soft_wrap=True, id="text-view")
            area.cursor_blink = False
            yield area
            yield Label("Select with shift+arrows or the mouse · y copies again · Esc closes",
                        classes="dialog-hint")
        yield PaneFooter()

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.notify("Copied again (OSC 52).")

    def action_close(self) -> None:
        self.dismiss(None)
