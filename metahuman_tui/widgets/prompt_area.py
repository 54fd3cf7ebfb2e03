"""The chat prompt: a multi-line text box that grows with its text. Enter sends; Shift+Enter or
Ctrl+J starts a new line; a paste keeps every line.

Why not `Input`: a one-line Input keeps only the first line of a bracketed paste (silently), and
selects its whole value when focus comes back (`select_on_focus`), so the next key replaced a
long draft. A TextArea does neither. A few of TextArea's own keys are left to the app: F6/F7
switch panes, Ctrl+Y copies the last reply, PgUp/PgDn scroll the transcript.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

# TextArea keys the chat pane uses for something else (the app's keys must win in the prompt)
_GIVEN_UP = {"f6", "f7", "ctrl+y", "pageup", "pagedown"}
NEWLINE_KEYS = ("shift+enter", "ctrl+j")


def _kept_bindings() -> list[Binding]:
    kept = []
    for binding in TextArea.BINDINGS:
        assert isinstance(binding, Binding)
        keys = [k for k in binding.key.split(",") if k.strip() not in _GIVEN_UP]
        if keys:
            kept.append(Binding(",".join(keys), binding.action, binding.description,
                                show=False))
    return kept


class PromptArea(TextArea, inherit_bindings=False):
    BINDINGS = _kept_bindings()

    class Submitted(Message):
        """Enter was pressed: `value` is the whole text (the box is not cleared here)."""

        def __init__(self, prompt_area: "PromptArea", value: str) -> None:
            super().__init__()
            self.prompt_area = prompt_area
            self.value = value

        @property
        def control(self) -> "PromptArea":
            return self.prompt_area

    def __init__(self, *, placeholder: str = "", id: str | None = None) -> None:
        super().__init__("", soft_wrap=True, tab_behavior="focus", compact=True,
                         highlight_cursor_line=False, placeholder=placeholder, id=id)

    @property
    def value(self) -> str:
        return self.text

    @value.setter
    def value(self, text: str) -> None:
        """Replace the text and put the cursor at its end (as a person would continue)."""
        self.load_text(text)
        self.move_cursor(self.document.end)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self, self.text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)
