"""When may the sleep-service run? Pure functions over datetimes (the clock is injected).

The original fired every 30 min for the whole window, never knew it had already run, and kept the
"last activity" in another process (original.md §6.4 ⚠). Here the decision takes everything it
needs as arguments: the local time, the config, the last activity and the saved state.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any


def minutes_of(hhmm: str) -> int:
    """'23:30' -> 1410. The config model already validated the format."""
    hours, _, mins = hhmm.partition(":")
    return int(hours) * 60 + int(mins)


def in_window(now: datetime, start: str, end: str) -> bool:
    """Is `now` (its own wall-clock time) inside [start, end)? Windows may wrap past midnight;
    start == end means the whole day."""
    s, e = minutes_of(start), minutes_of(end)
    t = now.hour * 60 + now.minute
    if s == e:
        return True
    if s < e:
        return s <= t < e
    return t >= s or t < e


def night_of(now: datetime, start: str, end: str) -> date:
    """The date a night belongs to: the date on which its window opened. 02:00 inside a
    23:00-06:00 window belongs to the previous day's night."""
    s, e = minutes_of(start), minutes_of(end)
    t = now.hour * 60 + now.minute
    if s > e and t < e:
        return (now - timedelta(days=1)).date()
    return now.date()


def night_key(now: datetime, start: str, end: str) -> str:
    return night_of(now, start, end).isoformat()


def idle_minutes(now: datetime, last_activity: datetime | None) -> float | None:
    """Minutes since the last recorded activity; None when nothing was ever recorded."""
    if last_activity is None:
        return None
    return max(0.0, (now - last_activity).total_seconds() / 60.0)


def is_idle(now: datetime, last_activity: datetime | None, min_idle_mins: float) -> bool:
    idle = idle_minutes(now, last_activity)
    return idle is None or idle >= min_idle_mins


def not_due_reason(now: datetime, cfg: Any, last_activity: datetime | None,
                   state: dict | None) -> str | None:
    """None when the nightly pipeline should start now, else why not (for logs and --once).

    `cfg` is a SleepConfig; `state` is logs/run/sleep-state.json ({"lastNight": "YYYY-MM-DD"}).
    """
    if not cfg.enabled:
        return "sleep-service is disabled (etc/sleep.json enabled: false)"
    start, end = cfg.window.start, cfg.window.end
    if not in_window(now, start, end):
        return f"outside the sleep window {start}-{end} (local time {now:%H:%M})"
    key = night_key(now, start, end)
    if (state or {}).get("lastNight") == key:
        return f"already ran tonight (night of {key})"
    if not is_idle(now, last_activity, cfg.minIdleMins):
        idle = idle_minutes(now, last_activity) or 0.0
        return (f"not idle: last activity {idle:.0f} min ago, "
                f"waiting for {cfg.minIdleMins} idle minutes")
    return None
