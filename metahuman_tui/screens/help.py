"""F1: every binding (current key, id to remap it, what it does), the current pane's first,
filtered by typing after `/`.

Why: keys are remappable, so help must show the keys in force, and the ids a person writes in
etc/tui.json. Built from the same registry the app uses to validate the keymap.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from ..widgets.footer import PaneFooter
from ..widgets.line_list import KeyedDataTable
from ..widgets.text_input import TextInput

INTRO = (
    "Panes: F2-F7 (or Alt+1..6), Ctrl+P the command palette, Ctrl+Q quit, / filters this list. "
    "Chat prompt: Enter sends, Shift+Enter or Ctrl+J adds a line, a paste keeps every line. "
    "Copy (y) uses OSC 52 — if your terminal ignores it, F9 shows the text to select by hand "
    "(shift+drag in most terminals). Remap keys in etc/tui.json: "
    '{"keys": {"<id>": "<key>"}}.'
)


class HelpScreen(ModalScreen[None]):
    """Every key; the current pane's first. `/` filters (key, place, action or id)."""

    BINDINGS = [Binding("escape,f1,q", "close", "Close", id="help.close"),
                Binding("slash", "focus_filter", "Filter", id="help.filter")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide", id="help-dialog"):
            yield Label("Keys", classes="dialog-title")
            yield Static(INTRO, classes="dialog-body")
            yield TextInput(placeholder="/ filter: a key, a pane, an action or an id",
                            id="help-filter", compact=True)
            table: DataTable = KeyedDataTable(cursor_type="row", zebra_stripes=True,
                                              id="help-table")
            table.add_columns("Key", "Where", "Does", "Id (etc/tui.json)")
            yield table
        yield PaneFooter()

    def on_mount(self) -> None:
        app = self.app
        pane = getattr(app, "current_mode", "")
        order = {pane: 0, "global": 1, "lists": 2}
        rows = app.key_rows()  # type: ignore[attr-defined]
        rows = sorted(rows, key=lambda r: order.get(r.scope, 3))   # stable: declaration order
        self.rows = [(app.key_for(r.id, r.key), r.scope, r.description, r.id)  # type: ignore[attr-defined]
                     for r in rows]
        self._fill("")
        self.query_one(DataTable).focus()

    def _fill(self, text: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        words = text.lower().split()
        for row in self.rows:
            hay = " ".join(row).lower()
            if all(w in hay for w in words):
                table.add_row(*row)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#help-filter").focus()

    def action_close(self) -> None:
        self.dismiss(None)
