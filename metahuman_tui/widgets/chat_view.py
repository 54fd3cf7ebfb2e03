"""Chat transcript pieces: the person's message, a streamed reply, tool calls, inline approvals.

Why: a reply is a sequence of parts (text, tool call, text, approval, text…). Text parts stream
through Textual's MarkdownStream (appends only the new fragment: cost stays flat as the answer
grows, unlike re-rendering the whole message per chunk), and get one full `update` at the end
so code fences render right (oterm #308).
"""

from __future__ import annotations

import json

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.binding import Binding
from textual.widgets import Button, Collapsible, Label, Markdown, Static
from textual.widgets.markdown import MarkdownFence, MarkdownStream

from .chat_events import ApprovalRequested, Thinking, ToolCalled, ToolReturned


def _args(args: dict, limit: int = 120) -> str:
    text = json.dumps(args, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[:limit - 3] + "…"


APPROVAL_ARGS_SHOWN = 1200   # a person approves what they can read: the card wraps, not crops


class CodeFence(MarkdownFence):
    """A code block wider than the chat scrolls sideways: Tab reaches it (only when it is
    wider), ←/→ and Home/End move; the mouse and its scrollbar work too."""

    BINDINGS = [Binding("left", "scroll_left", "Left", show=False),
                Binding("right", "scroll_right", "Right", show=False),
                Binding("home", "side(0)", "Start", show=False),
                Binding("end", "side(1)", "End", show=False)]

    @property  # type: ignore[override]
    def can_focus(self) -> bool:
        """Asked when focus moves, so it is right whenever the content or the size changed
        (a flag set on resize missed content laid out after the last resize)."""
        return self.virtual_size.width > self.scrollable_content_region.width

    @can_focus.setter
    def can_focus(self, value: bool) -> None:  # Textual may assign the class default
        pass

    def action_side(self, end: int) -> None:
        self.scroll_to(x=self.max_scroll_x if end else 0, animate=False)


class ReplyMarkdown(Markdown):
    BLOCKS = {**Markdown.BLOCKS, "fence": CodeFence, "code_block": CodeFence}


class UserMessage(Static):
    def __init__(self, text: str) -> None:
        super().__init__(text, markup=False, classes="msg -user")
        self.text = text


class ToolCallRow(Collapsible):
    """`⚙ skill {args}` — then ✓/✗ and the output, collapsed; Enter expands."""

    def __init__(self, event: ToolCalled) -> None:
        self.event = event
        self.output = Static("running…", markup=False, classes="tool-output")
        super().__init__(self.output, title=f"⚙ {event.name} {_args(event.args)}",
                         collapsed=True, classes="tool-call")

    def returned(self, event: ToolReturned) -> None:
        mark = "✓" if event.ok else "✗"
        self.title = f"{mark} {self.event.name} {_args(self.event.args)}"
        self.set_class(not event.ok, "-failed")
        text = event.output if len(event.output) <= 4000 else event.output[:4000] + "\n…"
        self.output.update(text or "(no output)")


class ApprovalCard(Vertical):
    """The operator is waiting: approve or reject here, without leaving the chat."""

    class Decided(Message):
        def __init__(self, card: "ApprovalCard", approve: bool) -> None:
            super().__init__()
            self.card = card
            self.approve = approve

    def __init__(self, event: ApprovalRequested) -> None:
        super().__init__(classes="approval-card")
        self.event = event

    def compose(self) -> ComposeResult:
        risk = f" · risk {self.event.risk}" if self.event.risk else ""
        yield Static(f"⚑ approval needed{risk}: {self.event.skill} "
                     f"{_args(self.event.args, APPROVAL_ARGS_SHOWN)}",
                     markup=False, classes="approval-title")
        with Horizontal(classes="approval-buttons"):
            yield Button("Approve", id="approve", variant="success", compact=True)
            yield Button("Reject…", id="reject", variant="error", compact=True)
            yield Label("Shift+Tab to choose", classes="approval-hint")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Decided(self, event.button.id == "approve"))

    def decided(self, text: str) -> None:
        for button in self.query(Button):
            button.disabled = True
        self.query_one(".approval-title", Static).update(text)
        self.add_class("-decided")


WAITING = "⋯ waiting for the model (Esc cancels)"


class Reply(Vertical):
    """One assistant turn. The chat screen's handlers feed it events in order. Until the first
    event it says the model is working (a slow local model may take many seconds)."""

    def __init__(self, *, waiting: bool = True) -> None:
        super().__init__(classes="msg -reply")
        self.parts: list[tuple[Markdown, list[str]]] = []
        self._stream: MarkdownStream | None = None
        self.tools: dict[str, ToolCallRow] = {}
        self.received = False
        self._waiting = waiting
        self._thinking: Static | None = None

    def compose(self) -> ComposeResult:
        if self._waiting:
            yield Static(WAITING, classes="notice waiting")

    async def thinking(self, event: Thinking) -> None:
        """Progress of the model (operator step): shown until the next event. It is not
        content: Esc before any content still drops the whole turn."""
        n = event.tokens
        text = (f"⋯ thinking… {event.elapsed:.0f} s, {n:,} token{'s' if n != 1 else ''} "
                "(Esc cancels)")
        if self._thinking is not None:
            self._thinking.update(text)
            return
        for widget in self.query(".waiting"):
            await widget.remove()
        self._thinking = Static(text, markup=False, classes="notice thinking")
        await self.mount(self._thinking)

    async def _arrived(self) -> None:
        if self._thinking is not None:
            line, self._thinking = self._thinking, None
            await line.remove()
        if not self.received:
            self.received = True
            for widget in self.query(".waiting"):
                await widget.remove()

    @property
    def text(self) -> str:
        return "\n\n".join("".join(chunks) for _md, chunks in self.parts).strip()

    async def write(self, fragment: str) -> None:
        await self._arrived()
        if self._stream is None:
            md = ReplyMarkdown("", classes="reply-text")
            await self.mount(md)
            self.parts.append((md, []))
            self._stream = Markdown.get_stream(md)
        self.parts[-1][1].append(fragment)
        await self._stream.write(fragment)

    async def close_text(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None

    async def add_tool_call(self, event: ToolCalled) -> None:
        await self._arrived()
        await self.close_text()
        row = ToolCallRow(event)
        self.tools[event.call_id] = row
        await self.mount(row)

    async def tool_returned(self, event: ToolReturned) -> None:
        row = self.tools.get(event.call_id)
        if row is None:  # a result without its call: show both
            await self.add_tool_call(ToolCalled(event.call_id, event.name, {}))
            row = self.tools[event.call_id]
        row.returned(event)

    async def add_approval(self, event: ApprovalRequested) -> None:
        await self._arrived()
        await self.close_text()
        await self.mount(ApprovalCard(event))

    async def add_notice(self, text: str, *, error: bool = False) -> None:
        await self._arrived()
        await self.close_text()
        await self.mount(Static(text, markup=False, classes="notice" + (" -error" if error else "")))

    async def finish(self) -> None:
        """Stop streaming and re-render each text part once from its full source."""
        if self._thinking is not None:
            line, self._thinking = self._thinking, None
            await line.remove()
        await self.close_text()
        for md, chunks in self.parts:
            await md.update("".join(chunks))
        if not self.parts and not self.tools and not self.query(ApprovalCard):
            await self.add_notice("(empty reply)")

    async def cancelled(self) -> None:
        """Esc: keep what arrived, rendered whole, and say it was cut short."""
        await self.finish()
        await self.add_notice("⊘ cancelled: the reply above is partial and was not saved",
                              error=True)
        self.add_class("-cancelled")
