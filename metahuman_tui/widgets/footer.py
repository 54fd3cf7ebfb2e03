"""The footer every screen shows: its keys, with F1 help pinned to the right edge.

Why: Textual's footer lists keys left to right and cuts what does not fit, so at 60 columns the
chat's keys pushed "f1 Help" (the way to every other key) off screen. Modals get their own
footer too: the pane's footer behind a dialog listed keys that did nothing there.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class PaneFooter(Footer):
    DEFAULT_CSS = """
    PaneFooter FooterKey.-help { dock: right; }
    """

    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.action == "help":
                widget.add_class("-help")
            yield widget
