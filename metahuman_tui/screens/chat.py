"""Chat pane: streamed replies, tool calls and approvals inline, YOLO switch, Esc to cancel.

Why this shape (oterm): the reply runs in an async worker that only posts events; handlers on
this screen draw them. Esc cancels the worker, removes the partial turn and puts the prompt
back, so typed text is never lost. The transcript follows new output only while the person is
at the bottom (anchored scroll).
"""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Label, Static, Switch

from ..widgets.chat_events import (
    ApprovalRequested,
    ApprovalSettled,
    Notice,
    TextDelta,
    Thinking,
    ToolCalled,
    ToolReturned,
)
from ..widgets.chat_view import ApprovalCard, Reply, UserMessage
from ..widgets.conversations import conversation_of, group_conversations
from ..widgets.prompt_area import PromptArea
from .base import PaneScreen
from .modals import ChoiceScreen, PromptScreen
from .services import Unavailable, error_text

WELCOME = ("Talk to your twin. Enter sends · {newline} new line · {cancel} cancels a reply · "
           "{history} past conversations · {new} new conversation · {copy} copies the last "
           "reply · {yolo} YOLO · PgUp/PgDn scroll.")


class ReplyEvent(Message):
    def __init__(self, event) -> None:
        super().__init__()
        self.event = event


class ReplyFinished(Message):
    pass


class ReplyCancelled(Message):
    pass


class ReplyFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class HistoryLoaded(Message):
    def __init__(self, items: list[dict], error: str | None = None) -> None:
        super().__init__()
        self.items, self.error = items, error


class ApprovalDecided(Message):
    def __init__(self, card: ApprovalCard, text: str) -> None:
        super().__init__()
        self.card = card
        self.text = text


