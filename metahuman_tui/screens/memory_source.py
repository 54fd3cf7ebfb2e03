"""`source:NAME` in the memory search box: keep only memories whose `source` starts with NAME
(chat exports imported by `mh ingest` say e.g. "whatsapp:family").

Why here and not in the core's query language: the search index has no source column yet, so
this reads the `source` of each candidate file (in the search worker, cancellable). When the
core's search learns `source:`, this module goes away and the box passes the query through.
No Textual imports.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable

_SOURCE = re.compile(r"(?:^|\s)source:(\S+)")


def split_source(query: str) -> tuple[str, str | None]:
    """('numbers', 'whatsapp') from 'numbers source:whatsapp' (the last source: wins)."""
    found = _SOURCE.findall(query)
    if not found:
        return query, None
    return " ".join(_SOURCE.sub(" ", query).split()), found[-1]


def source_of(path: Any) -> str:
    try:
        data = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return ""
    value = data.get("source") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def matches(source: str, wanted: str) -> bool:
    """`whatsapp` matches whatsapp and whatsapp:family; case does not matter."""
    source, wanted = source.lower(), wanted.lower()
    return source == wanted or source.startswith(wanted.rstrip(":") + ":") or (
        wanted.endswith("*") and source.startswith(wanted[:-1]))


def keep_source(items: Iterable[Any], wanted: str, path_of: Callable[[Any], Any],
                cancelled: Callable[[], bool]) -> list[Any] | None:
    """The items whose file's source matches; None when cancelled."""
    out = []
    for n, item in enumerate(items):
        if n % 256 == 0 and cancelled():
            return None
        if matches(source_of(path_of(item)), wanted):
            out.append(item)
    return out
