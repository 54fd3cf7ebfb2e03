"""The one audit filter predicate: `mh audit`, the REST API and the TUI viewer ask the same
question of an entry, so they can never disagree on what `actor:mcp*` or `event:lora_` means."""

from __future__ import annotations

from typing import Any


def actor_matches(wanted: str, actor: str) -> bool:
    """`cli` matches exactly; `mcp*` matches every actor starting with mcp (MCP clients)."""
    return actor.startswith(wanted[:-1]) if wanted.endswith("*") else actor == wanted


def entry_matches(entry: dict[str, Any], *, level: str | None = None, category: str | None = None,
                  event: str | None = None, actor: str | None = None) -> bool:
    """Exact level/category, event as a substring, actor exact or a `prefix*`."""
    if level and entry.get("level") != level:
        return False
    if category and entry.get("category") != category:
        return False
    if event and event not in str(entry.get("event", "")):
        return False
    if actor and not actor_matches(actor, str(entry.get("actor", ""))):
        return False
    return True
