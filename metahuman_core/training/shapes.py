"""Reading hand-edited JSON by shape: a value of the wrong JSON type becomes a sensible empty one.

persona/core.json and memory files are edited and imported by hand, so a string sits where a
list belongs, a number among words, null where an object was. The training code (anchors,
dataset, persona_template) reads every such field through these, so a wrong type gives an empty
value (or a lone item as a one-item list) instead of a crash or a string's letters. One place,
so all three read the same way.
"""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    """An object as is; anything else: empty."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """A list as is; one item (a string, an object) as a one-item list, never a string's letters
    or an object's keys; anything else (a number, null): empty."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, (str, dict)) else []


def as_text(value: Any) -> str:
    """A string, stripped; anything else: empty."""
    return value.strip() if isinstance(value, str) else ""
