"""Audit viewer filters: parse `level:warn cat:security event:lora_ actor:cli some text`, scan fast.
`actor:mcp*` takes every actor starting with mcp (MCP clients name themselves mcp:<client>).

Why: filtering a 1M-line day by parsing every line as JSON takes seconds; instead the most
selective term becomes a bytes regex run over the mmap (LineIndex.search), and only candidate
lines are parsed to confirm the other terms exactly. No Textual imports.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from metahuman_core.audit import CATEGORIES, LEVELS
from metahuman_core.audit_match import actor_matches, entry_matches  # noqa: F401 (actor_matches re-exported)

_KEYS = {"level": "level", "lvl": "level", "category": "category", "cat": "category",
         "event": "event", "ev": "event", "actor": "actor", "by": "actor"}


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class AuditFilter:
    level: str | None = None
    category: str | None = None
    event: str | None = None       # substring of the event name
    actor: str | None = None       # exact actor, or a prefix ending in * (actor:mcp*)
    text: str | None = None        # case-insensitive substring of the raw line

    @property
    def empty(self) -> bool:
        return not any((self.level, self.category, self.event, self.actor, self.text))

    def describe(self) -> str:
        parts = [f"{k}:{v}" for k, v in (("level", self.level), ("cat", self.category),
                                          ("event", self.event), ("actor", self.actor)) if v]
        if self.text:
            parts.append(repr(self.text))
        return " ".join(parts) or "no filter"

    # ------------------------------------------------------------------ matching
    def prefilter(self) -> re.Pattern[bytes] | None:
        """One bytes regex every matching line must contain (None = no filter)."""
        def lit(key: str, value: str) -> bytes:
            return re.escape(f'"{key}":{json.dumps(value, ensure_ascii=False)}'.encode())

        if self.actor and self.actor.endswith("*"):
            return re.compile(lit("actor", self.actor[:-1])[:-1])   # the open-ended string
        if self.actor:
            return re.compile(lit("actor", self.actor))
        if self.event:
            return re.compile(b'"event":"[^"]*' + re.escape(self.event.encode()))
        if self.text:
            return re.compile(re.escape(self.text.encode()), re.IGNORECASE)
        if self.category:
            return re.compile(lit("category", self.category))
        if self.level:
            return re.compile(lit("level", self.level))
        return None

    def matches(self, raw: bytes, entry: dict[str, Any] | None) -> bool:
        """Exact check of a candidate line (entry = its parsed JSON, None if unparsable)."""
        if self.text and self.text.lower().encode() not in raw.lower():
            return False
        if not (self.level or self.category or self.event or self.actor):
            return True
        if entry is None:
            return False
        return entry_matches(entry, level=self.level, category=self.category, event=self.event,
                             actor=self.actor)


def parse_filter(text: str) -> AuditFilter:
    """`level:warn cat:security event:lora_ actor:cli words…` → AuditFilter (clear errors)."""
    fields: dict[str, str] = {}
    words: list[str] = []
    for token in text.split():
        key, sep, value = token.partition(":")
        if sep and key.lower() in _KEYS and value:
            name = _KEYS[key.lower()]
            if name == "level" and value not in LEVELS:
                raise FilterError(f"level must be one of {', '.join(LEVELS)} (got {value!r})")
            if name == "category" and value not in CATEGORIES:
                raise FilterError(f"category must be one of {', '.join(CATEGORIES)} (got {value!r})")
            fields[name] = value
        else:
            words.append(token)
    return AuditFilter(text=" ".join(words) or None, **fields)


def parse_line(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
