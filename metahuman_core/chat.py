"""Persona chat: one exchange = retrieve → prompt → stream → save as a `conversation` memory.

Action requests ("list the markdown files in docs/", "delete out/test.txt") go to the operator
instead of being answered with words. The router is a plain, documented heuristic (no extra LLM
call, so it costs nothing and never guesses silently):

    a message is an action request when, after an optional polite opener ("please", "can you",
    "could you", "would you", "hey"), its first word is an action verb (ACTION_VERBS) AND it
    names something the skills act on (OBJECT_RE: files, paths, docs/, out/, README, git, tasks,
    memories, the web).

"What do you think about git?" stays chat (first word "what"); "Show me the git status" goes to the
operator. Faces may force a route (`route="chat"` / `"operator"`, the REPL's `/op GOAL`).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from . import activity, clock, events
from .ids import stamp
from .llm.base import LLMUnavailable, Message
from .llm.bounded import Interrupted
from .llm.factory import LLM
from .operator_protocol import OBJECT_RE
from .prompt import build_system_prompt
from .redact import register_profile_secrets

ACTION_VERBS = frozenset("""list show read open create write save make delete remove erase search
find look run add mark complete finish close start check summarize summarise capture fetch
google browse update set cat display print""".split())
POLITE_RE = re.compile(r"^(?:(?:please|pls|hey|ok|okay|now|then|and|so|can you|could you|would "
                       r"you|will you|i want you to|i'd like you to|go ahead and)[\s,]+)+", re.I)
HISTORY_TURNS = 6


def looks_like_action(text: str) -> bool:
    stripped = POLITE_RE.sub("", text.strip())
    first = re.match(r"[A-Za-z]+", stripped)
    return bool(first and first.group(0).lower() in ACTION_VERBS and OBJECT_RE.search(stripped))


class ThinkFilter:
    """Drop <think>…</think> blocks from a token stream (reasoning models put them in content)."""

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self.buf, self.inside, self.started = "", False, False

    def feed(self, text: str) -> str:
        self.buf += text
        out = []
        while True:
            if self.inside:
                i = self.buf.find(self.CLOSE)
                if i < 0:
                    self.buf = self.buf[-(len(self.CLOSE) - 1):]
                    break
                self.buf, self.inside = self.buf[i + len(self.CLOSE):], False
                continue
            i = self.buf.find(self.OPEN)
            if i >= 0:
                out.append(self.buf[:i])
                self.buf, self.inside = self.buf[i + len(self.OPEN):], True
                continue
            keep = next((k for k in range(len(self.OPEN) - 1, 0, -1)
                         if self.buf.endswith(self.OPEN[:k])), 0)
            out.append(self.buf[:len(self.buf) - keep])
            self.buf = self.buf[len(self.buf) - keep:]
            break
        return self._visible("".join(out))

    def flush(self) -> str:
        rest, self.buf = ("" if self.inside else self.buf), ""
        return self._visible(rest)

    def _visible(self, text: str) -> str:
        if not self.started:
            text = text.lstrip()
            self.started = bool(text)
        return text


@dataclass
class ChatReply:
    text: str
    route: str  # chat | operator
    model: str | None = None
    memory_id: str | None = None
    grounding: list[str] = field(default_factory=list)
    note: str | None = None
    operator: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    interrupted: bool = False  # stopped (Esc, Ctrl-C, SIGTERM) before the reply was complete

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_conversation_id() -> str:
    """conv-YYYYMMDD-HHMMSS-<6 hex>: sorts by start time, unique across processes."""
    return f"conv-{stamp(clock.now())}-{secrets.token_hex(3)}"


def save_exchange(profile, user_text: str, reply: str, *, actor: str,
                  tags: list[str] | None = None, model: str | None = None,
                  conversation: str | None = None, turn: int | None = None) -> str | None:
    """The exchange as one `conversation` memory; returns its id. metadata.conversation and
    metadata.turn tie the exchanges of one conversation together (the TUI reopens them whole)."""
    from .memory import MemoryStore

    meta = {k: v for k, v in (("model", model), ("conversation", conversation), ("turn", turn))
            if v is not None}
    record = MemoryStore(profile).capture(content=user_text, type="conversation", response=reply,
                                          tags=tags or ["chat"], actor=actor, source="chat",
                                          metadata=meta or None)
    if isinstance(record, dict):
        return record.get("id")
    return getattr(record, "id", None) or (str(record) if isinstance(record, str) else None)


class ChatSession:
    """One conversation. Faces keep one per window/REPL; `send` is blocking and streams tokens
    through `on_token`. Not thread-safe: one `send` at a time.

    `approval_wait` (seconds; default etc/operator.json approvalWaitSeconds) is how long an
    action routed to the operator waits for a decision before pausing: the TUI passes a long
    wait and decides in its approval pane. Setting `cancel` (Esc, Ctrl-C, SIGTERM) stops the
    model call within a fraction of a second (llm/bounded.py): a persona reply comes back
    `interrupted` and unsaved, an operator run ends "interrupted".

    Each session is one conversation (`conversation`, a new id); every exchange it completes is
    the next `turn`. `new_conversation()` starts another; `resume(id, turns)` continues one
    reopened from the saved exchanges.
    """

    approval_wait: float | None = None
    cancel: threading.Event | None = None

    def __init__(self, profile, *, llm: LLM | None = None, actor: str = "cli", yolo: bool = False,
                 route: str = "auto", save: bool = True, history_turns: int = HISTORY_TURNS,
                 approval_wait: float | None = None, cancel: threading.Event | None = None):
        if route not in ("auto", "chat", "operator"):
            raise ValueError(f"route must be auto, chat or operator, not {route!r}")
        self.profile = profile
        self.llm = llm or LLM(profile)
        self.actor = actor
        self.yolo = yolo
        self.route = route
        self.save = save
        self.history: list[Message] = []
        self.history_turns = history_turns
        self.conversation = new_conversation_id()
        self.turn = 0   # exchanges completed in this conversation
        register_profile_secrets(profile)  # upstream errors are scrubbed of them (redact.py)
        if approval_wait is not None:
            self.approval_wait = approval_wait
        if cancel is not None:
            self.cancel = cancel

    def new_conversation(self) -> str:
        """Forget the history and start a new conversation id (the TUI's Ctrl+N)."""
        self.conversation, self.turn, self.history = new_conversation_id(), 0, []
        return self.conversation

    def resume(self, conversation: str, turns: int) -> None:
        """Continue a saved conversation that has `turns` exchanges (the face sets `history`)."""
        self.conversation, self.turn = conversation, max(0, int(turns))

    def send(self, text: str, *, on_token: Callable[[str], None] | None = None,
             on_event: Callable[[Any], None] | None = None, route: str | None = None) -> ChatReply:
        text = text.strip()
        if not text:
            from .errors import ValidationFailed

            raise ValidationFailed("empty message")
        route = route or self.route
        activity.touch(self.profile, "chat")
        try:
            if route == "operator" or (route == "auto" and looks_like_action(text)):
                return self._operate(text, on_token=on_token, on_event=on_event)
            return self._chat(text, on_token=on_token)
        except LLMUnavailable as exc:
            self.profile.audit.append(events.LLM_UNAVAILABLE, level="warn", actor=self.actor,
                                      details={"error": exc.message, "via": "chat"})
            raise

    # ------------------------------------------------------------------ persona chat
    def _chat(self, text: str, *, on_token) -> ChatReply:
        started = time.perf_counter()
        prompt = build_system_prompt(self.profile, text)
        messages = [Message("system", prompt.text), *self.history, Message("user", text)]
        visible = ThinkFilter()
        parts: list[str] = []

        def token(delta: str) -> None:
            shown = visible.feed(delta)
            if shown:
                parts.append(shown)
                if on_token:
                    on_token(shown)

        try:
            result = self.llm.chat(messages, on_token=token, cancel=self.cancel)
        except Interrupted:
            reply = "".join(parts).strip()
            return self._finish(text, reply, "chat", started, model=self.llm.last_model,
                                grounding=prompt.memory_ids, problems=prompt.problems,
                                interrupted=True)
        tail = visible.flush()
        if tail:
            parts.append(tail)
            if on_token:
                on_token(tail)
        reply = "".join(parts).strip()
        self._remember(text, reply)
        return self._finish(text, reply, "chat", started, model=result.model,
                            grounding=prompt.memory_ids, problems=prompt.problems)

    # ------------------------------------------------------------------ operator route
    def _operate(self, text: str, *, on_token, on_event) -> ChatReply:
        from .operator import run_operator

        started = time.perf_counter()
        result = run_operator(self.profile, text, yolo=self.yolo, requested_by=self.actor,
                              llm=self.llm, on_event=on_event, approval_wait=self.approval_wait,
                              cancel=self.cancel)
        if result.status == "failed" and result.error_kind in ("unavailable", "model_missing"):
            raise LLMUnavailable(result.error or "no model", hint=result.hint)
        reply = result.summary()
        if on_token:
            on_token(reply)
        interrupted = result.status == "interrupted"
        if not interrupted:
            self._remember(text, reply)
        return self._finish(text, reply, "operator", started, model=result.model,
                            operator=result.to_dict(), tags=["chat", "operator"],
                            interrupted=interrupted)

    # ------------------------------------------------------------------ shared
    def _remember(self, text: str, reply: str) -> None:
        self.history += [Message("user", text), Message("assistant", reply)]
        self.history = self.history[-2 * self.history_turns:]

    def _finish(self, text: str, reply: str, route: str, started: float, *, model=None,
                grounding=None, problems=None, operator=None, tags=None,
                interrupted: bool = False) -> ChatReply:
        """Save (unless interrupted: half a reply is not an exchange worth remembering) and audit."""
        memory_id = None
        if not interrupted:
            self.turn += 1
        if self.save and not interrupted:
            memory_id = save_exchange(self.profile, text, reply, actor=self.actor,
                                      tags=tags or ["chat"], model=model,
                                      conversation=self.conversation, turn=self.turn)
        took = round((time.perf_counter() - started) * 1000, 1)
        self.profile.audit.append(events.CHAT_EXCHANGE, category="action", actor=self.actor, details={
            "route": route, "model": model, "memory_id": memory_id,
            "grounding": list(grounding or []), "chars_in": len(text), "chars_out": len(reply),
            "yolo": self.yolo, "duration_ms": took, "interrupted": interrupted})
        return ChatReply(text=reply, route=route, model=model, memory_id=memory_id,
                         grounding=list(grounding or []), note=self.llm.last_note,
                         operator=operator, problems=list(problems or []), duration_ms=took,
                         interrupted=interrupted)


def chat_once(profile, text: str, **kw) -> ChatReply:
    """`mh chat --message TEXT`: one exchange in a fresh session."""
    on_token = kw.pop("on_token", None)
    return ChatSession(profile, **kw).send(text, on_token=on_token)
