"""When did the person last do something? The sleep-service waits for `minIdleMins` of quiet.

State lives in one small file, logs/run/activity.json, shared by every process (the original kept
it in the web server's memory, so the sleep-service in another process never saw it ⚠):
    {"last": ISO time, "source": "chat", "sources": {"chat": ISO, "tui": ISO, ...}}
Writes are atomic and serialised with a lock; a lost race only loses a timestamp a few ms old.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import clock
from .errors import CorruptFile, ValidationFailed
from .storage import atomic_write_json, file_lock, read_json

if TYPE_CHECKING:
    from pathlib import Path

    from .profile import Profile

_SOURCE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")


def _path(profile: Profile) -> Path:
    return profile.home.run_dir / "activity.json"


def read_state(profile: Profile) -> dict[str, Any]:
    try:
        data = read_json(_path(profile))
    except (FileNotFoundError, CorruptFile):
        return {}
    return data if isinstance(data, dict) else {}


def touch(profile: Profile, source: str, when: datetime | None = None) -> datetime:
    """Record activity by `source` (chat, tui, cli, api, operator...) now."""
    if not isinstance(source, str) or not _SOURCE_RE.match(source):
        raise ValidationFailed(f"invalid activity source {source!r}",
                               hint="lowercase word such as chat, tui, api")
    when = when or clock.now()
    stamp = when.isoformat(timespec="seconds")
    path = _path(profile)
    with file_lock(path.with_suffix(".lock")):
        state = read_state(profile)
        sources = _sources(state)
        sources[source] = stamp
        previous = _parse(state.get("last"))
        if previous is None or when >= previous:
            state["last"], state["source"] = stamp, source
        state["sources"] = sources
        atomic_write_json(path, state, durable=False)
    return when


def _parse(value: Any) -> datetime | None:
    return clock.parse_iso(value)


def _sources(state: dict[str, Any]) -> dict[str, Any]:
    """The per-source stamps (a copy; {} if the file holds something else there)."""
    found = state.get("sources")
    return dict(found) if isinstance(found, dict) else {}


def last_activity(profile: Profile, source: str | None = None) -> datetime | None:
    """Latest activity (of one source, if given); None if there never was any."""
    state = read_state(profile)
    if source is None:
        return _parse(state.get("last"))
    return _parse(_sources(state).get(source))


def idle_seconds(profile: Profile, now: datetime | None = None) -> float | None:
    last = last_activity(profile)
    if last is None:
        return None
    return max(0.0, ((now or clock.now()) - last).total_seconds())
