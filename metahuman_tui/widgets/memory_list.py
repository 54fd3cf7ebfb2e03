"""The memory results list: date, type, text, tags — one row per memory, drawn on demand.

Why: 100k memories must scroll without lag. Browsing holds only (id, path) pairs from the
index; a memory's file is read when its row scrolls into view (LRU cached). Search hits come
complete. Only visible rows become segments (LineList): no widget per memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache

from .line_list import LineList, cells


@dataclass(frozen=True, slots=True)
class MemoryRow:
    id: str
    when: str      # "2025-10-19 16:00"
    type: str
    text: str      # one line: snippet for a search hit, first line of content otherwise
    tags: str

    @classmethod
    def from_record(cls, rec: Any) -> "MemoryRow":
        get = rec.get if isinstance(rec, dict) else (lambda k, d=None: getattr(rec, k, d))
        text = get("snippet") or get("content") or ""
        text = " ".join(str(text).split())[:300]
        ts = str(get("timestamp") or "")
        tags = get("tags") or []
        return cls(str(get("id")), ts[:16].replace("T", " "), str(get("type") or ""), text,
                   " ".join(f"#{t}" for t in tags) if isinstance(tags, (list, tuple)) else str(tags))

    @classmethod
    def from_path(cls, memory_id: str, path: Path) -> "MemoryRow":
        """Read one memory file (a visible row); an unreadable file is a row that says so."""
        import json

        try:
            data = json.loads(Path(path).read_bytes())
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            when = memory_id[4:8] + "-" + memory_id[8:10] + "-" + memory_id[10:12]
            return cls(memory_id, when, "?", f"(unreadable: {type(exc).__name__})", "")
        return cls.from_record({**data, "id": memory_id})


Item = Union[MemoryRow, tuple]   # a ready row, or (id, path) read on demand


DIM = Style(dim=True)
TYPE = Style(color="cyan")
TAGS = Style(color="magenta")
HIT = Style(bold=True, color="yellow")
MARKS = ("\x02", "\x03")   # search highlight markers (passed to the core's search)


def marked(text: str, width: int, style: Style) -> list[Segment]:
    """`text` with \x02…\x03 spans highlighted, cut/padded to `width` cells."""
    segs: list[Segment] = []
    used, hit = 0, False
    for part in re.split("([\x02\x03])", text):
        if part in MARKS:
            hit = part == MARKS[0]
            continue
        if not part or used >= width:
            continue
        piece = part if used + cell_len(part) <= width else cells(part, width - used)
        segs.append(Segment(piece, style + HIT if hit else style))
        used += cell_len(piece)
    if used < width:
        segs.append(Segment(" " * (width - used), style))
    return segs


class MemoryList(LineList):
    """Rows of MemoryRow; `rows` is replaced wholesale when a search finishes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: Sequence[Item] = ()
        self._cache: LRUCache[str, MemoryRow] = LRUCache(4096)

    def set_rows(self, rows: Sequence[Item]) -> None:
        self.rows = rows
        self._cache.clear()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.set_count(len(rows), keep_cursor=False)

    def replace_row(self, index: int, row: MemoryRow) -> None:
        rows = self.rows if isinstance(self.rows, list) else list(self.rows)
        rows[index] = row
        self.rows = rows
        self._cache.discard(row.id)
        self.refresh()

    def row(self, index: int) -> MemoryRow:
        item = self.rows[index]
        if isinstance(item, MemoryRow):
            return item
        memory_id, path = item[0], item[1]
        cached = self._cache.get(memory_id)
        if cached is None:
            cached = MemoryRow.from_path(memory_id, path)
            self._cache[memory_id] = cached
        return cached

    def index_of(self, memory_id: str) -> int:
        """The row of a memory id (0 if it is gone): a refresh keeps the cursor on it."""
        for i, item in enumerate(self.rows):
            if (item.id if isinstance(item, MemoryRow) else item[0]) == memory_id:
                return i
        return 0

    @property
    def current(self) -> MemoryRow | None:
        if 0 <= self.cursor < len(self.rows):
            return self.row(self.cursor)
        return None

    @staticmethod
    def columns(width: int) -> tuple[int, int, int, int]:
        when, kind = 16, 12
        tags = 0 if width < 60 else min(24, max(10, width // 5))
        text = max(10, width - when - kind - tags - 3)
        return when, kind, text, tags

    def header(self, width: int) -> str:
        when, kind, text, tags = self.columns(width)
        line = cells("When", when) + " " + cells("Type", kind) + " " + cells("Memory", text)
        return line + (" " + cells("Tags", tags) if tags else "")

    def render_row(self, index: int, width: int, style: Style) -> list[Segment]:
        row = self.row(index)
        when, kind, text, tags = self.columns(width)
        segs = [Segment(cells(row.when, when), style + DIM), Segment(" ", style),
                Segment(cells(row.type, kind), style + TYPE), Segment(" ", style),
                *marked(row.text, text, style)]
        if tags:
            segs += [Segment(" ", style), Segment(cells(row.tags, tags), style + TAGS)]
        return segs
