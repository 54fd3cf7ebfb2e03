"""The one protocol every LLM backend speaks, the message types it speaks in, and its errors.

Chat, the operator and the agents only see these types; Ollama's, OpenAI's and llama.cpp's wire
formats stay inside their backend modules. Every backend streams (`stream`) and the blocking `chat`
is built on top of it, so a reply is assembled the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Protocol, runtime_checkable

from ..errors import MHError


# ---------------------------------------------------------------------------- errors
class LLMError(MHError):
    """The model server answered, but not with a reply (bad request, server error).

    The message and hint are scrubbed of every configured secret here, once, so an upstream error
    that echoes an API key (some servers put it in their 401 body) never reaches a terminal, a
    run record or the audit log.
    """

    def __init__(self, message: str, *, hint: str | None = None):
        from ..redact import scrub_secrets

        super().__init__(scrub_secrets(str(message)), hint=scrub_secrets(hint))


class LLMUnavailable(LLMError):
    """No model server reachable (or the embedded runtime is not installed)."""


class ModelMissing(LLMError):
    """The server is up but does not have the requested model."""

    def __init__(self, message: str, *, model: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.model = model


class ToolsUnsupported(LLMError):
    """The model cannot take native tool definitions: callers fall back to JSON in text."""


# ---------------------------------------------------------------------------- messages
@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "arguments": self.arguments}
        if self.id:
            out["id"] = self.id
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ToolCall":
        return cls(name=str(data.get("name", "")), arguments=dict(data.get("arguments") or {}),
                   id=data.get("id"))


@dataclass
class Message:
    role: str  # system | user | assistant | tool
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_name: str | None = None      # on role "tool": which tool produced this content
    tool_call_id: str | None = None   # OpenAI-style pairing of a result with its call
    thinking: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        for key in ("tool_name", "tool_call_id", "thinking"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Message":
        return cls(role=str(data.get("role", "user")), content=str(data.get("content") or ""),
                   tool_calls=[ToolCall.from_dict(c) for c in data.get("tool_calls") or []],
                   tool_name=data.get("tool_name"), tool_call_id=data.get("tool_call_id"),
                   thinking=data.get("thinking"))


def system(text: str) -> Message:
    return Message("system", text)


def user(text: str) -> Message:
    return Message("user", text)


def assistant(text: str, tool_calls: list[ToolCall] | None = None) -> Message:
    return Message("assistant", text, tool_calls=list(tool_calls or []))


@dataclass
class ChatChunk:
    """One streamed piece: a content/thinking delta, whole tool calls, or the final marker."""

    content: str = ""
    thinking: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    done: bool = False
    done_reason: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChatResult:
    message: Message
    model: str
    done_reason: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def content(self) -> str:
        return self.message.content

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.message.tool_calls


@dataclass
class ModelInfo:
    name: str
    size: int | None = None
    modified_at: str | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Health:
    ok: bool
    backend: str
    host: str
    version: str | None = None
    error: str | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ---------------------------------------------------------------------------- protocol
Tools = list[dict[str, Any]]  # OpenAI/Ollama style: {"type":"function","function":{name,description,parameters}}


@runtime_checkable
class Backend(Protocol):
    name: str
    host: str

    def stream(self, messages: list[Message], *, model: str, tools: Tools | None = None,
               format: dict | str | None = None, options: dict | None = None,
               think: bool | None = None) -> Iterator[ChatChunk]: ...

    def chat(self, messages: list[Message], *, model: str, tools: Tools | None = None,
             format: dict | str | None = None, options: dict | None = None,
             think: bool | None = None,
             on_token: Callable[[str], None] | None = None) -> ChatResult: ...

    def list_models(self) -> list[ModelInfo]: ...

    def has_model(self, model: str) -> bool: ...

    def supports_tools(self, model: str) -> bool | None: ...

    def health(self) -> Health: ...


class BaseBackend:
    """Shared behaviour: `chat` accumulates `stream` the way the Ollama docs say to."""

    name = "base"
    host = ""

    def stream(self, messages, *, model, tools=None, format=None, options=None,
               think=None) -> Iterator[ChatChunk]:  # pragma: no cover - abstract
        raise NotImplementedError

    def chat(self, messages: list[Message], *, model: str, tools: Tools | None = None,
             format: dict | str | None = None, options: dict | None = None,
             think: bool | None = None,
             on_token: Callable[[str], None] | None = None) -> ChatResult:
        return accumulate(self.stream(messages, model=model, tools=tools, format=format,
                                      options=options, think=think), model, on_token)

    def list_models(self) -> list[ModelInfo]:
        return []

    def has_model(self, model: str) -> bool:
        return any(same_model(m.name, model) for m in self.list_models())

    def supports_tools(self, model: str) -> bool | None:
        return None

    def health(self) -> Health:  # pragma: no cover - abstract
        raise NotImplementedError

    def abort(self) -> None:
        """Best effort, from another thread: drop the request in flight (a stream stuck waiting
        for bytes). The streaming thread also stops at its next chunk, so this may do nothing."""


def accumulate(chunks: Iterable[ChatChunk], model: str,
               on_token: Callable[[str], None] | None = None) -> ChatResult:
    content: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCall] = []
    reason, stats = None, {}
    for chunk in chunks:
        if chunk.content:
            content.append(chunk.content)
            if on_token:
                on_token(chunk.content)
        if chunk.thinking:
            thinking.append(chunk.thinking)
        calls.extend(chunk.tool_calls)
        if chunk.done:
            reason, stats = chunk.done_reason, chunk.stats
    msg = Message("assistant", "".join(content), tool_calls=calls,
                  thinking="".join(thinking) or None)
    return ChatResult(message=msg, model=model, done_reason=reason, stats=stats)


def same_model(a: str, b: str) -> bool:
    """Ollama names: 'qwen3' means 'qwen3:latest'."""
    def norm(n: str) -> str:
        return n if ":" in n.rsplit("/", 1)[-1] else n + ":latest"
    return norm(a) == norm(b)
