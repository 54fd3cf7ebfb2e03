"""What `mh op` (and an action in `mh chat`) shows while the operator works, and how it stops.

Why: a real model can think for minutes; a silent terminal looks hung. Progress goes to stderr so
stdout stays the answer (or `--json`), in one of three modes:
* human: "thinking… 12 s, 40 tokens" (rewritten in place on a terminal, a line every
  NON_TTY_EVERY seconds otherwise), then each step as it happens: skill, arguments, result;
* events: one JSON object per line (NDJSON) per operator event, for scripts (`--json`, `--events`);
* quiet: nothing (`--quiet`).
`stop_on_signals` turns the first SIGINT/SIGTERM into the operator's cancel event (the run ends
"interrupted" within a fraction of a second) and a second one into KeyboardInterrupt.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from typing import Any, Iterator, TextIO

NON_TTY_EVERY = 5.0
ARGS_CHARS = 160


class Reporter:
    def __init__(self, mode: str = "human", stream: TextIO | None = None):
        if mode not in ("human", "events", "quiet"):
            raise ValueError(mode)
        self.mode = mode
        self._stream = stream
        self.started = time.monotonic()
        self._last_line = 0.0
        self._inline = False  # a "thinking…" line waits to be overwritten (terminals only)

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr  # late: test runners swap sys.stderr

    @property
    def tty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, event: Any) -> None:
        if self.mode == "quiet":
            return
        if self.mode == "events":
            return self._ndjson(event)
        kind, data = event.kind, event.data or {}
        if kind == "thinking":
            return self._thinking(event.step, data)
        line = _human(kind, data)
        if line:
            self._write(line)
        elif kind in ("answer", "finished"):
            self.close()  # the answer follows on stdout: no half "thinking…" line before it

    # ------------------------------------------------------------------ modes
    def _ndjson(self, event: Any) -> None:
        data = dict(event.data or {})
        if isinstance(data.get("text"), str) and len(data["text"]) > 2000:
            data["text"] = data["text"][:2000] + "…"
        record = {"event": event.kind, "step": event.step,
                  "t": round(time.monotonic() - self.started, 2), **data}
        self.stream.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self.stream.flush()

    def _thinking(self, step: int, data: dict) -> None:
        elapsed, tokens = float(data.get("elapsed") or 0), int(data.get("tokens") or 0)
        text = (f"thinking… step {step}, {elapsed:.0f} s, {tokens} tokens" if elapsed
                else f"thinking… step {step}")
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
            self.stream.flush()
            self._inline = True
            return
        now = time.monotonic()
        if not elapsed or now - self._last_line >= NON_TTY_EVERY:
            self._write(text)

    def _write(self, line: str) -> None:
        if self._inline:
            self.stream.write("\r\x1b[2K")
            self._inline = False
        self.stream.write(line + "\n")
        self.stream.flush()
        self._last_line = time.monotonic()

    def close(self) -> None:
        if self._inline:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._inline = False


def _human(kind: str, data: dict) -> str | None:
    if kind == "tool_call":
        args = json.dumps(data.get("args", {}), ensure_ascii=False)
        return f"→ {data.get('skill')} {args[:ARGS_CHARS]}"
    if kind == "observation":
        first = (data.get("text") or "").splitlines()[0:1]
        line = f"  {data.get('status')}: {(first[0] if first else '')[:ARGS_CHARS]}"
        return line + (f"\n  hint: {data['hint']}" if data.get("hint") else "")
    if kind == "approval_pending":
        return f"  needs approval {data.get('approval_id')}: {data.get('reason')}"
    if kind == "approval_decided":
        return f"  approval {data.get('approval_id')}: {data.get('status')}"
    if kind == "nudge":
        return "  the model answered without calling a tool; asking it once to use one"
    if kind == "started":
        return f"operator run {data.get('run_id')}"
    return None


class Stopper:
    """Holds the cancel event and which signal asked for it (None: none did)."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.signum: int | None = None

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Stopper]:
    """SIGINT/SIGTERM → cancel (graceful), the second one → KeyboardInterrupt (at once)."""
    stopper = Stopper()
    if threading.current_thread() is not threading.main_thread():
        yield stopper
        return

    def handler(signum, frame) -> None:
        if stopper.cancel.is_set():
            raise KeyboardInterrupt
        stopper.signum = signum
        stopper.cancel.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopper
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)
