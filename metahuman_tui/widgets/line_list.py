"""A cursor list drawn with Textual's line API: only visible rows are ever rendered.

Why: one widget per row (ListView) lags at a few thousand items; the memory browser lists 100k
memories and the audit viewer 1M lines. Subclasses say how many rows there are and how to draw
row i; this class owns scrolling, the cursor and keys (arrows, j/k, g/G, pages, Enter).
KeyedOptionList/KeyedDataTable give Textual's own lists the same j/k/g/G keys.
"""

from __future__ import annotations

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import DataTable, OptionList


def cells(text: str, width: int) -> str:
    """`text` cut or padded to exactly `width` terminal cells (one line)."""
    if width <= 0:
        return ""
    text = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return set_cell_size(text, width)


class LineList(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    LineList { overflow-x: hidden; }
    LineList > .line-list--cursor { background: $block-cursor-blurred-background; }
    LineList:focus > .line-list--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold;
    }
    """
    COMPONENT_CLASSES = {"line-list--cursor"}
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="list.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="list.down"),
        Binding("pageup,b", "page(-1)", "Page up", show=False, id="list.page_up"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="list.page_down"),
        Binding("home,g", "first", "First", show=False, id="list.first"),
        Binding("end,G", "last", "Last", show=False, id="list.last"),
        Binding("enter", "select", "Open", show=False, id="list.open"),
    ]

    cursor: reactive[int] = reactive(0, init=False)

    class Highlighted(Message):
        def __init__(self, sender: "LineList", index: int) -> None:
            super().__init__()
            self.list = sender
            self.index = index

        @property
        def control(self) -> "LineList":
            return self.list

    class Selected(Highlighted):
        pass

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._count = 0

    # ------------------------------------------------------------------ for subclasses
    def render_row(self, index: int, width: int, style: Style) -> list[Segment]:
        raise NotImplementedError

    @property
    def count(self) -> int:
        return self._count

    def set_count(self, count: int, *, keep_cursor: bool = True) -> None:
        """Tell the list how many rows it has now; refreshes what is visible."""
        self._count = max(0, count)
        self.virtual_size = Size(self.scrollable_content_region.width, self._count)
        if not keep_cursor:
            self.set_reactive(LineList.cursor, 0)
        if self._count and self.cursor >= self._count:
            self.set_reactive(LineList.cursor, self._count - 1)
        self.refresh()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self._count)

    # ------------------------------------------------------------------ drawing
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = int(self.scroll_offset.y) + y
        base = self.rich_style
        if index >= self._count:
            return Strip.blank(width, base)
        style = base
        if index == self.cursor:
            style = base + self.get_component_rich_style("line-list--cursor")
        segments = self.render_row(index, width, style)
        return Strip(segments).adjust_cell_length(width, style)

    # ------------------------------------------------------------------ cursor
    def watch_cursor(self, old: int, new: int) -> None:
        before = self.scroll_offset.y
        self.scroll_to_region(Region(0, new, 1, 1), animate=False, force=True, immediate=True)
        if self.scroll_offset.y == before:     # no scroll: only two rows change
            self.refresh_line(old)
            self.refresh_line(new)
        else:
            self.refresh()
        if self._count:
            self.post_message(self.Highlighted(self, new))

    def move_to(self, index: int) -> None:
        if self._count:
            self.cursor = max(0, min(self._count - 1, index))

    def action_cursor(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(self._count - 1)

    def action_select(self) -> None:
        if self._count:
            self.post_message(self.Selected(self, self.cursor))

    def on_click(self, event) -> None:
        index = int(self.scroll_offset.y) + event.y
        if 0 <= index < self._count:
            if index == self.cursor:
                self.action_select()
            self.move_to(index)

    @property
    def at_end(self) -> bool:
        return self.scroll_offset.y >= self.max_scroll_y - 1


# Textual's own lists (the task board, the approval queue, pick-one dialogs, F1) know only the
# arrows; F1 promises j/k and g/G for lists. Same binding ids as LineList, so a remap in
# etc/tui.json moves them all together. Page keys stay Textual's (b and space mean other
# things in those panes).
class KeyedOptionList(OptionList):
    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="list.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("home,g", "first", "First", show=False, id="list.first"),
        Binding("end,G", "last", "Last", show=False, id="list.last"),
    ]


class KeyedDataTable(DataTable):
    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="list.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("home,g", "scroll_top", "First", show=False, id="list.first"),
        Binding("end,G", "scroll_bottom", "Last", show=False, id="list.last"),
    ]
