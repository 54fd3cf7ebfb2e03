"""Audit viewer: days, filters, live follow of today, one entry in detail, chain verification.

Why this shape (toolong): opening a day starts a thread worker that indexes line offsets in
chunks and posts progress; rows are read on demand. Filters scan the mmap with a bytes regex
in another exclusive worker (a new filter cancels the old scan) and post matches in batches.
Follow polls the file size of today's log and indexes only the appended bytes. Verification
runs the core's chain check in its own worker. Workers only post messages.
"""

from __future__ import annotations

import json
import time
from array import array

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from ..widgets.audit_filter import AuditFilter, FilterError, parse_filter, parse_line
from ..widgets.audit_view import AuditLines
from ..widgets.line_index import LineIndex
from ..widgets.line_list import KeyedOptionList, LineList
from ..widgets.text_input import TextInput
from .base import PaneScreen
from .modals import ChoiceScreen, TextViewScreen

PLACEHOLDER = "Filter…  level:warn  cat:security  event:lora_  actor:mcp*  words  (/ focuses)"


class Indexed(Message):
    def __init__(self, date: str, lines: int, done: bool) -> None:
        super().__init__()
        self.date, self.lines, self.done = date, lines, done


class Filtered(Message):
    def __init__(self, gen: int, matches: array, count: int, done: bool) -> None:
        super().__init__()
        self.gen, self.matches, self.count, self.done = gen, matches, count, done


class Verified(Message):
    def __init__(self, date: str, text: str, ok: bool, problem: str = "") -> None:
        super().__init__()
        self.date, self.text, self.ok, self.problem = date, text, ok, problem


