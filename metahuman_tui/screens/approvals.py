"""Approval queue: what waits for a yes (skill, args, risk, requester, age); approve or reject.

Why: the operator and agents queue risky calls as files in out/approval-queue/; another
process (the CLI, the API) may decide them at any time. The pane polls the folder's mtime (one
stat a second, cheap) and reloads in a worker only when it changed. Approving executes the skill
in the core (which re-checks policy and the args hash), so it runs in a thread worker.
"""

from __future__ import annotations

import json

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from ..widgets.line_list import KeyedDataTable
from .approval_detail import ApprovalDetailScreen, describe, summary
from .base import PaneScreen, age
from .modals import ConfirmScreen, PromptScreen
from .services import Unavailable, error_text

RISK_STYLE = {"high": "bold red", "medium": "yellow", "low": "green"}


def _args(args) -> str:
    return json.dumps(args, ensure_ascii=False, separators=(",", ":")) if args is not None else ""


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class QueueLoaded(Message):
    def __init__(self, items: list[dict] | None, error: str | None = None) -> None:
        super().__init__()
        self.items, self.error = items, error


class Decided(Message):
    def __init__(self, text: str, severity: str = "information") -> None:
        super().__init__()
        self.text, self.severity = text, severity


class ApprovalsScreen(PaneScreen):
    PANE = "approvals"
    BINDINGS = [
        Binding("a", "approve", "Approve", id="approvals.approve"),
        Binding("r", "reject", "Reject", id="approvals.reject"),
        Binding("h", "toggle_history", "History", id="approvals.history"),
        Binding("t", "app.set_trust", "Trust", id="approvals.trust"),
        Binding("y", "copy", "Copy args", id="approvals.copy", show=False),
        Binding("enter", "details", "Details", id="approvals.details", show=False),
    ]
    EXTRA_KEY_SCOPES = (ApprovalDetailScreen,)

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict] = {}
        self.history = False
        self._mtime: int | None = None

    def compose_pane(self) -> ComposeResult:
        yield Static("loading…", id="approvals-info", classes="info-line")
        table: DataTable = KeyedDataTable(cursor_type="row", id="approvals-table")
        self._age_column = table.add_columns("Age", "Skill", "Risk", "By", "Status", "Args")[0]
        yield table
        yield Static("", id="approval-detail", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.load()
        self.every(self.settings.queue_interval, self.poll)

    # ------------------------------------------------------------------ live updates
    def _queue_mtime(self) -> int:
        try:
            return self.profile.home.approval_queue.stat().st_mtime_ns
        except OSError:
            return 0

    def poll(self) -> None:
        """Reload only when the queue folder changed (items are published and replaced
        atomically, which always touches the folder); otherwise only the ages move on."""
        if self._queue_mtime() != self._mtime:
            self.load()
        else:
            self._refresh_ages()

    def _refresh_ages(self) -> None:
        table = self.query_one(DataTable)
        now = self.now()
        for item_id, item in self.items.items():
            shown = age(item.get("created_at"), now)
            try:
                if table.get_cell(item_id, self._age_column) != shown:
                    table.update_cell(item_id, self._age_column, shown)
            except Exception:  # noqa: BLE001 - the row went away meanwhile
                continue

    @work(thread=True, exclusive=True, group="approvals-load", exit_on_error=False)
    def load(self) -> None:
        self._mtime = self._queue_mtime()
        try:
            queue = self.services.approvals()
            items = queue.list() if self.history else queue.list(status="pending")
        except Unavailable as exc:
            self.post_message(QueueLoaded(None, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001
            self.post_message(QueueLoaded(None, error_text(exc, one_line=True)))
            return
        self.post_message(QueueLoaded(items))

    def on_queue_loaded(self, message: QueueLoaded) -> None:
        info = self.query_one("#approvals-info", Static)
        if message.items is None:
            info.update(f"⚠ {message.error}")
            return
        table = self.query_one(DataTable)
        keep = self.current_id()
        items = list(reversed(message.items)) if self.history else message.items
        self.items = {i["id"]: i for i in items}
        table.clear()
        now = self.now()
        for item in items:
            risk = str(item.get("risk", ""))
            table.add_row(age(item.get("created_at"), now), str(item.get("skill", "?")),
                          Text(risk, RISK_STYLE.get(risk, "")), str(item.get("requested_by", "")),
                          str(item.get("status", "")), _short(_args(item.get("args")), 48),
                          key=item["id"])
        pending = sum(1 for i in items if i.get("status") == "pending")
        hist = self.app.key_for("approvals.history", first=True)  # type: ignore[attr-defined]
        mode = (f"all decisions, newest first · {hist}: pending only" if self.history
                else f"oldest first · {hist}: all decisions")   # a/r/t are in the footer
        info.update(f"{pending} pending · {mode}" if items else ("Nothing waits for your approval." if not self.history
                                   else "The queue is empty."))
        if keep in self.items:
            table.move_cursor(row=table.get_row_index(keep))
        self._show_detail()
        self.app.refresh_status()  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ detail
    def current_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.items or table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001
            return None

    @on(DataTable.RowHighlighted)
    def _show_detail(self) -> None:
        item = self.items.get(self.current_id() or "")
        detail = self.query_one("#approval-detail", Static)
        # what will run comes first: the overwrite effect before the args (80x24 cuts the tail)
        detail.update("\n".join(summary(self.profile, item)) if item else "")

    @on(DataTable.RowSelected)
    def action_details(self) -> None:
        """Enter: every argument in full, scrollable (size/sha of long text, diff of a write)."""
        item = self.items.get(self.current_id() or "")
        if item is None:
            self.notify("Nothing selected.")
            return

        def chosen(what: str | None) -> None:
            if what == "approve":
                self.action_approve()
            elif what == "reject":
                self.action_reject()

        self.app.push_screen(ApprovalDetailScreen(f"{item['id']} · {item.get('status')}",
                                                  describe(self.profile, item), item.get("args")),
                             chosen)

    # ------------------------------------------------------------------ decisions
    def _pending(self) -> dict | None:
        item = self.items.get(self.current_id() or "")
        if item is None:
            self.notify("Nothing selected.")
            return None
        if item.get("status") != "pending":
            self.notify(f"{item['id']} is already {item.get('status')}.", severity="warning")
            return None
        return item

    def action_approve(self) -> None:
        item = self._pending()
        if item is None:
            return
        body = (describe(self.profile, item) + "\n\nIt runs now, after the policy and the "
                "arguments are checked again.")
        self.app.push_screen(
            ConfirmScreen(f"Approve {item['id']}?", body, yes="Approve",
                          danger=item.get("risk") == "high", scroll=True),
            lambda yes: self.decide(item["id"], True, "") if yes else None)

    def action_reject(self) -> None:
        item = self._pending()
        if item is None:
            return
        self.app.push_screen(
            PromptScreen(f"Reject {item.get('skill')}: reason (the requester reads it)",
                         required=True),
            lambda reason: self.decide(item["id"], False, reason) if reason else None)

    @work(thread=True, group="approvals-run", exit_on_error=False)
    def decide(self, approval_id: str, approve: bool, reason: str) -> None:
        try:
            queue = self.services.approvals()
            if approve:
                item = queue.approve(approval_id, by="human")
                status = item.get("status")
                extra = item.get("reason") or item.get("error") or ""
                self.post_message(Decided(f"{approval_id}: {status}" + (f" — {extra}" if extra and
                                          status != "executed" else ""),
                                          "information" if status == "executed" else "warning"))
            else:
                queue.reject(approval_id, by="human", reason=reason)
                self.post_message(Decided(f"{approval_id}: rejected"))
        except Exception as exc:  # noqa: BLE001
            self.post_message(Decided(f"{approval_id}: {exc}", "error"))

    def on_decided(self, message: Decided) -> None:
        self.notify(message.text, severity=message.severity)  # type: ignore[arg-type]
        self.load()

    def action_toggle_history(self) -> None:
        self.history = not self.history
        self.load()

    def action_copy(self) -> None:
        item = self.items.get(self.current_id() or "")
        if item:
            self.app.copy_text(json.dumps(item.get("args"), ensure_ascii=False, indent=2),  # type: ignore[attr-defined]
                               "the arguments")
