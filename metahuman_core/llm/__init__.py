"""LLM backends behind one protocol (DESIGN §8). Import the submodules you need; this package
itself stays import-light (no `ollama`, no `httpx` until a call is made)."""

from .base import (Backend, ChatChunk, ChatResult, Health, LLMError, LLMUnavailable, Message,
                   ModelInfo, ModelMissing, ToolCall, ToolsUnsupported)
from .bounded import Interrupted, Progress
from .factory import LLM, get_backend, get_llm, resolve_host

__all__ = ["Backend", "ChatChunk", "ChatResult", "Health", "LLMError", "LLMUnavailable", "Message",
           "ModelInfo", "ModelMissing", "ToolCall", "ToolsUnsupported", "LLM", "get_backend",
           "get_llm", "resolve_host", "Interrupted", "Progress"]
