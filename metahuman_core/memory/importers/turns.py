"""Chat messages → the person's own turns, as `conversation` memory items (shared by every chat
importer: WhatsApp, Telegram, and later Signal, Discord or mbox).

Consecutive messages of one speaker are one turn (a pause of more than TURN_GAP starts a new
one: yesterday's message and this morning's are two thoughts, not one). Each turn of the person becomes one item:
`content` = the person's own text only, `timestamp` = its first new message's time, `source`,
the chat as an entity, and metadata {speaker, chat, importKey, replyTo} where replyTo is the
turn just before it (another person's) as {"speaker", "text", "timestamp"} — absent when the
person opened the conversation, the turn before was the person's own (after a pause) or had no
words (media only). Other people's
words are only ever kept there, as the prompt, never as the person's content.

Idempotence is per message: messages whose key is in `seen` are duplicates, so a later, longer
export adds only the new messages (a turn that grew gets a memory for its new part).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from .base import Message, ParseError

SKIPPED_KINDS = ("system", "media", "forwarded")
TURN_GAP = timedelta(hours=2)
ME = object()   # every alias of the person is one speaker


def norm(name: str) -> str:
    return " ".join(name.casefold().split())


@dataclass
class TurnStats:
    messages: int = 0       # every message in the export
    mine: int = 0           # the person's messages with words
    turns: int = 0          # the person's turns imported now
    skipped: int = 0        # system lines, media without words, forwarded messages
    duplicates: int = 0     # the person's messages imported before
    speakers: Counter = field(default_factory=Counter)


def speakers(messages: list[Message]) -> Counter:
    return Counter(m.speaker for m in messages if m.speaker and m.kind != "system")


def check_me(messages: list[Message], me: list[str]) -> None:
    """ParseError listing the speakers when none of `me` spoke in this export."""
    found = speakers(messages)
    wanted = {norm(n) for n in me if n and n.strip()}
    if not any(norm(s) in wanted for s in found):
        listed = ", ".join(f"{s} ({n})" for s, n in found.most_common(12)) or "none"
        names = ", ".join(sorted({n.strip() for n in me if n and n.strip()})) or "(no name set)"
        raise ParseError(f"none of the speakers is you ({names}); speakers found: {listed}. "
                         "Say which one is you: mh ingest FILE --me NAME (or set "
                         "identity.aliases in persona/core.json)")


def person_turns(messages: list[Message], me: list[str], seen: set[str], *, format: str,
                 source: str | None = None) -> tuple[list[dict], TurnStats]:
    check_me(messages, me)
    wanted = {norm(n) for n in me if n and n.strip()}
    stats = TurnStats(messages=len(messages), speakers=speakers(messages))

    def who(m: Message) -> object:
        return ME if norm(m.speaker or "") in wanted else m.speaker

    items: list[dict] = []
    by_chat: dict[str, list[Message]] = {}
    for m in messages:
        by_chat.setdefault(m.chat, []).append(m)
        if m.kind in SKIPPED_KINDS:
            stats.skipped += 1
    for chat, msgs in by_chat.items():
        turns: list[list[Message]] = []
        for m in msgs:
            if m.kind == "system" or not m.speaker:
                continue
            if turns and who(turns[-1][0]) == who(m) and m.ts - turns[-1][-1].ts <= TURN_GAP:
                turns[-1].append(m)
            else:
                turns.append([m])
        for i, turn in enumerate(turns):
            if who(turn[0]) is not ME:
                continue
            said = [m for m in turn if m.kind == "text" and m.text.strip()]
            stats.mine += len(said)
            new = [m for m in said if m.key not in seen]
            stats.duplicates += len(said) - len(new)
            if not new:
                continue
            before = turns[i - 1] if i and who(turns[i - 1][0]) is not ME else None
            items.append(_item(chat, new, before, format, source))
    stats.turns = len(items)
    return items, stats


def _item(chat: str, new: list[Message], before: list[Message] | None, format: str,
          source: str | None) -> dict:
    first = new[0]
    meta: dict = {"speaker": first.speaker, "chat": chat, "importKey": first.key}
    entities = [chat]
    if before:
        prompt = "\n".join(m.text for m in before if m.kind == "text" and m.text.strip())
        if prompt:
            meta["replyTo"] = {"speaker": before[0].speaker, "text": prompt,
                               "timestamp": before[-1].ts.isoformat()}
            entities.append(before[0].speaker or chat)
    if len(new) > 1:
        meta["messages"] = len(new)
    return {"content": "\n".join(m.text for m in new), "type": "conversation",
            "timestamp": first.ts, "source": source or f"{format}:{chat}",
            "entities": [" ".join(e.split())[:100] for e in entities if e and e.strip()],
            "tags": [format],
            "metadata": meta, "keys": [m.key for m in new]}
