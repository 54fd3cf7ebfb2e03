"""Pick the backend from etc/agent.json and bind it to a profile's *active* model.

`LLM(profile)` is what chat, the operator and agents hold. It re-reads etc/agent.json and
persona/overrides/active-adapter.json at every call (DESIGN §8): deleting the adapter file, or
`mh model use NAME`, takes effect at the next message without a restart. When the adapter's model
is gone from the server, the call falls back to the base model and says so (`last_note`).
"""

from __future__ import annotations

import os
import threading
from typing import Callable, Iterator

from .. import events
from ..active_model import active_model
from .base import Backend, ChatChunk, ChatResult, Health, Message, ModelMissing, accumulate
from .bounded import Progress, bounded


def resolve_host(profile) -> tuple[str, str]:
    """(host, where it came from). $OLLAMA_HOST wins over etc/agent.json, as for `ollama` itself."""
    env = os.environ.get("OLLAMA_HOST", "").strip()
    if env:
        return env, "$OLLAMA_HOST"
    return profile.config.get("agent").host, "etc/agent.json host"


def get_backend(profile) -> Backend:
    agent = profile.config.get("agent")
    if agent.backend == "openai":
        from .openai_backend import OpenAIBackend

        return OpenAIBackend(agent.openaiBaseUrl, timeout=agent.timeoutSeconds)
    if agent.backend == "llamacpp":
        from .llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(agent.ggufPath)
    from .ollama_backend import OllamaBackend

    host, source = resolve_host(profile)
    return OllamaBackend(host, timeout=agent.timeoutSeconds, host_source=source)


class LLM:
    """A backend bound to a profile. Thread-compatible: one call at a time per instance."""

    def __init__(self, profile, backend: Backend | None = None):
        self.profile = profile
        self._fixed = backend
        self._backend: Backend | None = None
        self._key: tuple | None = None
        self.last_model: str | None = None
        self.last_note: str | None = None

    @property
    def backend(self) -> Backend:
        if self._fixed is not None:
            return self._fixed
        agent = self.profile.config.get("agent")
        key = (agent.backend, resolve_host(self.profile), agent.openaiBaseUrl, agent.ggufPath,
               agent.timeoutSeconds)
        if self._backend is None or key != self._key:
            self._backend, self._key = get_backend(self.profile), key
        return self._backend

    def model(self) -> dict:
        """active_model(profile): {model, source, backend, adapter, problem}."""
        return active_model(self.profile)

    def stream(self, messages: list[Message], **kw) -> Iterator[ChatChunk]:
        current = self.model()
        self.last_model, self.last_note = current["model"], current.get("problem")
        backend = self.backend
        produced = False
        try:
            for chunk in backend.stream(messages, model=current["model"], **kw):
                produced = True
                yield chunk
        except ModelMissing as exc:
            if current["source"] != "adapter" or produced:
                raise
            base = self.profile.config.get("agent").model
            self.last_model = base
            self.last_note = (f"adapter model {current['model']!r} is not on the server; "
                              f"answering with the base model {base!r}")
            self.profile.audit.append(events.LLM_UNAVAILABLE, level="warn", actor="system",
                                      details={"model": current["model"], "fallback": base,
                                               "reason": exc.message})
            yield from backend.stream(messages, model=base, **kw)

    def chat(self, messages: list[Message], *, on_token: Callable[[str], None] | None = None,
             deadline: float | None = None, call_timeout: float | None = None,
             cancel: threading.Event | None = None,
             on_tick: Callable[[Progress], None] | None = None, tick: float = 1.0,
             **kw) -> ChatResult:
        """One reply. With a deadline (time.monotonic()), a call_timeout, a cancel event or an
        on_tick callback the call is bounded (llm/bounded.py): it raises Interrupted in time."""
        chunks = self.stream(messages, **kw)
        if deadline is not None or call_timeout or cancel is not None or on_tick is not None:
            backend = self.backend
            chunks = bounded(chunks, deadline=deadline, call_timeout=call_timeout, cancel=cancel,
                             on_tick=on_tick, tick=tick, abort=getattr(backend, "abort", None))
        result = accumulate(chunks, "", on_token)
        result.model = self.last_model or ""
        return result

    def health(self) -> Health:
        return self.backend.health()

    def supports_tools(self) -> bool | None:
        return self.backend.supports_tools(self.model()["model"])


def get_llm(profile, backend: Backend | None = None) -> LLM:
    return LLM(profile, backend)
