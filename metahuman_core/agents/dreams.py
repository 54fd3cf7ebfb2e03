"""The two LLM steps of the night: dreams from recent memories, and overnight learnings — a small
markdown file under memory/procedural/overnight/ that the chat prompt builder (prompt.py) reads
as Tier-1 adaptation. Dreams are memories of type "dream" linked to the memories they came from.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

from .. import clock, events
from ..storage import atomic_write_text
from .boredom import snippet, clean_text, persona_name

RECENT_DAYS = 7
NOT_SOURCES = {"dream", "reflection_summary"}
LEARNING_KEYS = {"preferences": "Preferences", "heuristics": "Heuristics",
                 "styleNotes": "Style notes", "avoidances": "Avoid"}
LEARNINGS_SCHEMA = {
    "type": "object",
    "properties": {k: {"type": "array", "items": {"type": "string"}} for k in LEARNING_KEYS},
    "required": list(LEARNING_KEYS),
}
MAX_ITEMS = 6
MAX_ITEM_CHARS = 200


def recent_memories(store, limit: int = 60) -> list[dict]:
    """Memories of the last RECENT_DAYS days (newest first), else the newest ones at all."""
    after = clock.now() - timedelta(days=RECENT_DAYS)
    items = [r for r in store.list(after=after, limit=limit)
             if isinstance(r, dict) and r.get("type") not in NOT_SOURCES]
    if not items:
        items = [r for r in store.list(limit=limit)
                 if isinstance(r, dict) and r.get("type") not in NOT_SOURCES]
    return items


def make_dreams(profile, store, llm, *, night: str, max_dreams: int, rng: random.Random,
                actor: str = "sleep-service", stop=None) -> dict:
    """Write up to `max_dreams` dream memories; returns {dreams, ids, reason?}."""
    from ..llm.base import Message

    if max_dreams <= 0:
        return {"dreams": 0, "reason": "maxDreamsPerNight is 0"}
    recent = recent_memories(store)
    if not recent:
        return {"dreams": 0, "reason": "no memories to dream about"}
    name = persona_name(profile)
    count = min(max_dreams, max(1, len(recent) // 2))
    ids = []
    for _ in range(count):
        if stop and stop():
            break
        sources = rng.sample(recent, k=min(5, len(recent)))
        prompt = ("Fragments of my recent days:\n" + "\n".join(snippet(r) for r in sources)
                  + "\n\nDream about them: a short, surreal, metaphorical dream told in the first "
                    "person, under 200 words. No title, no explanation.")
        reply = llm.chat([Message("system", f"You are the dreaming mind of {name}."),
                          Message("user", prompt)], options={"temperature": 0.95})
        text = clean_text(reply.content)
        if not text:
            continue
        source_ids = [r["id"] for r in sources if r.get("id")]
        dream = store.capture(text, type="dream", tags=["dream"],
                              links=[{"type": "source", "target": i} for i in source_ids],
                              metadata={"night": night, "generatedBy": actor,
                                        "generatorModel": llm.last_model}, actor=actor)
        ids.append(dream["id"])
        profile.audit.append(events.DREAM_CREATED, category="data", actor=actor,
                             details={"id": dream["id"], "night": night, "sources": source_ids})
    return {"dreams": len(ids), "ids": ids}


def overnight_dir(profile) -> Path:
    return profile.home.memory / "procedural" / "overnight"


def _items(value) -> list[str]:
    out: list[str] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, str):
            text = " ".join(item.split()).strip(" -*•")
            if text and text.lower() not in {o.lower() for o in out}:
                out.append(text[:MAX_ITEM_CHARS])
    return out[:MAX_ITEMS]


def render_learnings(night: str, data: dict) -> str:
    lines = [f"# Overnight learnings — night of {night}", ""]
    for key, title in LEARNING_KEYS.items():
        items = _items(data.get(key))
        if items:
            lines += [f"## {title}", *[f"- {i}" for i in items], ""]
    return "\n".join(lines).rstrip() + "\n"


def write_learnings(profile, store, llm, *, night: str, actor: str = "sleep-service") -> dict:
    """Ask the model what to remember from recent memories; write overnight/<night>.md."""
    from ..llm.base import Message

    recent = recent_memories(store, limit=30)
    if not recent:
        return {"written": False, "reason": "no recent memories"}
    name = persona_name(profile)
    prompt = ("Recent memories of " + name + ":\n" + "\n".join(snippet(r) for r in recent[:20])
              + "\n\nWhat should an assistant that speaks as " + name + " remember from these? "
              "Answer JSON with short sentences in four lists: preferences, heuristics (how I "
              "decide), styleNotes (how I express myself), avoidances.")
    reply = llm.chat([Message("system", "You distil durable, concrete lessons. Answer only JSON."),
                      Message("user", prompt)], format=LEARNINGS_SCHEMA,
                     options={"temperature": 0.3})
    try:
        data = json.loads(clean_text(reply.content))
    except json.JSONDecodeError as exc:
        raise ValueError(f"learnings reply is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError("learnings reply is not a JSON object")
    counts = {k: len(_items(data.get(k))) for k in LEARNING_KEYS}
    if not any(counts.values()):
        return {"written": False, "reason": "nothing learned", **counts}
    path = overnight_dir(profile) / f"{night}.md"
    atomic_write_text(path, render_learnings(night, data))
    rel = str(path.relative_to(profile.root))
    profile.audit.append(events.OVERNIGHT_LEARNINGS, category="data", actor=actor,
                         details={"path": rel, "night": night, **counts})
    return {"written": True, "path": rel, **counts}
