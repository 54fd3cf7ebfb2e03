"""Adapters modal: trained adapters, which one is active, activate / deactivate (confirmed).

Why: activation changes which model answers every chat, so it always asks first. The work is
the core's (training module): this screen only lists and calls it, in a thread worker.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from .modals import ConfirmScreen
from .services import Services


def list_adapters(services: Services) -> list[dict[str, Any]]:
    """Every dataset/adapter the core knows, newest first, with its gate status."""
    return list(services.training("gates.list_datasets")(services.profile))


class AdaptersChanged(Message):
    def __init__(self, text: str, ok: bool) -> None:
        super().__init__()
        self.text, self.ok = text, ok


class AdaptersScreen(ModalScreen[None]):
    BINDINGS = [  # noqa: RUF012 - Textual reads the class attribute
        Binding("escape,q", "close", "Close", id="training.adapters.close"),
        Binding("enter", "activate", "Activate", id="training.adapters.activate", priority=True),
        Binding("x", "deactivate", "Deactivate", id="training.adapters.deactivate"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="modal")
        self.items: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide"):
            yield Label("Adapters", classes="dialog-title")
            table: DataTable = DataTable(cursor_type="row", id="adapters-table")
            table.add_columns("Dataset", "Status", "Pairs", "Eval", "Active")
            yield table
            yield Static("", id="adapters-info", markup=False)
            yield Label("Enter activate · x deactivate (back to the base model) · Esc close",
                        classes="dialog-hint")

    def on_mount(self) -> None:
        self.reload()
        self.query_one(DataTable).focus()

    @property
    def services(self) -> Services:
        return self.app.services  # type: ignore[attr-defined]

    def reload(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        try:
            self.items = list_adapters(self.services)
        except Exception as exc:  # noqa: BLE001
            self.query_one("#adapters-info", Static).update(f"⚠ {exc}")
            return
        for item in self.items:
            ev = item.get("eval") or {}
            verdict = ("passed" if item.get("evalPassed") else "unclear") if ev else "-"
            if ev and isinstance(ev.get("llr_gain"), (int, float)):
                verdict += f" {ev['llr_gain']:+.1f}"
            table.add_row(str(item["date"]), str(item.get("status") or ""),
                          str(item.get("pairs") or "-"), verdict, "● active" if item.get("active")
                          else "", key=str(item["date"]))
        self.query_one("#adapters-info", Static).update(
            f"{len(self.items)} dataset(s); only an evaluated adapter can be activated"
            if self.items else "No datasets yet: mh adapter build, then train (s).")

    def _current(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.items:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_activate(self) -> None:
        name = self._current()
        if not name:
            return
        item = next((i for i in self.items if str(i.get("date")) == name), {})
        if item.get("evalPassed"):
            self.app.push_screen(
                ConfirmScreen(f"Activate adapter {name}?", "Chat and the operator will answer "
                              "with it from the next message. Audited.", yes="Activate"),
                lambda yes: self.run_call("activate.activate", name) if yes else None)
            return
        # not clearly better than the base model (or not evaluated): refused unless insisted on
        ev = item.get("eval") or {}
        why = ev.get("verdict") or "; ".join(ev.get("reasons") or []) or "it was not evaluated"
        self.app.push_screen(
            ConfirmScreen(f"Adapter {name} is not clearly better than the base model",
                          f"{why}\n\nActivate it anyway? This is recorded in the audit log as a "
                          "forced activation.", yes="Activate anyway", danger=True),
            lambda yes: self.run_call("activate.activate", name, force=True) if yes else None)

    def action_deactivate(self) -> None:
        self.app.push_screen(
            ConfirmScreen("Deactivate the adapter?", "Answers come from the base model again "
                          "from the next message. Audited.", yes="Deactivate"),
            lambda yes: self.run_call("activate.deactivate") if yes else None)

    @work(thread=True, group="adapters-run", exit_on_error=False)
    def run_call(self, dotted: str, *args: str, **kwargs: bool) -> None:
        try:
            self.services.training(dotted)(self.services.profile, *args, actor="tui", **kwargs)
        except Exception as exc:  # noqa: BLE001 - a closed gate explains itself
            hint = getattr(exc, "hint", None)
            self.post_message(AdaptersChanged(f"{exc}" if not hint or hint in str(exc)
                                              else f"{exc} ({hint})", False))
            return
        what = "activated" if dotted.endswith(".activate") else "deactivated"
        self.post_message(AdaptersChanged(f"adapter {what}", True))

    def on_adapters_changed(self, message: AdaptersChanged) -> None:
        self.notify(message.text, severity="information" if message.ok else "error")
        self.reload()
        self.app.refresh_status()  # type: ignore[attr-defined]

    def action_close(self) -> None:
        self.dismiss(None)
