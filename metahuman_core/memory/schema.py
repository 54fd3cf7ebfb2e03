"""Memory record fields (DESIGN §3): building a new record and applying changes, with validation.

A memory is a JSON object. Known fields are validated here with messages that name the field;
unknown fields are kept untouched (a person or a newer version may have added them).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Iterable

from ..errors import ValidationFailed

MEMORY_TYPES = ("observation", "conversation", "inner_dialogue", "reflection",
                "reflection_summary", "dream", "action", "journal", "fragment", "search")
TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CORE_FIELDS = ("id", "timestamp", "type", "content", "response", "tags", "entities", "importance",
               "links", "source", "metadata")
MAX_CONTENT = 1_000_000
MAX_LABEL = 100


def _fail(field: str, msg: str, hint: str | None = None, kind: str = "memory"):
    raise ValidationFailed(f"{kind} field '{field}': {msg}", hint=hint)


def check_content(value: Any, field: str = "content") -> str:
    if not isinstance(value, str):
        _fail(field, f"expected text, got {type(value).__name__}")
    if field == "content" and not value.strip():
        _fail(field, "is empty", hint="give the text to remember")
    if len(value) > MAX_CONTENT:
        _fail(field, f"is {len(value)} characters; the limit is {MAX_CONTENT}")
    return value


def check_type(value: Any) -> str:
    if not isinstance(value, str) or not TYPE_RE.match(value):
        _fail("type", f"invalid type {value!r}",
              hint="lower-case word such as " + ", ".join(MEMORY_TYPES[:4]))
    return value


def check_labels(values: Any, field: str, kind: str = "memory") -> list[str]:
    """Tags and entities: non-empty one-line strings, stripped, duplicates dropped, order kept."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple, set, frozenset)):
        _fail(field, f"expected a list of strings, got {type(values).__name__}", kind=kind)
    out: list[str] = []
    seen: set[str] = set()
    for v in values:
        if not isinstance(v, str):
            _fail(field, f"expected strings, got {type(v).__name__} {v!r}", kind=kind)
        v = v.strip()
        if not v or "\n" in v or len(v) > MAX_LABEL:
            _fail(field, f"invalid value {v!r}", hint=f"one line, 1..{MAX_LABEL} characters",
                  kind=kind)
        if v.lower() not in seen:
            seen.add(v.lower())
            out.append(v)
    return out


def check_importance(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or not 0.0 <= float(value) <= 1.0:
        _fail("importance", f"expected a number from 0 to 1, got {value!r}")
    return float(value)


def check_links(values: Any) -> list[dict]:
    if values is None:
        return []
    if not isinstance(values, (list, tuple)):
        _fail("links", f"expected a list of {{type, target}}, got {type(values).__name__}")
    out = []
    for i, link in enumerate(values):
        if not isinstance(link, dict) or not isinstance(link.get("type"), str) \
                or not isinstance(link.get("target"), str) or not link["type"] or not link["target"]:
            _fail(f"links[{i}]", f"expected {{\"type\": str, \"target\": str}}, got {link!r}")
        out.append(dict(link))
    return out


def check_metadata(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail("metadata", f"expected an object, got {type(value).__name__}")
    return dict(value)


def parse_timestamp(value: Any, field: str = "timestamp") -> datetime:
    """ISO 8601 text or datetime → timezone-aware datetime (a naive one is taken as local time)."""
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            _fail(field, f"not an ISO 8601 date/time: {value!r}", hint="e.g. 2025-10-19T16:00:00+02:00")
    else:
        _fail(field, f"expected an ISO 8601 string, got {type(value).__name__}")
    return ts if ts.tzinfo else ts.astimezone()


def format_timestamp(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds" if ts.microsecond else "seconds")


def build_record(memory_id: str, ts: datetime, content: str, *, type: str, tags: Iterable[str],
                 entities: Iterable[str], importance: float, response: str | None,
                 links: Any, source: str | None, metadata: dict | None,
                 extra: dict | None) -> dict:
    record: dict[str, Any] = {
        "id": memory_id,
        "timestamp": format_timestamp(ts),
        "type": check_type(type),
        "content": check_content(content),
    }
    if response is not None:
        record["response"] = check_content(response, "response")
    record["tags"] = check_labels(list(tags), "tags")
    record["entities"] = check_labels(list(entities), "entities")
    record["importance"] = check_importance(importance)
    record["links"] = check_links(list(links) if links is not None else None)
    if source is not None:
        if not isinstance(source, str) or not source.strip():
            _fail("source", f"expected a non-empty string, got {source!r}")
        record["source"] = source
    meta = {"processed": False}
    meta.update(check_metadata(metadata))
    record["metadata"] = meta
    for key, value in (extra or {}).items():
        if key in CORE_FIELDS or key == "path":
            _fail(key, "is a core field; pass it as its own argument, not in extra")
        if not isinstance(key, str) or not key:
            _fail(str(key), "extra field names must be non-empty strings")
        record[key] = value
    return record


def apply_changes(record: dict, changes: dict) -> dict:
    """A new record with `changes` applied. `metadata` is merged key by key; a None value removes
    an optional field (or a metadata key). The id cannot change; unknown fields are kept."""
    if not isinstance(changes, dict):
        raise ValidationFailed(f"changes must be an object, got {type(changes).__name__}")
    new = dict(record)
    for key, value in changes.items():
        if key in ("id", "path"):
            if key == "id" and value != record.get("id"):
                _fail("id", "cannot be changed (it is the file name)")
            continue
        if value is None:
            if key in ("content", "timestamp", "type"):
                _fail(key, "is required and cannot be removed")
            new.pop(key, None)
            continue
        if key == "content" or key == "response":
            new[key] = check_content(value, key)
        elif key == "type":
            new[key] = check_type(value)
        elif key in ("tags", "entities"):
            new[key] = check_labels(value, key)
        elif key == "importance":
            new[key] = check_importance(value)
        elif key == "links":
            new[key] = check_links(value)
        elif key == "timestamp":
            new[key] = format_timestamp(parse_timestamp(value))
        elif key == "metadata":
            meta = dict(record.get("metadata") or {}) if isinstance(record.get("metadata"), dict) else {}
            for mk, mv in check_metadata(value).items():
                if mv is None:
                    meta.pop(mk, None)
                else:
                    meta[mk] = mv
            new[key] = meta
        else:
            new[key] = value
    return new