class AuditScreen(PaneScreen):
    PANE = "audit"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="audit.filter"),
        Binding("f", "toggle_follow", "Follow", id="audit.follow"),
        Binding("d", "pick_day", "Day", id="audit.day"),
        Binding("left_square_bracket", "day(-1)", "Prev day", id="audit.prev_day", show=False),
        Binding("right_square_bracket", "day(1)", "Next day", id="audit.next_day", show=False),
        Binding("v", "verify", "Verify", id="audit.verify"),
        Binding("y", "copy", "Copy entry", id="audit.copy", show=False),
        Binding("escape", "clear_filter", "Clear filter", id="audit.clear", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.date: str | None = None
        self.index: LineIndex | None = None
        self.filter = AuditFilter()
        self.matches: array | None = None
        self._gen = 0
        self.follow = True
        self.paused = False          # follow stopped because the person scrolled up
        self.lines_total = 0
        self.indexing = False
        self.chain = ""
        self._was_today = False

    def compose_pane(self) -> ComposeResult:
        yield TextInput(placeholder=PLACEHOLDER, id="audit-filter", compact=True)
        yield Static("", id="audit-info", classes="info-line")
        yield Static("", id="audit-problem", markup=False)
        with Horizontal(id="audit-main"):
            yield KeyedOptionList(id="audit-days")
            with Vertical(id="audit-right"):
                yield Static("", id="audit-header", classes="list-header")
                yield AuditLines(id="audit-lines")

    def on_mount(self) -> None:
        self.query_one("#audit-problem").display = False
        self.query_one(AuditLines).focus()
        self.refresh_days()
        today = self.today()
        past = [d for d in self.days() if d <= today]
        self.open_day(today if today in past or not past else past[-1])
        self.every(self.settings.follow_interval, self.poll_follow)

    def on_resize(self) -> None:
        self.call_after_refresh(self._update_header)   # the list's new width is known then

    def _update_header(self) -> None:
        lines = self.query_one(AuditLines)   # the rows' width: a scrollbar takes columns
        width = lines.scrollable_content_region.width or lines.size.width or 80
        self.query_one("#audit-header", Static).update(AuditLines.header(width))

    # ------------------------------------------------------------------ days
    def today(self) -> str:
        return self.now().strftime("%Y-%m-%d")

    def days(self) -> list[str]:
        return self.profile.audit.dates()

    def refresh_days(self) -> None:
        days = list(reversed(self.days()))
        lst = self.query_one("#audit-days", OptionList)
        lst.clear_options()
        lst.add_options([Option(d, id=d) for d in days])

    @on(OptionList.OptionSelected, "#audit-days")
    def _day_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.open_day(event.option.id)
            self.query_one(AuditLines).focus()

    def open_day(self, date: str) -> None:
        if self.index is not None:
            self.index.close()
        self.date = date
        self._was_today = date == self.today()
        self.index = LineIndex(self.profile.audit.day_path(date))
        self.index._open()
        self.matches = None
        self.lines_total = 0
        self.chain = ""
        self._show_problem("")
        self.indexing = True
        self.query_one(AuditLines).show(self.index, None, 0)
        days = self.query_one("#audit-days", OptionList)
        try:
            days.highlighted = days.get_option_index(date)
        except Exception:  # noqa: BLE001 - a day without a file yet (today, empty)
            pass
        self._info()
        self.build_index(self.index, date)

    def action_day(self, delta: int) -> None:
        days = self.days()
        if not days:
            return
        i = days.index(self.date) if self.date in days else len(days) - 1
        target = days[max(0, min(len(days) - 1, i + delta))]
        if target == self.date:   # reopening would only lose the cursor: say why nothing moves
            self.notify(f"No {'earlier' if delta < 0 else 'later'} audit day than {self.date}.")
            return
        self.open_day(target)

    def action_pick_day(self) -> None:
        days = list(reversed(self.days()))
        if not days:
            self.notify("No audit days yet.")
            return
        self.app.push_screen(ChoiceScreen("Audit day", [(d, d) for d in days], self.date),
                             lambda day: self.open_day(day) if day else None)

    # ------------------------------------------------------------------ indexing
    @work(thread=True, exclusive=True, group="audit-index", exit_on_error=False)
    def build_index(self, index: LineIndex, date: str) -> None:
        worker = get_current_worker()
        last = 0.0
        for lines in index.scan(cancelled=lambda: worker.is_cancelled):
            now = time.monotonic()
            if now - last > 0.2:
                self.post_message(Indexed(date, lines, False))
                last = now
        if not worker.is_cancelled:
            self.post_message(Indexed(date, len(index), True))

    def on_indexed(self, message: Indexed) -> None:
        if message.date != self.date:
            return
        self.lines_total = message.lines
        self.indexing = not message.done
        lines = self.query_one(AuditLines)
        if self.filter.empty:
            lines.show(self.index, None, message.lines)
            if message.done:
                lines.action_last()
        elif message.done:
            self.run_filter()
        if message.done:
            self.action_verify()      # after the rows are up: both read the whole file
        self._info()

    # ------------------------------------------------------------------ filtering
    @on(Input.Submitted, "#audit-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        try:
            self.filter = parse_filter(event.value)
        except FilterError as exc:
            self.notify(str(exc), severity="error")
            return
        self.query_one(AuditLines).focus()
        self.run_filter()

    def action_clear_filter(self) -> None:
        box = self.query_one("#audit-filter", Input)
        if box.value or not self.filter.empty:
            box.value = ""
            self.filter = AuditFilter()
            self.run_filter()
        self.query_one(AuditLines).focus()   # Esc never leaves the person stuck in the box

    def run_filter(self) -> None:
        self._gen += 1
        lines = self.query_one(AuditLines)
        if self.filter.empty:
            self.matches = None
            self.workers.cancel_group(self, "audit-filter")
            lines.show(self.index, None, self.lines_total)
            lines.action_last()
        elif self.index is not None and not self.indexing:
            self.matches = array("I")
            lines.show(self.index, self.matches, 0)
            self.scan_filter(self.index, self.filter, self._gen, self.matches)
        self._info()

    @work(thread=True, exclusive=True, group="audit-filter", exit_on_error=False)
    def scan_filter(self, index: LineIndex, flt: AuditFilter, gen: int, out: array) -> None:
        worker = get_current_worker()
        cancelled = lambda: worker.is_cancelled  # noqa: E731
        pattern = flt.prefilter()
        candidates = index.search(pattern, cancelled=cancelled) if pattern else range(len(index))
        last = time.monotonic()
        for n in candidates:
            raw = index.line(n)
            if flt.matches(raw, parse_line(raw)):
                out.append(n)
            now = time.monotonic()
            if now - last > 0.25:
                if worker.is_cancelled:
                    return
                self.post_message(Filtered(gen, out, len(out), False))
                last = now
        if not worker.is_cancelled:
            self.post_message(Filtered(gen, out, len(out), True))

    def on_filtered(self, message: Filtered) -> None:
        if message.gen != self._gen:
            return
        lines = self.query_one(AuditLines)
        lines.show(self.index, message.matches, message.count)
        if message.done:
            lines.action_last()
        self._info(scanning=not message.done)

    # ------------------------------------------------------------------ follow
    def poll_follow(self) -> None:
        """Today's file only: index appended lines; keep the cursor on the newest if following.
        Past midnight, a view that was following today moves on to the new day."""
        today = self.today()
        if self.date != today:
            if self.follow and self._was_today and today in self.days():
                self.refresh_days()
                self.open_day(today)
            return
        if self.index is None or self.indexing:
            return
        lines = self.query_one(AuditLines)
        if self.follow and lines.count and not lines.at_end:
            self._pause_follow()           # scrolled up (wheel) to read: stay there
        start = len(self.index)
        added = self.index.refresh()
        if not added:
            return
        self.lines_total = len(self.index)
        if self.matches is not None:
            for n in range(start, len(self.index)):
                raw = self.index.line(n)
                if self.filter.matches(raw, parse_line(raw)):
                    self.matches.append(n)
            lines.show(self.index, self.matches, len(self.matches))
        else:
            lines.show(self.index, None, self.lines_total)
        if self.follow:
            lines.action_last()
        self._info()

    def action_toggle_follow(self) -> None:
        """f: follow on (jump to the newest) or off. Paused by scrolling up, f resumes."""
        self.follow = not self.follow or self.paused
        self.paused = False
        if self.follow:
            self.query_one(AuditLines).action_last()
        self._info()

    def _pause_follow(self) -> None:
        self.follow, self.paused = False, True
        self._info()

    @on(LineList.Highlighted, "#audit-lines")
    def _cursor_moved(self, event: LineList.Highlighted) -> None:
        """Moving up while following pauses it (less +F); End/G at the newest resumes."""
        at_last = event.index >= event.list.count - 1
        if self.follow and not at_last:
            self._pause_follow()
        elif self.paused and at_last:
            self.follow, self.paused = True, False
            self._info()

    # ------------------------------------------------------------------ verification
    def action_verify(self) -> None:
        self.chain = "verifying chain…"
        self._info()
        if self.date:
            self.verify(self.date)

    @work(thread=True, exclusive=True, group="audit-verify", exit_on_error=False)
    def verify(self, date: str) -> None:
        try:
            result = self.profile.audit.verify(date)
        except Exception as exc:  # noqa: BLE001
            self.post_message(Verified(date, f"chain check failed: {exc}", False))
            return
        if result.ok:
            self.post_message(Verified(date, f"chain ✓ {result.checked:,} verified", True))
            return
        problems = list(getattr(result, "problems", []) or [])
        more = f" (+{len(problems) - 1} more: mh audit verify)" if len(problems) > 1 else ""
        first = result.first_problem() or "unknown problem"
        self.post_message(Verified(date, "chain ✗", False,
                                   f"✗ chain broken{more}: {first}"))

    def on_verified(self, message: Verified) -> None:
        if message.date == self.date:
            self.chain = message.text
            self._show_problem(message.problem)
            self._info()
            if not message.ok:
                self.notify(message.problem or message.text, title="Audit chain broken",
                            severity="error", timeout=15)

    def _show_problem(self, text: str) -> None:
        """A broken chain stays on screen (not only in a toast) until the day verifies again."""
        box = self.query_one("#audit-problem", Static)
        box.update(text)
        box.display = bool(text)

    # ------------------------------------------------------------------ entry
    @on(LineList.Selected, "#audit-lines")
    def _open_entry(self) -> None:
        text = self._current_text()
        if text is not None:
            self.app.push_screen(TextViewScreen(f"Audit entry · {self.date}", text))

    def _current_text(self) -> str | None:
        lines = self.query_one(AuditLines)
        n = lines.current_line()
        if n is None:
            return None
        entry, raw = lines.entry(n)
        if entry is None:
            return raw.decode("utf-8", "replace")
        return json.dumps(entry, ensure_ascii=False, indent=2)

    def action_copy(self) -> None:
        text = self._current_text()
        if text is not None:
            self.app.copy_text(text, "the audit entry")  # type: ignore[attr-defined]

    def action_focus_filter(self) -> None:
        self.query_one("#audit-filter").focus()

    # ------------------------------------------------------------------ info line
    def _info(self, scanning: bool = False) -> None:
        parts = [self.date or "no day"]
        if self.indexing:
            parts.append(f"indexing… {self.lines_total:,} lines")
        else:
            parts.append(f"{self.lines_total:,} lines")
        if not self.filter.empty:
            found = len(self.matches) if self.matches is not None else 0
            parts.append(f"{self.filter.describe()}: {found:,}" + (" (scanning…)" if scanning else ""))
        if self.date == self.today():
            resume = self.app.key_for("audit.follow", first=True)  # type: ignore[attr-defined]
            parts.append("follow on" if self.follow else
                         f"follow paused (End/{resume} resumes)" if self.paused else "follow off")
        if self.chain:
            parts.append(self.chain)
        self.query_one("#audit-info", Static).update(" · ".join(parts))
