"""Adapters modal: trained adapters, which one is active, activate / deactivate (confirmed).

Why: activation changes which model answers every chat, so it always asks first. The work is
the core's (training module): this screen only lists and calls it, in a thread worker.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from .modals import ConfirmScreen
from .services import Services, Unavailable


def training_call(services: Services, *names: str) -> Callable[..., Any]:
    """The first of `names` the core's training package offers, or Unavailable."""
    module = services.training()
    for name in names:
        fn = getattr(module, name, None)
        if callable(fn):
            return fn
    raise Unavailable(f"metahuman_core.training has no {' / '.join(names)} yet")


def list_adapters(services: Services) -> list[dict[str, Any]]:
    """Adapters from the core when it can list them; else the out/adapters/<DATE>/ folders."""
    try:
        items = training_call(services, "list_adapters")(services.profile)
        return [i if isinstance(i, dict) else dict(getattr(i, "__dict__", {})) for i in items]
    except Unavailable:
        pass
    home = services.profile.home
    active = ""
    try:
        active = json.dumps(json.loads(home.active_adapter.read_text()))
    except (OSError, ValueError):
        pass
    out = []
    if home.adapters.is_dir():
        for d in sorted((p for p in home.adapters.iterdir() if p.is_dir()), reverse=True):
            files = sorted(p.name for p in d.iterdir())
            out.append({"id": d.name, "status": "active" if d.name in active else "",
                        "files": ", ".join(files[:6])})
    return out


class AdaptersChanged(Message):
    def __init__(self, text: str, ok: bool) -> None:
        super().__init__()
        self.text, self.ok = text, ok


class AdaptersScreen(ModalScreen[None]):
    BINDINGS = [
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
            table.add_columns("Adapter", "State", "Details")
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
            name = str(item.get("id") or item.get("name") or item.get("date") or "?")
            details = item.get("files") or item.get("model") or item.get("path") or ""
            table.add_row(name, str(item.get("status") or item.get("state") or ""), str(details),
                          key=name)
        self.query_one("#adapters-info", Static).update(
            f"{len(self.items)} adapter(s) in out/adapters/" if self.items
            else "No adapters yet: train one first (s in the training pane).")

    def _current(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.items:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @work(exclusive=True, group="adapters", exit_on_error=False)
    async def action_activate(self) -> None:
        name = self._current()
        if name and await self.app.push_screen_wait(ConfirmScreen(
                f"Activate adapter {name}?", "Chat and the operator will answer with it from "
                "the next message. Audited.", yes="Activate")):
            self.run_call("activate_adapter", "activate", arg=name)

    @work(exclusive=True, group="adapters", exit_on_error=False)
    async def action_deactivate(self) -> None:
        if await self.app.push_screen_wait(ConfirmScreen(
                "Deactivate the adapter?", "Answers come from the base model again from the "
                "next message. Audited.", yes="Deactivate")):
            self.run_call("deactivate_adapter", "deactivate")

    @work(thread=True, group="adapters-run", exit_on_error=False)
    def run_call(self, *names: str, arg: str | None = None) -> None:
        try:
            fn = training_call(self.services, *names)
            fn(self.services.profile, *([arg] if arg else []))
        except Exception as exc:  # noqa: BLE001
            self.post_message(AdaptersChanged(str(exc), False))
            return
        self.post_message(AdaptersChanged(f"{names[0].replace('_', ' ')}: done", True))

    def on_adapters_changed(self, message: AdaptersChanged) -> None:
        self.notify(message.text, severity="information" if message.ok else "error")
        self.reload()
        self.app.refresh_status()  # type: ignore[attr-defined]

    def action_close(self) -> None:
        self.dismiss(None)
