"""Turn SIGINT/SIGTERM/SIGHUP into an exception the remote cycle unwinds through to its `finally`.

Why not just KeyboardInterrupt: SIGTERM (systemd, `kill`, a closing terminal's SIGHUP) must also
terminate the pod, and two moments must not be cut: the few lines that carry a new pod id from
the API answer into run-summary.json (`critical()` defers the signal to its end) and the cleanup
itself (`closing()`: later signals are recorded and ignored, so a second Ctrl-C cannot leave a
pod billing).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Cancelled(BaseException):
    """A signal arrived; BaseException so that `except Exception` never swallows it."""

    def __init__(self, signum: int):
        self.signum = signum
        self.signame = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signame}")


class SignalGuard:
    def __init__(self) -> None:
        self._old: dict[int, Any] = {}
        self._critical = 0
        self._pending: int | None = None
        self.closing = False
        self.ignored: list[str] = []

    def _handler(self, signum, frame) -> None:
        if self.closing:
            self.ignored.append(signal.Signals(signum).name)
            return
        if self._critical:
            self._pending = signum
            return
        raise Cancelled(signum)

    def install(self) -> SignalGuard:
        """Only the main thread can own signal handlers; elsewhere this is a no-op."""
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def restore(self) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old.clear()

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
        if not self._critical and self._pending is not None and not self.closing:
            signum, self._pending = self._pending, None
            raise Cancelled(signum)
