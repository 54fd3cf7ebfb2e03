"""Saved chat exchanges grouped into conversations (the chat pane's Ctrl+O).

Why: the core saves each exchange as one `conversation` memory with metadata.conversation (one
id per conversation) and metadata.turn; exchanges saved before that stand alone, under their
own memory id (a reopened one continues under it). No Textual imports.
"""

from __future__ import annotations


def _meta(item: dict) -> dict:
    meta = item.get("metadata")
    return meta if isinstance(meta, dict) else {}


def conversation_of(turns: list[dict]) -> tuple[str, int]:
    """(the id the turns are grouped under, how many turns it has) for group_conversations."""
    key = str(_meta(turns[0]).get("conversation") or turns[0].get("id"))
    numbers = [n for n in (_meta(t).get("turn") for t in turns) if isinstance(n, int)]
    return key, max(numbers + [len(turns)])


def group_conversations(items: list[dict]) -> list[list[dict]]:
    """Saved exchanges (newest first) -> conversations (newest first), each in turn order.
    Exchanges that share metadata.conversation are one conversation; others stand alone."""
    groups: dict[str, list[dict]] = {}
    for item in items:
        key = str(_meta(item).get("conversation") or item.get("id"))
        groups.setdefault(key, []).append(item)

    def turn(m: dict) -> tuple:
        n = _meta(m).get("turn")
        return (n if isinstance(n, int) else 0, str(m.get("timestamp", "")))

    return [sorted(group, key=turn) for group in groups.values()]
