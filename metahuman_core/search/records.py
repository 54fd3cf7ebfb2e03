"""Reading a memory file for the index: tolerant of hand-made files, strict about what is unusable.

A file the index cannot use (not JSON, not an object, no text `content`) is recorded as corrupt
with a reason, never indexed half-way and never a crash.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from .states import organizer_state


class BadRecord(Exception):
    pass


def load_record(path: Path) -> dict:
    raw = Path(path).read_bytes()
    if not raw.strip():
        raise BadRecord("file is empty")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRecord(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRecord(f"expected a JSON object, got {type(data).__name__}")
    if not isinstance(data.get("content"), str):
        raise BadRecord("field 'content' is missing or not text")
    return data


def _labels(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str) and v]


def record_time(memory_id: str, record: dict, st: os.stat_result | None = None) -> datetime:
    """The memory's timestamp; for hand-made files with a bad one, the time in its id."""
    value = record.get("timestamp")
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        try:
            ts = datetime.fromisoformat(text)
            return ts if ts.tzinfo else ts.astimezone()
        except ValueError:
            pass
    try:
        return datetime.strptime(memory_id[4:19], "%Y%m%d-%H%M%S").astimezone()
    except ValueError:
        return datetime.fromtimestamp(st.st_mtime if st else 0).astimezone()


def doc_fields(memory_id: str, record: dict, st: os.stat_result | None = None) -> dict:
    ts = record_time(memory_id, record, st)
    state, retry = organizer_state(record)
    rtype = record.get("type")
    response = record.get("response")
    source = record.get("source")
    return {
        "ts": ts.timestamp(),
        "day": ts.date().isoformat(),
        "timestamp": ts.isoformat(),
        "type": rtype if isinstance(rtype, str) and rtype else "observation",
        "tags": _labels(record.get("tags")),
        "entities": _labels(record.get("entities")),
        "content": record["content"],
        "response": response if isinstance(response, str) else "",
        "state": state,      # organizer state (states.py): monitor and the organizer query it
        "retry": retry,
        "source": source if isinstance(source, str) else "",   # e.g. whatsapp:family (ingest)
    }
