"""Injectable clock. Everything that asks "what time is it" goes through here.

Tests inject a FixedClock in-process; subprocesses get one through the environment:
MH_FAKE_NOW="2025-10-19T16:00:00+02:00" (optionally MH_FAKE_NOW_STEP=seconds to advance per call,
or MH_FAKE_NOW_MODE=offset to keep real time flowing from that start).
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone


class SystemClock:
    def now(self) -> datetime:
        return datetime.now().astimezone()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class FixedClock:
    """A clock that only moves when told to (or by `step` seconds on every `now()`)."""

    def __init__(self, start: datetime, step: float = 0.0):
        if start.tzinfo is None:
            start = start.astimezone()
        self._now = start
        self._step = step
        self._mono = 1000.0

    def now(self) -> datetime:
        current = self._now
        if self._step:
            self._now = self._now + timedelta(seconds=self._step)
        return current

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    def set(self, when: datetime) -> None:
        self._now = when if when.tzinfo else when.astimezone()

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


class OffsetClock(SystemClock):
    """Real time flowing, shifted so that it started at `start` (for subprocess tests)."""

    def __init__(self, start: datetime):
        self._offset = start - datetime.now(timezone.utc)

    def now(self) -> datetime:
        return (datetime.now(timezone.utc) + self._offset).astimezone(_tz_of_env())


def _tz_of_env():
    fake = os.environ.get("MH_FAKE_NOW")
    if fake:
        parsed = datetime.fromisoformat(fake)
        if parsed.tzinfo:
            return parsed.tzinfo
    return None


def _from_env():
    fake = os.environ.get("MH_FAKE_NOW")
    if not fake:
        return SystemClock()
    start = datetime.fromisoformat(fake)
    if start.tzinfo is None:
        start = start.astimezone()
    if os.environ.get("MH_FAKE_NOW_MODE") == "offset":
        return OffsetClock(start)
    return FixedClock(start, step=float(os.environ.get("MH_FAKE_NOW_STEP", "0") or 0))


_clock = None


def get_clock():
    global _clock
    if _clock is None:
        _clock = _from_env()
    return _clock


def set_clock(clock) -> None:
    """Install a clock (tests). Pass None to go back to the environment/system clock."""
    global _clock
    _clock = clock


def now() -> datetime:
    """Timezone-aware current time from the installed clock."""
    return get_clock().now()


def today_str() -> str:
    """Local date as YYYY-MM-DD: daily files use it (the seed's `$(date +%Y-%m-%d)`)."""
    return now().strftime("%Y-%m-%d")


def iso(dt: datetime | None = None) -> str:
    return (dt or now()).isoformat(timespec="seconds")


def parse_iso(value) -> datetime | None:
    """An ISO 8601 string from a file → aware datetime (naive = local time); None if unusable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.astimezone()
