"""When did the person last do something? The sleep-service waits for `minIdleMins` of quiet.

State lives in one small file, logs/run/activity.json, shared by every process (the original kept
it in the web server's memory, so the sleep-service in another process never saw it ⚠):
    {"last": ISO time, "source": "chat", "sources": {"chat": ISO, "tui": ISO, ...}}
Writes are atomic and serialised with a lock; a lost race only loses a timestamp a few ms old.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from . import clock
from .errors import CorruptFile, ValidationFailed
from .storage import atomic_write_json, file_lock, read_json

_SOURCE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")


def _path(profile):
    return profile.home.run_dir / "activity.json"


def read_state(profile) -> dict[str, Any]:
    try:
        data = read_json(_path(profile))
    except (FileNotFoundError, CorruptFile):
        return {}
    return data if isinstance(data, dict) else {}


def touch(profile, source: str, when: datetime | None = None) -> datetime:
    """Record activity by `source` (chat, tui, cli, api, operator...) now."""
    if not isinstance(source, str) or not _SOURCE_RE.match(source):
        raise ValidationFailed(f"invalid activity source {source!r}",
                               hint="lowercase word such as chat, tui, api")
    when = when or clock.now()
    stamp = when.isoformat(timespec="seconds")
    path = _path(profile)
    with file_lock(path.with_suffix(".lock")):
        state = read_state(profile)
        sources = state.get("sources") if isinstance(state.get("sources"), dict) else {}
        sources[source] = stamp
        previous = _parse(state.get("last"))
        if previous is None or when >= previous:
            state["last"], state["source"] = stamp, source
        state["sources"] = sources
        atomic_write_json(path, state, durable=False)
    return when


def _parse(value) -> datetime | None:
    return clock.parse_iso(value)


def last_activity(profile, source: str | None = None) -> datetime | None:
    """Latest activity (of one source, if given); None if there never was any."""
    state = read_state(profile)
    if source is None:
        return _parse(state.get("last"))
    sources = state.get("sources") if isinstance(state.get("sources"), dict) else {}
    return _parse(sources.get(source))


def idle_seconds(profile, now: datetime | None = None) -> float | None:
    last = last_activity(profile)
    if last is None:
        return None
    return max(0.0, ((now or clock.now()) - last).total_seconds())
