"""Memories → {instruction, input, output} pairs in the person's own words (DESIGN §10.1).

The original trained mostly on its own LLM output (reflections, dreams, the twin's chat replies),
i.e. the adapter learned its base model, not the person (original.md §7.1 ⚠). Here the output of
a pair is always text the person wrote: observations, journal entries, their side of
conversations (a conversation memory keeps the person's message in `content` and the twin's
reply in `response`; when the previous turn's reply is known it becomes the prompt). A reply
imported from a chat export (`metadata.replyTo = {speaker, text}`, issue 20) is paired with the
message it answered: instruction = the other person's words, output = the person's reply, never
the reverse; `metadata.speaker` (the person's name in the export) is kept for the system prompt,
the other person's name is not kept at all. Reflections,
dreams and operator actions are model-generated: excluded by default, or capped to a small share
(`etc/training.json` → `dataset.modelGenerated: "downweight"`). Persona anchor pairs come from
persona/core.json. `trainingConsent: false` is honoured, outputs are de-duplicated, PII is
scrubbed (default on for remote runs) and a stable held-out split is kept for evaluation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import clock, events
from ..config import DatasetOptions
from ..errors import CorruptFile
from ..storage import atomic_write_json, atomic_write_text, read_json_or
from . import anchors, pii
from .persona_template import main_speaker
from .runs import claim_dir, dataset_labels, label_key, validate_label
from .shapes import as_dict

OWN_WORDS = {"observation", "journal", "conversation", "chat", "inner_dialogue", "note", "idea",
             "audio", "transcript", "fragment"}
MODEL_GENERATED = {"reflection", "reflection_summary", "dream", "action", "summary",
                   "overnight_learning", "search"}
SYSTEM_TAGS = {"chat", "conversation", "inner", "inbox", "ingested", "idle-thought", "summary",
               "concise", "extended", "operator", "success", "failure", "self-reflection", "audio",
               "transcript", "journal", "observation", "tui", "cli", "api"}
PROMPTS = {
    "observation": ["What's on your mind?", "What happened today?", "Tell me something you noticed.",
                    "What have you been thinking about?"],
    "journal": ["Write a journal entry.", "How was your day?", "What would you write down tonight?"],
    "conversation": ["What would you say?", "Tell me what you think.", "What's on your mind?"],
    "inner_dialogue": ["Think it through out loud.", "What are you telling yourself?"],
    "reflection": ["Reflect on something from your week."],
    "dream": ["Describe a dream you had."],
}
TOPIC_PROMPTS = ["What's on your mind about {t}?", "Tell me about {t}.", "What do you think of {t}?"]
CONFIDENCE = {"own": "high", "anchor": "high", "other": "medium", "generated": "low"}
ME_WRAPPER = re.compile(r'^\s*me:\s*["“](.*)["”]\s*$', re.IGNORECASE | re.DOTALL)
THINK_RE = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def load_options(profile) -> DatasetOptions:
    """The validated `dataset` section (validated with the whole file by ConfigStore)."""
    return profile.config.get("training").dataset


def iter_memories(profile) -> Iterable[dict[str, Any]]:
    """Every memory record, through the memory store (files are its business, not ours)."""
    from ..memory import MemoryStore

    for item in MemoryStore(profile).iter_all():
        yield item if isinstance(item, dict) else item.to_dict()


@dataclass
class BuildResult:
    label: str
    path: str
    pairs: int
    train: int
    heldout: int
    metadata: dict[str, Any] = field(default_factory=dict)
    unchanged: bool = False  # nothing was written: `label` is the existing identical dataset


def _clean(text: Any, max_words: int) -> str:
    text = THINK_RE.sub("", str(text or ""))
    m = ME_WRAPPER.match(text)
    if m:
        text = m.group(1)
    lines = [" ".join(line.split()) for line in text.strip().splitlines()]
    text = "\n".join(line for line in lines if line)
    words = text.split(" ")
    if len(words) > max_words:
        text = " ".join(words[:max_words]).rstrip(",;:") + "…"
    return text


# Memory files may be edited or imported by hand: their fields are read through these, so a
# value of the wrong JSON type is skipped (shapes.as_dict, or a lone tag taken as one by
# _names), never a crash.
def _names(value: Any) -> list[Any]:
    """Tags/entities: a list as is, a lone string as one name (not its letters), else none."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, str) else []


