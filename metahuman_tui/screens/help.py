"""F1: every binding (current key, id to remap it, what it does), scoped by pane.

Why: keys are remappable, so help must show the keys in force, and the ids a person writes in
etc/tui.json. Built from the same registry the app uses to validate the keymap.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from ..widgets.line_list import KeyedDataTable

INTRO = (
    "Panes: F2-F7 (or Alt+1..6), Ctrl+P the command palette, Ctrl+Q quit. "
    "Copy (y) uses OSC 52 — if your terminal ignores it, F9 shows the text to select by hand "
    "(shift+drag in most terminals). Remap keys in etc/tui.json: "
    '{"keys": {"<id>": "<key>"}}.'
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide", id="help-dialog"):
            yield Label("Keys", classes="dialog-title")
            yield Static(INTRO, classes="dialog-body")
            table: DataTable = KeyedDataTable(cursor_type="row", zebra_stripes=True,
                                              id="help-table")
            table.add_columns("Key", "Where", "Does", "Id (etc/tui.json)")
            app = self.app
            for row in app.key_rows():  # type: ignore[attr-defined]
                table.add_row(app.key_for(row.id, row.key), row.scope,  # type: ignore[attr-defined]
                              row.description, row.id)
            yield table

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def action_close(self) -> None:
        self.dismiss(None)