class ChatScreen(PaneScreen):
    PANE = "chat"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel reply", id="chat.cancel"),
        Binding("ctrl+n", "new_chat", "New chat", id="chat.new"),
        Binding("ctrl+o", "history", "History", id="chat.history"),
        Binding("ctrl+y", "copy_reply", "Copy reply", id="chat.copy"),
        Binding("pageup", "scroll_log(-1)", "Scroll up", id="chat.page_up", show=False),
        Binding("pagedown", "scroll_log(1)", "Scroll down", id="chat.page_down", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict[str, str]] = []
        self.reply: Reply | None = None
        self.user_msg: UserMessage | None = None
        self.prompt = ""

    def compose_pane(self) -> ComposeResult:
        with Horizontal(id="chat-header"):
            yield Label("Conversation", id="chat-title")
            yield Label("YOLO", id="yolo-label")
            yield Switch(value=False, id="yolo-switch", animate=False)
        with VerticalScroll(id="chat-log"):
            yield Static(self.welcome(), classes="notice welcome", id="chat-welcome")
        yield PromptArea(placeholder="Message your twin… (Enter sends, Ctrl+J new line)",
                         id="chat-input")

    def welcome(self) -> str:
        """The welcome line names the keys in force (etc/tui.json may remap them)."""
        key = self.app.key_for  # type: ignore[attr-defined]
        return WELCOME.format(newline="Shift+Enter/Ctrl+J", cancel=key("chat.cancel"),
                              history=key("chat.history"), new=key("chat.new"),
                              copy=key("chat.copy"), yolo=key("yolo"))

    def on_mount(self) -> None:
        self.query_one("#chat-log").anchor()
        self.watch(self.app, "yolo", self._sync_yolo)
        self.watch(self.app, "keymap_version", self._keys_changed, init=False)
        self.query_one("#chat-input").focus()

    def _keys_changed(self, _version: int) -> None:
        for welcome in self.query(".welcome"):
            welcome.update(self.welcome())  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ YOLO
    def _sync_yolo(self, on: bool) -> None:
        switch = self.query_one("#yolo-switch", Switch)
        if switch.value != on:
            with switch.prevent(Switch.Changed):
                switch.value = on

    @on(Switch.Changed, "#yolo-switch")
    def yolo_switched(self, event: Switch.Changed) -> None:
        self.app.request_yolo(event.value)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ sending
    @property
    def busy(self) -> bool:
        return self.reply is not None

    @on(PromptArea.Submitted, "#chat-input")
    async def send(self, event: PromptArea.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        if self.busy:
            self.notify("A reply is still streaming: Esc cancels it (your draft stays here).",
                        severity="warning")
            return
        self.prompt = text
        event.prompt_area.value = ""
        log = self.query_one("#chat-log", VerticalScroll)
        self.user_msg = UserMessage(text)
        self.reply = Reply()
        await log.mount_all([self.user_msg, self.reply])
        log.anchor()
        self.run_reply(text, list(self.history), self.app.yolo)  # type: ignore[attr-defined]

    @work(exclusive=True, group="chat", exit_on_error=False)
    async def run_reply(self, prompt: str, history: list[dict[str, str]], yolo: bool) -> None:
        """Stream one reply; only posts messages (handlers below draw them)."""
        try:
            backend = self.services.chat()
            async for item in backend.stream(prompt, history=history, yolo=yolo):
                self.post_message(ReplyEvent(item))
        except asyncio.CancelledError:
            self.post_message(ReplyCancelled())
            raise
        except Unavailable as exc:
            self.post_message(ReplyFailed(str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - shown to the person, prompt kept
            self.post_message(ReplyFailed(error_text(exc)))
            return
        self.post_message(ReplyFinished())

    async def on_reply_event(self, message: ReplyEvent) -> None:
        reply, item = self.reply, message.event
        if reply is None:
            return
        if isinstance(item, TextDelta):
            await reply.write(item.text)
        elif isinstance(item, ToolCalled):
            await reply.add_tool_call(item)
        elif isinstance(item, ToolReturned):
            await reply.tool_returned(item)
        elif isinstance(item, ApprovalRequested):
            await reply.add_approval(item)
            self.app.refresh_status()  # type: ignore[attr-defined]
        elif isinstance(item, ApprovalSettled):
            for card in self.query(ApprovalCard):
                if card.event.approval_id == item.approval_id and not card.has_class("-decided"):
                    card.decided(f"{item.status}: {card.event.skill}"
                                 + (f" — {item.reason}" if item.reason else ""))
                    self._refocus_prompt(card)
            self.app.refresh_status()  # type: ignore[attr-defined]
        elif isinstance(item, Notice):
            await reply.add_notice(item.text)
        elif isinstance(item, Thinking):
            await reply.thinking(item)

    async def on_reply_finished(self, _: ReplyFinished) -> None:
        if self.reply is None:
            return
        await self.reply.finish()
        self.history += [{"role": "user", "content": self.prompt},
                         {"role": "assistant", "content": self.reply.text}]
        self.reply = self.user_msg = None

    async def on_reply_cancelled(self, _: ReplyCancelled) -> None:
        reply = self.reply
        waiting = [c.event for c in (reply.query(ApprovalCard) if reply else [])
                   if not c.has_class("-decided")]
        if reply is not None and reply.received:
            # what arrived stays, marked cancelled (not saved, not sent back as history)
            for card in reply.query(ApprovalCard):
                await card.remove()
            await reply.cancelled()
            self.reply = self.user_msg = None
            self._restore_prompt()
        else:
            await self._drop_turn()
        self.notify("Reply cancelled; your message is back in the prompt.")
        for event in waiting:   # the card goes with the turn; the queued request does not
            self.notify(f"{event.approval_id} ({event.skill}) still waits in Approvals (F5): "
                        "approving it there runs it; reject it if you changed your mind.",
                        severity="warning", timeout=12)

    async def on_reply_failed(self, message: ReplyFailed) -> None:
        if self.reply is not None:
            await self.reply.add_notice(f"✗ {message.reason}", error=True)
            await self.reply.close_text()
        self.reply = self.user_msg = None
        self._restore_prompt()

    async def _drop_turn(self) -> None:
        if self.reply is not None:
            await self.reply.close_text()
        for widget in (self.reply, self.user_msg):
            if widget is not None:
                await widget.remove()
        self.reply = self.user_msg = None
        self._restore_prompt()

    def _restore_prompt(self) -> None:
        box = self.query_one("#chat-input", PromptArea)
        if not box.value:
            box.value = self.prompt
        box.focus()

    def action_scroll_log(self, direction: int) -> None:
        """PgUp/PgDn scroll the transcript while the prompt keeps the focus."""
        log = self.query_one("#chat-log", VerticalScroll)
        if direction < 0:
            log.scroll_page_up(animate=False)
        else:
            log.scroll_page_down(animate=False)

    def action_cancel(self) -> None:
        if self.busy:
            self.workers.cancel_group(self, "chat")
        else:
            self.query_one("#chat-input").focus()

    # ------------------------------------------------------------------ approvals inline
    @on(ApprovalCard.Decided)
    def approval_decided(self, event: ApprovalCard.Decided) -> None:
        card = event.card
        if event.approve:
            self.decide_in_thread(card, True, "")
            return
        self.app.push_screen(
            PromptScreen("Reason for rejecting (the operator reads it)", required=True),
            lambda reason: self.decide_in_thread(card, False, reason) if reason else None)

    @work(thread=True, group="chat-approval", exit_on_error=False)
    def decide_in_thread(self, card: ApprovalCard, approve: bool, reason: str) -> None:
        approval_id = card.event.approval_id
        try:
            queue = self.services.approvals()
            if approve:
                item = queue.approve(approval_id, by="human")
                text = f"✓ approved: {card.event.skill} ({item.get('status')})"
            else:
                queue.reject(approval_id, by="human", reason=reason)
                text = f"✗ rejected: {card.event.skill} — {reason}"
        except Exception as exc:  # noqa: BLE001
            text = f"! could not decide {approval_id}: {exc}"
        self.post_message(ApprovalDecided(card, text))

    def on_approval_decided(self, message: ApprovalDecided) -> None:
        message.card.decided(message.text)
        self._refocus_prompt(message.card)
        self.app.refresh_status()  # type: ignore[attr-defined]

    def _refocus_prompt(self, card: ApprovalCard | None) -> None:
        """A decided card hides its buttons: focus goes back to the prompt, not nowhere
        (typing into a vanished button did nothing). The draft is kept, never selected."""
        focused = self.focused
        if focused is None or focused is card or (card is not None and card in focused.ancestors):
            self.query_one("#chat-input").focus()

    # ------------------------------------------------------------------ conversations
    async def action_new_chat(self) -> None:
        if self.busy:
            self.workers.cancel_group(self, "chat")
            self.reply = self.user_msg = None   # the old turn goes with the transcript
        log = self.query_one("#chat-log", VerticalScroll)
        await log.remove_children()
        await log.mount(Static(self.welcome(), classes="notice welcome"))
        self.history = []
        self.query_one("#chat-title", Label).update("Conversation")
        self._backend_call("new_conversation")

    def _backend_call(self, name: str, *args) -> None:
        """Tell the backend where the next exchange belongs (a test's fake may not care)."""
        try:
            method = getattr(self.services.chat(), name, None)
        except Exception:  # noqa: BLE001 - no backend: the next send says why
            return
        if method is not None:
            method(*args)

    def action_copy_reply(self) -> None:
        replies = [r for r in self.query(Reply) if r.text]
        if not replies:
            self.notify("No reply to copy yet.")
            return
        self.app.copy_text(replies[-1].text, "the last reply")  # type: ignore[attr-defined]

    def action_history(self) -> None:
        self.load_history()

    @work(thread=True, exclusive=True, group="chat-history", exit_on_error=False)
    def load_history(self) -> None:
        try:
            items = self.services.memory().list(type="conversation", limit=300)
        except Exception as exc:  # noqa: BLE001
            self.post_message(HistoryLoaded([], str(exc)))
            return
        self.post_message(HistoryLoaded(group_conversations(items)[:50]))

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        if message.error:
            self.notify(message.error, severity="warning")
            return
        chats = message.items
        if not chats:
            self.notify("No saved conversations yet.")
            return
        options = []
        for i, turns in enumerate(chats):
            first = turns[0]
            when = str(first.get("timestamp", ""))[:16].replace("T", " ")
            count = f" ({len(turns)} turns)" if len(turns) > 1 else ""
            text = " ".join(str(first.get("content", "")).split())[:56]
            options.append((str(i), f"{when}  {text}{count}"))

        async def chosen(index: str | None) -> None:
            if index is not None:
                await self.load_conversation(chats[int(index)])

        self.app.push_screen(ChoiceScreen("Past conversations", options), chosen)

    async def load_conversation(self, turns: list[dict]) -> None:
        """Show a saved conversation, every turn, and continue from it."""
        await self.action_new_chat()
        log = self.query_one("#chat-log", VerticalScroll)
        self.history = []
        for memory in turns:
            question = str(memory.get("content", ""))
            answer = str(memory.get("response") or "")
            reply = Reply(waiting=False)
            await log.mount_all([UserMessage(question), reply])
            await reply.write(answer or "(no saved answer)")
            await reply.finish()
            self.history += [{"role": "user", "content": question},
                             {"role": "assistant", "content": answer}]
        # new messages continue it: same id (an old exchange without one: its memory id)
        conversation, done = conversation_of(turns)
        self._backend_call("resume", conversation, done)
        self.query_one("#chat-title", Label).update(f"Conversation {turns[0]['id']}"
                                                    + (f" · {len(turns)} turns"
                                                       if len(turns) > 1 else ""))
