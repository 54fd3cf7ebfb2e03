"""A one-line text box that never selects its text when focused.

Why: Textual's Input selects everything on focus (`select_on_focus`), so after Tab, a modal
closing or `e` on a task, the next key replaced the whole title, tags or query with no undo.
Every text box in the app is this one; the cursor goes to the end of what is there.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Input


class TextInput(Input):
    def __init__(self, value: str | None = None, *args: Any, **kwargs: Any) -> None:
        kwargs["select_on_focus"] = False
        super().__init__(value, *args, **kwargs)