def _consent(mem: dict[str, Any]) -> bool:
    meta = as_dict(mem.get("metadata"))
    return meta.get("trainingConsent", mem.get("trainingConsent")) is not False


def _pick(options: list[str], key: str) -> str:
    return options[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(options)]


def _topic(mem: dict[str, Any]) -> str | None:
    for name in _names(mem.get("entities")) + _names(mem.get("tags")):
        if isinstance(name, str) and name.strip() and name.lower() not in SYSTEM_TAGS:
            return name.strip()
    return None


def _kind(mtype: str) -> str:
    if mtype in MODEL_GENERATED:
        return "generated"
    return "own" if mtype in OWN_WORDS else "other"


def _prompt(mem: dict[str, Any], mtype: str, key: str) -> str:
    topic = _topic(mem)
    if topic and mtype not in ("journal", "dream"):
        return _pick(TOPIC_PROMPTS, key).format(t=topic)
    return _pick(PROMPTS.get(mtype) or PROMPTS["observation"], key)


def _timestamp(mem: dict[str, Any]) -> datetime | None:
    try:
        ts = datetime.fromisoformat(str(mem.get("timestamp")))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.astimezone()


def memory_pairs(memories: list[dict[str, Any]], opts: DatasetOptions) -> tuple[list[dict], Counter]:
    """One pair per usable memory, oldest first; skip reasons are counted."""
    skipped: Counter = Counter()
    mems = [m for m in memories if isinstance(m, dict)]
    mems.sort(key=lambda m: str(m.get("timestamp") or ""))
    cutoff = clock.now() - timedelta(days=opts.days) if opts.days else None
    prev_reply: tuple[datetime | None, str, str] | None = None  # (when, session, twin reply)
    pairs = []
    for mem in mems:
        meta = as_dict(mem.get("metadata"))
        mtype = str(mem.get("type") or meta.get("type") or "observation")
        ts = _timestamp(mem)
        session = str(meta.get("sessionId") or mem.get("sessionId") or "")
        last, prev_reply = prev_reply, None
        if not _consent(mem):  # neither its words nor the twin's reply in it are used
            skipped["no consent"] += 1
            continue
        if mtype in ("conversation", "chat", "inner_dialogue") and mem.get("response"):
            prev_reply = (ts, session, _clean(mem["response"], opts.maxOutputWords))
        if cutoff and ts and ts < cutoff:
            skipped["too old"] += 1
            continue
        kind = _kind(mtype)
        if kind == "generated" and opts.modelGenerated == "exclude":
            skipped[f"model-generated ({mtype})"] += 1
            continue
        output = _clean(mem.get("content"), opts.maxOutputWords)
        if len(output) < opts.minChars:
            skipped["too short"] += 1
            continue
        key = str(mem.get("id") or output[:80])
        instruction = _prompt(mem, "conversation" if mtype == "chat" else mtype, key)
        reply_text = as_dict(meta.get("replyTo")).get("text")
        asked = _clean(reply_text, opts.maxOutputWords) if isinstance(reply_text, str) else ""
        if mtype in ("conversation", "chat") and asked:
            instruction = asked  # the other person's message this reply answered
        elif mtype in ("conversation", "chat") and last and last[2]:
            gap = (ts - last[0]).total_seconds() / 60 if ts and last[0] else None
            same = (last[1] == session) if (last[1] or session) else \
                (gap is not None and 0 <= gap <= opts.conversationGapMinutes)
            if same:
                instruction = last[2]  # what the twin said, which this message answers
        pair_meta = {"source": "memory", "memoryId": mem.get("id"), "type": mtype,
                     "kind": kind, "confidence": CONFIDENCE[kind],
                     "timestamp": mem.get("timestamp")}
        if asked:
            pair_meta["prompt"] = "replyTo"
        speaker = meta.get("speaker")
        if isinstance(speaker, str) and speaker.strip():
            pair_meta["speaker"] = speaker.strip()
        pairs.append({"instruction": instruction, "input": "", "output": output,
                      "meta": pair_meta})
    return pairs, skipped


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def dedupe(pairs: list[dict]) -> tuple[list[dict], int]:
    """Drop repeated outputs (newest kept) and identity pairs (output == prompt)."""
    seen: set[str] = set()
    out, dropped = [], 0
    for pair in reversed(pairs):
        key = _norm(pair["output"])
        if not key or key in seen or key == _norm(pair["instruction"]):
            dropped += 1
            continue
        seen.add(key)
        out.append(pair)
    out.reverse()
    return out, dropped


