"""organizer: tags and entities for every memory whose metadata.processed is not true.

The original skipped every memory that already had tags (so `monitor` never converged), marked
nothing when the model answered empty, and retried failures every minute forever (original.md
§6.1, §10.2 #14). Here: selection is by `metadata.processed` only, the model answers through a JSON
schema (structured output), results are merged and de-duplicated with what is there, and each
failure backs off (metadata.organizer = {attempts, lastError, nextTryAt}) until the memory is
quarantined (metadata.organizerFailed = true) after `maxAttempts`. An unreachable model skips
the cycle: nothing is marked processed without a real extraction. Candidates (newest first) and
the `monitor` counts come from the search index's state column (search/states.py), not from
reading every file.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from .. import clock, events
from ..errors import CorruptFile, NotFound, ValidationFailed
from ..search.states import organizer_state
from .runner import Agent, Context, CycleResult

SCHEMA = {
    "type": "object",
    "properties": {
        "tags": {"type": "array", "items": {"type": "string"}},
        "entities": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["tags", "entities"],
}
SYSTEM = ("You label one personal memory. Give `tags`: short lowercase topics, themes, activities "
          "or categories; and `entities`: named people, places, organisations, tools, projects "
          "or concepts it mentions. Answer only with JSON {\"tags\": [...], \"entities\": [...]}; "
          "use [] when there is nothing.")
# etc/agent.json may hold {"organizer": {...}} to change these (unknown keys are kept there)
DEFAULTS = {"maxAttempts": 5, "backoffSeconds": 60, "maxBackoffSeconds": 3600, "batchSize": 50,
            "maxTags": 8, "maxEntities": 8, "maxConsecutiveErrors": 3}
MAX_PROMPT_CHARS = 6000
_THINK_RE = re.compile(r"<think>.*?</think>", re.S | re.I)


class BadExtraction(Exception):
    """The model answered, but not with usable JSON."""


def settings(profile) -> dict[str, int]:
    """The `organizer` section of etc/agent.json (validated with the file by ConfigStore)."""
    opts = profile.config.get("agent").organizer
    return {key: getattr(opts, key) for key in DEFAULTS}


# ---------------------------------------------------------------------------- selection
def _meta(record: dict) -> dict:
    meta = record.get("metadata")
    return meta if isinstance(meta, dict) else {}


def state_of(record: dict, now: datetime) -> str:
    """processed | failed | waiting (backing off) | pending — as the index sees it."""
    state, retry = organizer_state(record)
    if state == "pending" and retry is not None and retry > now.timestamp():
        return "waiting"
    return state


def memory_stats(profile, *, full: bool = False) -> dict[str, Any]:
    """`mh agent monitor`: total, processed, unprocessed (incl. backing off), failed.

    Answered by the index (one grouped count), after sync() picks up files added, removed or
    replaced by hand; full=True also stats every file to catch edits made in place."""
    from ..search.engine import index_for

    index = index_for(profile)
    index.sync(full=full or None)
    counts = index.state_counts(clock.now())
    total = sum(counts.values())
    unprocessed = counts["pending"] + counts["waiting"]
    return {"total": total, "processed": counts["processed"], "unprocessed": unprocessed,
            "failed": counts["failed"], "backingOff": counts["waiting"],
            "completion": round(100.0 * counts["processed"] / total, 1) if total else 100.0}


# ---------------------------------------------------------------------------- extraction
def clean_labels(values: Any, limit: int, *, lower: bool) -> list[str]:
    """Model output → one-line labels (1..100 chars), de-duplicated case-insensitively."""
    if isinstance(values, (str, dict)):
        values = [values]
    if not isinstance(values, list):
        raise BadExtraction(f"expected a list, got {type(values).__name__}")
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        if isinstance(value, dict):  # {"name": ...} / {"entity": ...} / first string value
            value = value.get("name") or value.get("entity") or next(
                (v for v in value.values() if isinstance(v, str)), None)
        if not isinstance(value, str):
            continue
        text = " ".join(value.split()).strip(" .,;#")
        if lower:
            text = text.lower()
        if not text or len(text) > 100 or text.lower() in seen:
            continue
        seen.add(text.lower())
        out.append(text)
        if len(out) >= limit:
            break
    return out


def merge(existing: Any, new: list[str]) -> list[str]:
    """Existing labels first (kept as they are), then new ones not already there (any case)."""
    out = [v for v in (existing or []) if isinstance(v, str) and v.strip()]
    seen = {v.strip().lower() for v in out}
    for value in new:
        if value.lower() not in seen:
            seen.add(value.lower())
            out.append(value)
    return out


def parse_reply(text: str, cfg: dict) -> tuple[list[str], list[str]]:
    text = _THINK_RE.sub("", text or "").strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadExtraction(f"reply is not JSON ({exc.msg}): {text[:80]!r}") from None
    if not isinstance(data, dict):
        raise BadExtraction(f"reply is not a JSON object: {text[:80]!r}")
    return (clean_labels(data.get("tags", []), cfg["maxTags"], lower=True),
            clean_labels(data.get("entities", []), cfg["maxEntities"], lower=False))


def extract(llm, record: dict, cfg: dict) -> tuple[list[str], list[str]]:
    from ..llm.base import Message

    body = str(record.get("content") or "")
    if record.get("response"):
        body += "\n\nReply: " + str(record["response"])
    prompt = (f"Memory type: {record.get('type', 'observation')}\n"
              f"Time: {record.get('timestamp', '')}\n\n{body[:MAX_PROMPT_CHARS]}")
    result = llm.chat([Message("system", SYSTEM), Message("user", prompt)], format=SCHEMA,
                      options={"temperature": 0.2})
    return parse_reply(result.content, cfg)


# ---------------------------------------------------------------------------- the agent
class Organizer(Agent):
    name = "organizer"
    description = "tags and entities for every unprocessed memory"
    default_interval = 60.0

    def cycle(self, ctx: Context) -> CycleResult:
        from ..llm import get_llm
        from ..llm.base import LLMError, LLMUnavailable, ModelMissing
        from ..memory import MemoryStore

        profile = ctx.profile
        cfg = settings(profile)
        store = MemoryStore(profile)
        llm = get_llm(profile)
        now = clock.now()
        index = store.index
        index.sync()   # in a long-running agent also a full sweep every FULL_SWEEP_S
        due = index.due(now, limit=cfg["batchSize"])
        candidates = index.state_counts(now)["pending"]
        counts = {"candidates": candidates, "processed": 0, "errors": 0, "quarantined": 0}
        consecutive = 0
        for mem_id, path in due:
            if ctx.stopping():
                break
            try:
                record = store.get(mem_id)   # the file is the truth: skip what changed meanwhile
            except (NotFound, CorruptFile) as exc:
                record = None
                if isinstance(exc, CorruptFile):
                    ctx.log.warn(f"{mem_id}: {exc.message}")
            if record is None or state_of(record, now) != "pending":
                # edited in place since the index saw it: correct it, or the next cycle would
                # be handed the same stale ids again
                index.refresh_file(path.parent.name, path.name)
                continue
            try:
                tags, entities = extract(llm, record, cfg)
            except (LLMUnavailable, ModelMissing) as exc:
                return CycleResult("skipped", counts, reason=f"LLM unavailable: {exc.message}")
            except (LLMError, BadExtraction) as exc:
                msg = getattr(exc, "message", None) or str(exc)
                counts["errors"] += 1
                consecutive += 1
                if self._failed(ctx, store, mem_id, msg, cfg):
                    counts["quarantined"] += 1
                if consecutive >= cfg["maxConsecutiveErrors"]:
                    return CycleResult("failed", counts,
                                       error=f"{consecutive} extractions failed in a row; last: {msg}")
                continue
            consecutive = 0
            try:
                if self._save(ctx, store, mem_id, tags, entities, llm):
                    counts["processed"] += 1
            except CorruptFile as exc:
                ctx.log.warn(f"{mem_id}: {exc.message}")
            except ValidationFailed as exc:  # e.g. a hand-edited tag the schema refuses
                counts["errors"] += 1
                if self._failed(ctx, store, mem_id, f"cannot save: {exc.message}", cfg):
                    counts["quarantined"] += 1
        more = candidates > len(due) and not ctx.stopping()
        return CycleResult("ok", counts, more=more)

    def _save(self, ctx, store, mem_id: str, tags, entities, llm) -> bool:
        try:
            fresh = store.get(mem_id)  # re-read: someone may have edited it meanwhile
        except NotFound:
            ctx.log.info(f"{mem_id}: deleted while being organized")
            return False
        if _meta(fresh).get("processed") is True:
            return False
        backend = ctx.profile.config.get("agent").backend
        changes = {"tags": merge(fresh.get("tags"), tags),
                   "entities": merge(fresh.get("entities"), entities),
                   "metadata": {"processed": True, "processedAt": clock.iso(),
                                "model": f"{backend}:{llm.last_model or '?'}",
                                "organizer": None, "organizerFailed": None}}
        store.update(mem_id, changes, actor=self.name)
        ctx.profile.audit.append(events.MEMORY_ORGANIZED, category="data", actor=self.name,
                                 details={"id": mem_id, "tags": len(tags),
                                          "entities": len(entities)})
        return True

    def _failed(self, ctx, store, mem_id: str, error: str, cfg: dict) -> bool:
        """Record one failed attempt; returns True when the memory is now quarantined."""
        try:
            fresh = store.get(mem_id)
        except NotFound:
            return False
        prev = _meta(fresh).get("organizer")
        attempts = (prev.get("attempts", 0) if isinstance(prev, dict) else 0) + 1
        now = clock.now()
        info: dict[str, Any] = {"attempts": attempts, "lastError": error[:300]}
        quarantined = attempts >= cfg["maxAttempts"]
        if quarantined:
            meta = {"organizer": {**info, "failedAt": clock.iso(now)}, "organizerFailed": True}
        else:
            delay = min(cfg["backoffSeconds"] * 2 ** (attempts - 1), cfg["maxBackoffSeconds"])
            meta = {"organizer": {**info, "nextTryAt": clock.iso(now + timedelta(seconds=delay))}}
        store.update(mem_id, {"metadata": meta}, actor=self.name)
        ctx.log.warn(f"{mem_id}: attempt {attempts} failed: {error}"
                     + (" (quarantined)" if quarantined else ""))
        ctx.profile.audit.append(events.MEMORY_ORGANIZE_FAILED, level="warn", category="data",
                                 actor=self.name, details={"id": mem_id, "attempts": attempts,
                                                           "error": error[:300],
                                                           "quarantined": quarantined})
        return quarantined
