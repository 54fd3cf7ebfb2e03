"""boredom-service: when nothing happens, reflect. Every `intervals[level]` seconds of
etc/boredom.json (re-read every tick, so `mh boredom level high` applies at once; -1/off idles).

A reflection (original.md §6.3): an associative chain of 3–5 memories — a recent one drawn at
random (weighted by recency), then each next link found through the current memory's tags,
entities and salient words (search hits, else shared labels) — turned by the LLM into a
first-person "inner voice" reflection memory, plus a short summary memory linked to it. Unlike
the original, the persona's own name is used (never a hard-coded "Greg"), no operator task is
ever started from here, and the reflection text is never copied into the audit log.
"""

from __future__ import annotations

import math
import random
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import clock, events
from .runner import Agent, Context, CycleResult

if TYPE_CHECKING:
    from ..memory import MemoryStore
    from ..profile import Profile

NOT_SEEDS = {"reflection", "reflection_summary", "dream"}
POOL_SIZE = 300
HALF_LIFE_DAYS = 14.0
SNIPPET_CHARS = 500
REFLECTION_TAGS = ["idle-thought", "self-reflection"]
_THINK_RE = re.compile(r"<think>.*?</think>", re.S | re.I)
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
STOP_WORDS = {
    "this", "that", "with", "from", "have", "been", "were", "what", "when", "where", "which",
    "there", "their", "about", "would", "could", "should", "today", "yesterday", "tomorrow",
    "just", "into", "then", "than", "them", "they", "some", "more", "very", "also", "your",
    "will", "after", "before", "because", "while", "still", "really", "thing", "things",
}


def clean_text(text: str) -> str:
    """Drop <think> blocks and surrounding whitespace/quotes from a model reply."""
    return _THINK_RE.sub("", text or "").strip().strip('"').strip()


def _age_days(record: dict, now: datetime) -> float:
    try:
        ts = datetime.fromisoformat(str(record.get("timestamp", "")).replace("Z", "+00:00"))
    except ValueError:
        return 365.0
    if ts.tzinfo is None:
        ts = ts.astimezone()
    return max(0.0, (now - ts).total_seconds() / 86400.0)


def keywords(record: dict, limit: int = 5) -> list[str]:
    """Tags and entities first, then capitalised and long words of the content."""
    out: list[str] = []
    for value in list(record.get("tags") or []) + list(record.get("entities") or []):
        if isinstance(value, str) and value.strip() and value not in REFLECTION_TAGS:
            out.append(value.strip())
    words = _WORD_RE.findall(str(record.get("content") or ""))
    salient = [w for w in words if w[0].isupper() and w.lower() not in STOP_WORDS]
    salient += sorted((w for w in words if w.lower() not in STOP_WORDS), key=len, reverse=True)
    for word in salient:
        if word.lower() not in {o.lower() for o in out}:
            out.append(word)
    return out[:limit]


def _hit_id(hit: Any) -> str | None:
    for attr in ("id", "memory_id"):
        value = getattr(hit, attr, None)
        if isinstance(value, str):
            return value
    return hit.get("id") if isinstance(hit, dict) else None


def _labels(record: dict) -> set[str]:
    return {str(v).lower() for v in list(record.get("tags") or []) + list(record.get("entities") or [])
            if isinstance(v, str)} - set(REFLECTION_TAGS)


def next_link(profile: Profile, store: MemoryStore, current: dict, chain_ids: set[str],
              pool: list[dict], rng: random.Random) -> dict | None:
    """One associative step from `current`: search hits on its keywords, else a memory sharing
    a tag or entity, else any unused memory of the pool."""
    from ..errors import MHError

    words = keywords(current)
    rng.shuffle(words)
    for word in words[:3]:
        try:
            from ..search import search

            hits = search(profile, word, limit=10)
        except (ImportError, MHError):
            hits = []
        ids = [i for i in (_hit_id(h) for h in hits) if i and i not in chain_ids]
        rng.shuffle(ids)
        for mem_id in ids:
            try:
                record = store.get(mem_id)
            except MHError:
                continue
            if record.get("type") not in NOT_SEEDS:
                return record
    mine = _labels(current)
    unused = [r for r in pool if r.get("id") not in chain_ids]
    sharing = [r for r in unused if mine & _labels(r)]
    if sharing:
        return rng.choice(sharing)
    return rng.choice(unused) if unused else None


