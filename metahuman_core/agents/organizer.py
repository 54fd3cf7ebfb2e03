"""organizer: tags and entities for every memory whose metadata.processed is not true.

The original skipped every memory that already had tags (so `monitor` never converged), marked
nothing when the model answered empty, and retried failures every minute forever (original.md
§6.1, §10.2 #14). Here: selection is by `metadata.processed` only, the model answers through a JSON
schema (structured output), results are merged and de-duplicated with what is there, and each
failure backs off (metadata.organizer = {attempts, lastError, nextTryAt}) until the memory is
quarantined (metadata.organizerFailed = true) after `maxAttempts`. An unreachable model skips
the cycle: nothing is marked processed without a real extraction.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta
from typing import Any

from .. import clock, events
from ..errors import CorruptFile, NotFound, ValidationFailed
from ..storage import read_json
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


def _when(value: Any) -> datetime | None:
    return clock.parse_iso(value)


def state_of(record: dict, now: datetime) -> str:
    """processed | failed | waiting (backing off) | pending."""
    meta = _meta(record)
    if meta.get("processed") is True:
        return "processed"
    if meta.get("organizerFailed") is True:
        return "failed"
    retry = _when((meta.get("organizer") or {}).get("nextTryAt")
                  if isinstance(meta.get("organizer"), dict) else None)
    if retry is not None and retry > now:
        return "waiting"
    return "pending"


class PendingScan:
    """Which memories still need the organizer, without re-reading settled files each cycle.

    A file seen processed or quarantined is remembered by (inode, mtime, size); while those are
    unchanged it is not opened again (every write through MemoryStore replaces the file, so any
    change gives a new inode). At 100k memories a cycle costs a stat per file, not a JSON parse.
    Walks the same layout as MemoryStore.iter_all (episodic/YYYY/evt-*.json).
    """

    def __init__(self, root):
        self.root = root
        self.settled: dict[str, tuple[int, int, int]] = {}

    def pending(self, now: datetime) -> list[dict]:
        out: list[dict] = []
        keep: dict[str, tuple[int, int, int]] = {}
        if not self.root.is_dir():
            return out
        for year in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.isdigit()):
            with os.scandir(year) as entries:
                for entry in entries:
                    if not (entry.name.startswith("evt-") and entry.name.endswith(".json")):
                        continue
                    try:
                        st = entry.stat()
                    except FileNotFoundError:
                        continue
                    key = (st.st_ino, st.st_mtime_ns, st.st_size)
                    if self.settled.get(entry.path) == key:
                        keep[entry.path] = key
                        continue
                    try:
                        record = read_json(entry.path)
                    except (FileNotFoundError, CorruptFile):
                        continue  # a corrupt file is reported by `mh memory`, not retried here
                    if not isinstance(record, dict):
                        continue
                    record["id"] = entry.name[:-5]
                    state = state_of(record, now)
                    if state in ("processed", "failed"):
                        keep[entry.path] = key
                    elif state == "pending":
                        out.append(record)
        self.settled = keep
        return out


def memory_stats(profile) -> dict[str, Any]:
    """`mh agent monitor`: total, processed, unprocessed (incl. backing off), failed."""
    from ..memory import MemoryStore

    now = clock.now()
    counts = {"processed": 0, "failed": 0, "waiting": 0, "pending": 0}
    for record in MemoryStore(profile).iter_all():
        if isinstance(record, dict):
            counts[state_of(record, now)] += 1
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

    def __init__(self):
        self._scan: PendingScan | None = None

    def cycle(self, ctx: Context) -> CycleResult:
        from ..llm import get_llm
        from ..llm.base import LLMError, LLMUnavailable, ModelMissing
        from ..memory import MemoryStore

        profile = ctx.profile
        cfg = settings(profile)
        store = MemoryStore(profile)
        llm = get_llm(profile)
        if self._scan is None or self._scan.root != store.root:
            self._scan = PendingScan(store.root)
        todo = self._scan.pending(clock.now())
        todo.sort(key=lambda r: str(r.get("timestamp", "")))
        batch = todo[:cfg["batchSize"]]
        counts = {"candidates": len(todo), "processed": 0, "errors": 0, "quarantined": 0}
        consecutive = 0
        for record in batch:
            if ctx.stopping():
                break
            mem_id = record.get("id")
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
        more = len(todo) > len(batch) and not ctx.stopping()
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
