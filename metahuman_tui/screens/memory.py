"""Memory browser: debounced search over the index, a virtual results list, detail, capture, tags.

Why this shape: every keystroke restarts a short timer; when it fires, a thread worker runs
the search with `exclusive=True`, so an older search still running is cancelled and can never
overwrite newer results (a sequence number double-checks). The list is a LineList of small
row tuples, so 100k memories cost one tuple each, not one widget each.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from metahuman_core.search.query import parse

from ..widgets.line_list import LineList
from ..widgets.memory_list import MARKS, MemoryList, MemoryRow
from ..widgets.text_input import TextInput
from .base import PaneScreen
from .memory_modals import CaptureScreen, MemoryDetailScreen, detail_text, split_tags
from .modals import PromptScreen
from .services import Unavailable, error_text

PLACEHOLDER = "Search…  type:journal  tag:work  source:whatsapp  after:2025-10-01  -word"


def _what(query: str, total: int) -> tuple[str, bool]:
    """What the count counts ("hits for 'sarah'", "memories from source 'whatsapp'") and
    whether the list is newest first (a query of filters only has no ranking)."""
    q = parse(query)
    if q.sources and not (q.has_text or q.types or q.tags or q.not_sources or q.after
                          or q.before or q.excluded):
        return f"memor{'ies' if total != 1 else 'y'} from source {' '.join(q.sources)!r}", True
    return f"hit{'s' if total != 1 else ''} for {query!r}", not q.has_text


class SearchFinished(Message):
    def __init__(self, seq: int, query: str, rows: list, total: int | None,
                 error: str | None = None, keep: str | None = None) -> None:
        super().__init__()
        self.seq, self.query, self.rows, self.total, self.error = seq, query, rows, total, error
        self.keep = keep        # a live refresh keeps the cursor on this memory id


class IndexChanged(Message):
    """Memories were captured, changed or removed elsewhere (another process, the chat)."""


class MemoryChanged(Message):
    """A memory was saved (tags edited, or captured when `new`); record None = failed."""

    def __init__(self, record: dict | None, text: str, new: bool = False) -> None:
        super().__init__()
        self.record, self.text, self.new = record, text, new


class MemoryScreen(PaneScreen):
    PANE = "memory"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("slash", "focus_search", "Search", id="memory.search"),
        Binding("n", "capture", "Capture", id="memory.capture"),
        Binding("t", "edit_tags", "Tags", id="memory.tags"),
        Binding("y", "copy", "Copy", id="memory.copy"),
        Binding("ctrl+r", "reload", "Reload", id="memory.reload", show=False),
        Binding("escape", "to_list", "Back to the list", id="memory.to_list", show=False),
    ]
    EXTRA_KEY_SCOPES = (MemoryDetailScreen, CaptureScreen)

    def __init__(self) -> None:
        super().__init__()
        self._seq = 0
        self._timer: Timer | None = None
        self._preview_timer: Timer | None = None
        self.query_text = ""
        self._stamp: tuple | None = None

    def compose_pane(self) -> ComposeResult:
        yield TextInput(placeholder=PLACEHOLDER, id="memory-search", compact=True)
        yield Static("loading…", id="memory-info", classes="info-line")
        with Horizontal(id="memory-main"):
            with Vertical(id="memory-left"):
                yield Static("", id="memory-header", classes="list-header")
                yield MemoryList(id="memory-list")
            yield Static("", id="memory-preview", markup=False)

    def on_mount(self) -> None:
        self.query_one(MemoryList).focus()
        self.start_search()
        self.every(2.0, self.poll_index)

    # ------------------------------------------------------------------ live updates
    @work(thread=True, exclusive=True, group="memory-poll", exit_on_error=False)
    def poll_index(self) -> None:
        """Reload when the index changed: a commit by another process (PRAGMA data_version) or
        a capture in this one (the count). Cheap: a folder scan and two tiny queries."""
        try:
            index = self.services.memory_index()
            index.sync()
            with index.lock:
                version = index.conn.execute("PRAGMA data_version").fetchone()[0]
            stamp = (version, index.count())
        except Exception:  # noqa: BLE001 - the next search shows the problem
            return
        if self._stamp is not None and stamp != self._stamp:
            self.post_message(IndexChanged())
        self._stamp = stamp

    def on_index_changed(self, _: IndexChanged) -> None:
        row = self.query_one(MemoryList).current
        self.start_search(keep=row.id if row else None)

    def on_resize(self) -> None:
        self.call_after_refresh(self._update_header)   # the list's new width is known then

    def _update_header(self) -> None:
        lst = self.query_one(MemoryList)   # the rows' width: a scrollbar takes columns
        width = lst.scrollable_content_region.width or lst.size.width or 80
        self.query_one("#memory-header", Static).update(lst.header(width))

    # ------------------------------------------------------------------ search
    @on(Input.Changed, "#memory-search")
    def query_changed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.settings.search_debounce, self.start_search)

    @on(Input.Submitted, "#memory-search")
    def query_submitted(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.start_search()
        self.query_one(MemoryList).focus()

    def start_search(self, keep: str | None = None) -> None:
        self._seq += 1
        self.query_text = self.query_one("#memory-search", Input).value.strip()
        if keep is None:
            self.query_one("#memory-info", Static).update(
                f"searching {self.query_text!r}…" if self.query_text else "listing…")
        self.run_search(self.query_text, self._seq, keep)

    @work(thread=True, exclusive=True, group="memory-search", exit_on_error=False)
    def run_search(self, query: str, seq: int, keep: str | None = None) -> None:
        """The query goes to the core as typed (filters such as `source:whatsapp` included);
        a capped search asks the core for the true total ("first 500 of 2,725")."""
        worker = get_current_worker()
        try:
            if query:
                limit = self.settings.search_limit
                hits = self.services.search(query, limit=limit + 1, highlight=MARKS)
                # one extra hit tells that more match: only then is the count worth a query
                total = self.services.count(query) if len(hits) > limit else len(hits)
                rows = [MemoryRow.from_record(h) for h in hits[:limit]]
            else:
                index = self.services.memory_index()
                index.sync()
                if worker.is_cancelled:
                    return
                rows = index.select(limit=self.settings.browse_limit, newest_first=True)
                total = len(rows) if len(rows) < self.settings.browse_limit else index.count()
        except Unavailable as exc:
            self.post_message(SearchFinished(seq, query, [], 0, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a bad query is shown, not fatal
            self.post_message(SearchFinished(seq, query, [], 0, error_text(exc, one_line=True)))
            return
        if not worker.is_cancelled:
            self.post_message(SearchFinished(seq, query, rows, total, keep=keep))

    def on_search_finished(self, message: SearchFinished) -> None:
        if message.seq != self._seq:
            return  # a newer search was started: never show stale results
        info = self.query_one("#memory-info", Static)
        lst = self.query_one(MemoryList)
        lst.set_rows(message.rows)
        if message.keep:
            lst.move_to(lst.index_of(message.keep))
        self.call_after_refresh(self._update_header)   # after the scrollbar (if any) appears
        capture = self.app.key_for("memory.capture", first=True)  # type: ignore[attr-defined]
        shown, total = len(message.rows), message.total or 0
        if message.error:
            info.update(f"⚠ {message.error}")
        elif message.query and not shown:
            info.update(f"nothing found for {message.query!r} · Esc back to the list")
        elif message.query:
            what, newest = _what(message.query, total)
            info.update(f"first {shown:,} of {total:,} {what}" if total > shown
                        else f"{shown:,} {what}" + (", newest first" if newest else ""))
        else:
            info.update(f"No memories yet: press {capture} to capture one (or mh capture, "
                        "mh ingest)" if not shown else
                        f"{shown:,} memories, newest first" if shown >= total
                        else f"{shown:,} of {total:,} memories, newest first")
        self._preview()

    # ------------------------------------------------------------------ selection
    @on(LineList.Highlighted, "#memory-list")
    def _highlighted(self) -> None:
        """The preview follows the cursor once it rests (holding a key stays fast)."""
        if self.has_class("-wide"):
            if self._preview_timer is not None:
                self._preview_timer.stop()
            self._preview_timer = self.set_timer(0.12, self._preview)

    def _preview(self) -> None:
        preview = self.query_one("#memory-preview", Static)
        if not self.has_class("-wide"):
            return
        row = self.query_one(MemoryList).current
        rec = self._record(row.id) if row else None
        preview.update(detail_text(rec) if rec else "")

    def _record(self, memory_id: str) -> dict | None:
        try:
            return self.services.memory().get(memory_id)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"cannot read {memory_id}: {exc}", severity="error")
            return None

    @on(LineList.Selected, "#memory-list")
    def _selected(self) -> None:
        row = self.query_one(MemoryList).current
        rec = self._record(row.id) if row else None
        if rec is not None:
            self.app.push_screen(MemoryDetailScreen(rec),
                                 lambda result: self.action_edit_tags() if result == "tags" else None)

    # ------------------------------------------------------------------ actions
    def action_focus_search(self) -> None:
        self.query_one("#memory-search").focus()

    def action_to_list(self) -> None:
        """Esc in the search box: back to the results (the query stays)."""
        self.query_one(MemoryList).focus()

    def action_reload(self) -> None:
        self.start_search()

    def action_copy(self) -> None:
        row = self.query_one(MemoryList).current
        rec = self._record(row.id) if row else None
        if rec:
            self.app.copy_text(str(rec.get("content", "")), "the memory")  # type: ignore[attr-defined]

    def action_edit_tags(self) -> None:
        row = self.query_one(MemoryList).current
        rec = self._record(row.id) if row else None
        if rec is None:
            return
        self.app.push_screen(
            PromptScreen(f"Tags for {row.id}", value=", ".join(rec.get("tags") or []),
                         placeholder="comma separated"),
            lambda text: self.save_tags(row.id, split_tags(text)) if text is not None else None)

    @work(thread=True, group="memory-edit", exit_on_error=False)
    def save_tags(self, memory_id: str, tags: list[str]) -> None:
        try:
            rec = self.services.memory().update(memory_id, {"tags": tags}, actor="tui")
        except Exception as exc:  # noqa: BLE001
            self.post_message(MemoryChanged(None, f"tags not saved: {exc}"))
            return
        self.post_message(MemoryChanged(rec, f"tags saved on {memory_id}"))

    def action_capture(self) -> None:
        self.app.push_screen(CaptureScreen(classes="modal"),
                             lambda form: self.capture(form) if form else None)

    @work(thread=True, group="memory-edit", exit_on_error=False)
    def capture(self, form: dict) -> None:
        try:
            rec = self.services.memory().capture(form["content"], type=form["type"],
                                                 tags=form["tags"], actor="tui")
        except Exception as exc:  # noqa: BLE001
            self.post_message(MemoryChanged(None, f"not captured: {exc}"))
            return
        self.post_message(MemoryChanged(rec, f"captured {rec.get('id')}", new=True))

    def on_memory_changed(self, message: MemoryChanged) -> None:
        if message.record is None:
            self.notify(message.text, severity="error")
            return
        self.notify(message.text)
        if message.new:
            self.start_search()
            return
        lst = self.query_one(MemoryList)
        wanted = message.record["id"]
        order = [lst.cursor, *range(lst.count)]   # the cursor row first, then anywhere
        for i in order:
            item = lst.rows[i] if 0 <= i < lst.count else None
            if item is not None and (item.id if isinstance(item, MemoryRow) else item[0]) == wanted:
                lst.replace_row(i, MemoryRow.from_record(message.record))
                break
        self._preview()