def cap_generated(pairs: list[dict], share: float) -> tuple[list[dict], int]:
    own = [p for p in pairs if p["meta"]["kind"] != "generated"]
    gen = [p for p in pairs if p["meta"]["kind"] == "generated"]
    allowed = int(share / (1 - share) * len(own)) if share else 0
    keep = set(map(id, gen[-allowed:] if allowed else []))
    return [p for p in pairs if p["meta"]["kind"] != "generated" or id(p) in keep], \
        len(gen) - len(keep)


def heldout_size(eligible: int, opts: DatasetOptions) -> int:
    """max(heldOutMin, heldOutFraction × own pairs), at most heldOutMax and at most half: fewer
    than 12 held-out prompts say little about an adapter (issue 21: 6 did)."""
    if not opts.heldOutFraction and not opts.heldOutMin:
        return 0
    wanted = max(opts.heldOutMin, round(eligible * opts.heldOutFraction))
    return max(0, min(wanted, opts.heldOutMax, eligible // 2))


def split(pairs: list[dict], opts: DatasetOptions, seed: str = "heldout") -> None:
    """Mark meta.split: a stable hash-ordered slice of the person's own pairs is held out (never
    anchors or model-generated text); the same memories always give the same slice."""
    eligible = [p for p in pairs if p["meta"]["kind"] == "own"]
    n = heldout_size(len(eligible), opts)
    order = sorted(eligible, key=lambda p: hashlib.sha256(
        f"{seed}:{p['meta'].get('memoryId') or p['output']}".encode()).hexdigest())
    held = set(map(id, order[:n]))
    for p in pairs:
        p["meta"]["split"] = "heldout" if id(p) in held else "train"


def build_pairs(profile, memories: Iterable[dict[str, Any]], opts: DatasetOptions, *,
                scrub: bool) -> tuple[list[dict], dict[str, Any]]:
    pairs, skipped = memory_pairs(list(memories), opts)
    pairs, dupes = dedupe(pairs)
    pairs, capped = cap_generated(pairs, opts.modelGeneratedMaxShare)
    if len(pairs) > opts.maxPairs:
        skipped["over maxPairs"] += len(pairs) - opts.maxPairs
        pairs = pairs[-opts.maxPairs:]
    if opts.anchors:
        pairs = anchors.anchor_pairs(profile) + pairs
    split(pairs, opts)
    replaced: Counter = Counter()
    if scrub:
        for p in pairs:
            for k in ("instruction", "input", "output"):
                p[k] = pii.scrub(p[k], replaced)
            if p["meta"].get("memoryId"):  # ids embed a slug of the text: keep only a hash
                p["meta"]["memoryId"] = "sha256:" + hashlib.sha256(
                    p["meta"]["memoryId"].encode()).hexdigest()[:16]
    stats = {"skipped": dict(skipped), "duplicates": dupes, "generatedCapped": capped,
             "piiScrubbed": scrub, "piiReplacements": dict(replaced)}
    return pairs, stats


def metadata(pairs: list[dict], stats: dict[str, Any]) -> dict[str, Any]:
    n = len(pairs)
    outs = [len(p["output"]) for p in pairs]
    return {
        "pairCount": n, "trainCount": sum(p["meta"]["split"] == "train" for p in pairs),
        "heldOutCount": sum(p["meta"]["split"] == "heldout" for p in pairs),
        "byType": dict(Counter(p["meta"]["type"] for p in pairs)),
        "byKind": dict(Counter(p["meta"]["kind"] for p in pairs)),
        "byConfidence": dict(Counter(p["meta"]["confidence"] for p in pairs)),
        "avgOutputLength": round(sum(outs) / n, 1) if n else 0.0,
        "avgInputLength": round(sum(len(p["instruction"]) + len(p["input"]) for p in pairs) / n, 1)
        if n else 0.0,
        "repliesWithPrompt": sum(1 for p in pairs if p["meta"].get("prompt") == "replyTo"),
        "speaker": main_speaker(pairs),
        "createdAt": clock.iso(), **stats}


def jsonl_text(pairs: list[dict]) -> str:
    """The exact bytes a dataset file holds: what "unchanged" is decided on."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in pairs)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _same_bytes(path, text: str) -> bool:
    try:
        return path.read_bytes() == text.encode("utf-8")
    except FileNotFoundError:
        return False


def previous_dataset(profile, date: str, *, across_dates: bool = False) -> str | None:
    """The dataset a new build is compared with. By hand: the newest of that date that is not
    rejected (rebuilding a rejected dataset to look again is a person's call). Nightly
    (`across_dates`): the newest of any date and any status, so the same data is never re-built,
    re-scored or re-trained night after night."""
    from .gates import dataset_state

    day = label_key(validate_label(date))[0]
    for label in reversed(dataset_labels(profile)):
        if not across_dates and label_key(label)[0] != day:
            continue
        if across_dates or not dataset_state(profile, label)["rejected"]:
            return label
    return None


def _unchanged(profile, label: str, pairs: list[dict]) -> BuildResult:
    """The existing dataset, byte-equal to `pairs`: the counts come from the pairs, never from
    metadata.json (a report a person may have edited by hand)."""
    path = profile.home.adapters / label
    try:
        meta = read_json_or(path / "metadata.json", {})
    except CorruptFile:  # the pairs are what matter; `mh adapter list` reports the torn file
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    split = Counter(p["meta"]["split"] for p in pairs)
    return BuildResult(label, str(path / f"{label}.jsonl"), len(pairs), split["train"],
                       split["heldout"], meta, unchanged=True)


def build_dataset(profile, date: str | None = None, *, remote: bool | None = None,
                  pii_scrub: bool | None = None, actor: str = "cli", force: bool = False,
                  across_dates: bool = False) -> BuildResult:
    """Write out/adapters/<DATE>[-N]/<label>.jsonl + metadata.json; audit lora_dataset_built.

    When the pairs are byte-identical to `previous_dataset` (and not `force`), nothing is
    written or audited: the result names that dataset with `unchanged=True` (a second identical
    dataset would only be clutter and a second thing to approve)."""
    date = validate_label(date or clock.today_str())
    opts = load_options(profile)
    if remote is None:
        remote = profile.config.get("training").mode == "remote"
    scrub = pii_scrub if pii_scrub is not None else (
        opts.piiScrub if opts.piiScrub is not None else bool(remote))
    pairs, stats = build_pairs(profile, iter_memories(profile), opts, scrub=scrub)
    text = jsonl_text(pairs)
    if not force:
        prev = previous_dataset(profile, date, across_dates=across_dates)
        if prev and _same_bytes(profile.home.adapters / prev / f"{prev}.jsonl", text):
            return _unchanged(profile, prev, pairs)
    meta = metadata(pairs, stats)
    label, path = claim_dir(profile.home.adapters, date)
    meta["label"] = label
    meta["sha256"] = _digest(text.encode("utf-8"))
    atomic_write_text(path / f"{label}.jsonl", text)
    atomic_write_json(path / "metadata.json", meta)
    profile.audit.append(events.LORA_DATASET_BUILT, category="data", actor=actor, details={
        "date": label, "pairs": meta["pairCount"], "train": meta["trainCount"],
        "heldout": meta["heldOutCount"], "byKind": meta["byKind"], "piiScrubbed": scrub})
    return BuildResult(label, str(path / f"{label}.jsonl"), meta["pairCount"],
                       meta["trainCount"], meta["heldOutCount"], meta)
