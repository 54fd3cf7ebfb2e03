"""Adapter from the core's ChatSession (persona chat + operator route) to the pane's protocol.

Why: the core's `ChatSession.send` is blocking and reports through callbacks (`on_token`,
`on_event`); the pane wants an async stream it can cancel. The session runs in a thread and
hands events over through an asyncio queue. Cancelling (Esc) sets the session's cancel Event: the
core stops the model call within a fraction of a second (llm/bounded.py) and an operator run
ends "interrupted" in its record, the same path as Ctrl-C and SIGTERM in the CLI.
This is the one file to touch when the core's chat API changes. No widget code here.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator

from ..screens.services import Unavailable
from .chat_events import (ApprovalRequested, ApprovalSettled, ChatEvent, Notice, TextDelta,
                          Thinking, ToolCalled, ToolReturned)


class _Stopped(Exception):
    """Raised inside the core's callbacks once the pane cancelled the reply."""


class MissingBackend:
    def __init__(self, reason: str):
        self.reason = reason

    async def stream(self, prompt: str, *, history: list[dict[str, str]],
                     yolo: bool) -> AsyncIterator[ChatEvent]:
        raise Unavailable(self.reason)
        yield  # pragma: no cover - makes this an async generator


def translate(event: Any) -> ChatEvent | None:
    """An OperatorEvent(kind, step, data) → a pane event (None: nothing to show)."""
    kind = str(getattr(event, "kind", "") or "")
    step = str(getattr(event, "step", "") or "")
    data = getattr(event, "data", None) or {}
    skill = str(data.get("skill") or "?")
    if kind == "tool_call":
        return ToolCalled(step, skill, dict(data.get("args") or {}))
    if kind == "observation":
        return ToolReturned(step, skill, data.get("status") == "ok", str(data.get("text") or ""))
    if kind == "approval_pending":
        return ApprovalRequested(str(data.get("approval_id")), skill, dict(data.get("args") or {}),
                                 str(data.get("risk") or ""))
    if kind == "approval_decided":
        return ApprovalSettled(str(data.get("approval_id")), str(data.get("status") or ""),
                               str(data.get("reason") or ""))
    if kind == "thinking":
        return Thinking(step, float(data.get("elapsed") or 0.0), int(data.get("tokens") or 0))
    if kind == "nudge":
        return Notice("the model answered without calling a tool; asking it once to use one")
    if kind in ("started", "resumed") and data.get("run_id"):
        return Notice(f"operator run {data['run_id']}")
    return None


APPROVAL_WAIT_S = 900.0


class CoreChatBackend:
    """One conversation with the core's ChatSession (history set from the pane each turn)."""

    def __init__(self, profile: Any, *, actor: str = "tui"):
        self.profile = profile
        self.actor = actor
        self.session = None
        self._resume: tuple[str, int] | None = None   # for a session not made yet

    def new_conversation(self) -> None:
        """Ctrl+N: the next exchange starts a new conversation id (turn 1)."""
        self._resume = None
        if self.session is not None:
            self.session.new_conversation()

    def resume(self, conversation: str, turns: int) -> None:
        """Ctrl+O: the next exchange is turn `turns + 1` of a reopened conversation."""
        self._resume = (conversation, turns)
        if self.session is not None:
            self.session.resume(conversation, turns)

    async def stream(self, prompt: str, *, history: list[dict[str, str]],
                     yolo: bool) -> AsyncIterator[ChatEvent]:
        from metahuman_core.llm.base import Message

        if self.session is None:
            from metahuman_core.chat import ChatSession

            # the operator route waits for approvals answered inline in the pane (up to 15 min)
            self.session = ChatSession(self.profile, actor=self.actor, yolo=yolo,
                                       approval_wait=APPROVAL_WAIT_S)
            if self._resume is not None:
                self.session.resume(*self._resume)
        session = self.session
        session.yolo = yolo
        session.history = [Message(h["role"], h["content"]) for h in history]
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        session.cancel = stop

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:   # the loop closed (app quit mid-reply): nobody is listening
                stop.set()

        def on_token(text: str) -> None:
            if stop.is_set():
                raise _Stopped()
            put(TextDelta(text))

        def on_event(event: Any) -> None:
            item = None if stop.is_set() else translate(event)
            if isinstance(item, ApprovalRequested) and not item.risk:
                item = ApprovalRequested(item.approval_id, item.skill, item.args,
                                         _risk_of(self.profile, item.approval_id))
            if item is not None:
                put(item)

        def run() -> None:
            try:
                put(("done", session.send(prompt, on_token=on_token, on_event=on_event)))
            except BaseException as exc:  # noqa: BLE001 - handed to the pane
                put(("error", exc))

        threading.Thread(target=run, name="mh-tui-chat", daemon=True).start()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, tuple):
                    tag, value = item
                    if tag == "error":
                        if isinstance(value, _Stopped):
                            return
                        raise value
                    note = getattr(value, "note", None)
                    if note:
                        yield Notice(str(note))
                    if getattr(value, "interrupted", False):
                        yield Notice("interrupted")
                    return
                yield item
        finally:
            stop.set()


def _risk_of(profile: Any, approval_id: str) -> str:
    try:
        from metahuman_core.approvals import ApprovalQueue

        return str(ApprovalQueue(profile).get(approval_id).get("risk") or "")
    except Exception:  # noqa: BLE001 - the card still works without it
        return ""


def default_backend(profile: Any):
    """The core chat when it exists; otherwise a backend that explains what is missing."""
    try:
        import metahuman_core.chat  # noqa: F401
    except ImportError as exc:
        return MissingBackend(f"chat is not available yet: metahuman_core.chat ({exc})")
    return CoreChatBackend(profile)
