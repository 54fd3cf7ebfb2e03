"""The small protocol between the chat pane and whatever answers (core chat or operator).

Why: the pane must not know the LLM plumbing. A backend is any object with
`stream(prompt, *, history, yolo) -> AsyncIterator[ChatEvent]`; the adapter in chat_backend.py
turns the core's chat/operator events into these. No Textual imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Protocol, Union


@dataclass(frozen=True)
class TextDelta:
    """A fragment of the assistant's Markdown answer."""
    text: str


@dataclass(frozen=True)
class ToolCalled:
    """The operator called a skill."""
    call_id: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolReturned:
    """A skill call finished (ok) or failed/was denied (not ok)."""
    call_id: str
    name: str
    ok: bool
    output: str


@dataclass(frozen=True)
class ApprovalRequested:
    """The operator paused: a person must approve or reject queue item `approval_id`."""
    approval_id: str
    skill: str
    args: dict[str, Any] = field(default_factory=dict)
    risk: str = ""


@dataclass(frozen=True)
class ApprovalSettled:
    """The approval was decided (here, in another pane, or by another process)."""
    approval_id: str
    status: str
    reason: str = ""


@dataclass(frozen=True)
class Thinking:
    """The model is generating (operator step `step`): seconds so far and tokens so far."""
    step: str
    elapsed: float = 0.0
    tokens: int = 0


@dataclass(frozen=True)
class Notice:
    """Side information (model used, step budget...) shown dimmed."""
    text: str


ChatEvent = Union[TextDelta, ToolCalled, ToolReturned, ApprovalRequested, ApprovalSettled,
                  Thinking, Notice]


class ChatBackend(Protocol):
    def stream(self, prompt: str, *, history: list[dict[str, str]],
               yolo: bool) -> AsyncIterator[ChatEvent]:
        ...