def build_chain(profile: Profile, store: MemoryStore, pool: list[dict], rng: random.Random,
                length: int) -> list[dict]:
    now = clock.now()
    weights = [math.exp(-_age_days(r, now) / HALF_LIFE_DAYS) + 1e-6 for r in pool]
    chain = [rng.choices(pool, weights=weights, k=1)[0]]
    ids = {_id(chain[0])}
    while len(chain) < length:
        link = next_link(profile, store, chain[-1], ids, pool, rng)
        if link is None:
            break
        chain.append(link)
        ids.add(_id(link))
    return chain


def _id(record: dict) -> str:
    return str(record.get("id") or "")


def snippet(record: dict) -> str:
    text = " ".join(str(record.get("content") or "").split())
    if len(text) > SNIPPET_CHARS:
        text = text[:SNIPPET_CHARS] + "…"
    return f"- [{str(record.get('timestamp', ''))[:10]}] ({record.get('type', 'memory')}) {text}"


def persona_name(profile: Profile) -> str:
    try:
        return profile.persona.summary().get("name") or "me"
    except Exception:  # a broken persona file must not stop reflections
        return "me"


def reflect(profile: Profile, *, rng: random.Random | None = None, actor: str = "boredom-service",
            log=None) -> CycleResult:
    """Build a chain, write the reflection and its summary. Skipped with < 3 memories."""
    from ..llm import get_llm
    from ..llm.base import LLMError, Message
    from ..memory import MemoryStore

    rng = rng or random.Random()
    store = MemoryStore(profile)
    pool = [r for r in store.list(limit=POOL_SIZE)
            if isinstance(r, dict) and r.get("type") not in NOT_SEEDS]
    if len(pool) < 3:
        return CycleResult("skipped", {"memories": len(pool)},
                           reason=f"need at least 3 memories to reflect on, found {len(pool)}")
    chain = build_chain(profile, store, pool, rng, rng.randint(3, 5))
    name = persona_name(profile)
    llm = get_llm(profile)
    system = (f"You are the inner voice of {name}. Think in the first person (\"I\"), privately "
              "and honestly. No lists, no headings, no preamble.")
    prompt = ("These memories came to mind, one leading to the next:\n"
              + "\n".join(snippet(r) for r in chain)
              + "\n\nWrite a short reflection (80–200 words): what connects them, what I notice "
                "about myself, what matters to me here.")
    reply = llm.chat([Message("system", system), Message("user", prompt)],
                     options={"temperature": 0.8})
    text = clean_text(reply.content)
    if not text:
        return CycleResult("failed", {"chain": len(chain)}, error="the model wrote an empty reflection")
    chain_ids = [r["id"] for r in chain if r.get("id")]
    model = llm.last_model
    reflection = store.capture(text, type="reflection", tags=list(REFLECTION_TAGS),
                               links=[{"type": "memory", "target": i} for i in chain_ids],
                               metadata={"chain": chain_ids, "generatedBy": actor,
                                         "generatorModel": model}, actor=actor)
    profile.audit.append(events.REFLECTION_CREATED, category="data", actor=actor,
                         details={"id": reflection["id"], "chain": chain_ids, "chars": len(text)})
    counts = {"chain": len(chain), "reflections": 1, "summaries": 0}
    try:
        short = llm.chat([Message("system", system), Message(
            "user", "In one or two sentences (at most 40 words), the takeaway of this reflection "
                    f"of mine:\n\n{text}")], options={"temperature": 0.4})
    except LLMError as exc:
        return CycleResult("failed", counts, error=f"summary not written: {exc.message}")
    summary = clean_text(short.content)
    if summary:
        store.capture(summary, type="reflection_summary", tags=["idle-thought", "concise"],
                      links=[{"type": "reflection", "target": reflection["id"]}],
                      metadata={"generatedBy": actor, "generatorModel": model}, actor=actor)
        counts["summaries"] = 1
    if log:
        log.info(f"reflection {reflection['id']} from {len(chain)} memories")
    return CycleResult("ok", counts)


class BoredomService(Agent):
    name = "boredom-service"
    description = "reflects every intervals[level] seconds"
    default_interval = 300.0

    def __init__(self, rng: random.Random | None = None):
        self.rng = rng or random.Random()

    def interval(self, ctx: Context) -> float | None:
        seconds = ctx.profile.config.get("boredom").interval_seconds()
        return None if seconds == -1 else float(seconds)

    def cycle(self, ctx: Context) -> CycleResult:
        return reflect(ctx.profile, rng=self.rng, actor=self.name, log=ctx.log)
