"""A model call that ends on time and on request, and says how it is doing while it runs.

Why: a real model on a home box produces a few tokens a second and sometimes never stops. A budget
checked only between calls does not hold, and a blocking read cannot be interrupted. So the
stream is consumed in a worker thread and handed over through a queue; the caller's side wakes up
at least every `tick` seconds to check the deadline and the cancel event, and to report progress
(elapsed seconds, tokens so far). Stopping sets a flag the worker checks at every chunk (it then
closes the backend's generator: the HTTP stream is closed, llama.cpp stops generating) and calls
the backend's `abort()` for a read that is stuck waiting for bytes.

One cancel path for everything: the operator's time budget and per-call timeout, Esc in the TUI,
Ctrl-C / SIGTERM in `mh op` and `mh chat`.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from .base import ChatChunk, LLMError

__all__ = ["Interrupted", "Progress", "bounded"]


class Interrupted(LLMError):
    """The call was stopped before the model finished: reason is "cancelled", "deadline" (the
    caller's budget) or "call_timeout" (the per-call limit). `partial` is what had streamed."""

    def __init__(self, message: str, *, reason: str, partial: str = "", tokens: int = 0):
        super().__init__(message)
        self.reason = reason
        self.partial = partial
        self.tokens = tokens


@dataclass
class Progress:
    elapsed: float   # seconds since the call started
    tokens: int      # content/thinking chunks received so far (one token each on Ollama, llama.cpp)
    chars: int


_END = object()


def bounded(chunks: Iterator[ChatChunk], *, deadline: float | None = None,
            call_timeout: float | None = None, cancel: threading.Event | None = None,
            on_tick: Callable[[Progress], None] | None = None, tick: float = 1.0,
            abort: Callable[[], None] | None = None) -> Iterator[ChatChunk]:
    """Yield `chunks` as they come; raise Interrupted when `cancel` is set, time.monotonic()
    passes `deadline`, or the call has run `call_timeout` seconds. `on_tick(progress)` is called
    about every `tick` seconds while waiting (and never from the worker thread)."""
    stop = threading.Event()
    handoff: queue.Queue = queue.Queue(maxsize=256)

    def work() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    break
                handoff.put(chunk)
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            if not stop.is_set():
                handoff.put(exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - the stream is being abandoned anyway
                    pass
            if not stop.is_set():
                handoff.put(_END)

    started = time.monotonic()
    limit = deadline
    if call_timeout:
        limit = min(limit, started + call_timeout) if limit is not None else started + call_timeout
    worker = threading.Thread(target=work, name="mh-llm-stream", daemon=True)
    worker.start()
    tokens = chars = 0
    parts: list[str] = []
    next_tick = started + tick
    finished = False
    try:
        while True:
            now = time.monotonic()
            why = ("cancelled" if cancel is not None and cancel.is_set() else
                   "call_timeout" if call_timeout and now - started >= call_timeout
                   and (deadline is None or started + call_timeout <= deadline) else
                   "deadline" if limit is not None and now >= limit else None)
            if why:
                raise Interrupted(_why_text(why, now - started, call_timeout), reason=why,
                                  partial="".join(parts), tokens=tokens)
            wait = min(0.2, max(0.0, next_tick - now))
            if limit is not None:
                wait = min(wait, max(0.0, limit - now))
            try:
                item = handoff.get(timeout=max(wait, 0.01))
            except queue.Empty:
                item = None
            if item is _END:
                finished = True
                return
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, ChatChunk):
                if item.content or item.thinking:
                    tokens += 1
                    chars += len(item.content) + len(item.thinking)
                    parts.append(item.content)
                yield item
            now = time.monotonic()
            if on_tick is not None and now >= next_tick:
                next_tick = now + tick
                on_tick(Progress(elapsed=now - started, tokens=tokens, chars=chars))
    finally:
        stop.set()
        if not finished and worker.is_alive():
            _drain(handoff)
            if abort is not None:
                try:
                    abort()
                except Exception:  # noqa: BLE001 - best effort
                    pass
            worker.join(timeout=0.5)


def _drain(handoff: queue.Queue) -> None:
    """Empty the queue so a worker blocked on a full queue sees the stop flag."""
    try:
        while True:
            handoff.get_nowait()
    except queue.Empty:
        pass


def _why_text(why: str, elapsed: float, call_timeout: float | None) -> str:
    if why == "cancelled":
        return "stopped on request"
    if why == "call_timeout":
        return f"the model did not finish one step within {call_timeout:g} s"
    return f"the time budget ran out while the model was generating ({elapsed:.0f} s into the call)"
