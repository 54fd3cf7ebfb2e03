"""Batch import (DESIGN §6): files dropped into memory/inbox/ become memories.

* `ingest_paths()` (inbox_queue.py) copies files in; `process_inbox()` takes the top-level
  files: each is parsed by the importer its content calls for (importers/: WhatsApp, Telegram,
  Markdown notes, JSON, JSONL, text), written as memories, then archived to
  `_archive/YYYY-MM-DD/` (`name`, `name-2`…, never overwriting). Unusable files go to
  `_failed/` with `<name>.error.txt` beside them. One audit entry per file, and one report per
  file in the result (format, messages or items read, memories, skipped, duplicates).
* Chat exports become the person's own turns (importers/turns.py), who being `me`, the hints
  `mh ingest --me` left, or the persona's name and aliases. Idempotent per message
  (`_ledger/keys.ndjson`): re-importing, or importing a later and longer export of the same chat,
  adds only new messages. Files already imported (same sha256) are archived as duplicates.
* Crash-safe without duplicates: a journal records each chunk as pending (with its planned file
  stem), then done (with its id); a rerun skips done chunks and, for a chunk left pending, finds
  the memory it may already have written (see inbox_ledger.Journal).
* Large files are written and indexed in batches of INDEX_EVERY, with `progress(file, done,
  total)` after each step; memories are written without a per-file fsync and synced once per
  batch of files, before the sources are archived.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import clock, events, ids
from ..errors import MHError, ValidationFailed
from ..storage import atomic_write_text, file_lock, read_json
from .importers import MAX_FILE, ParseError, Source, parse
from .importers.turns import person_turns
from .inbox_ledger import (
    Journal,
    append_lines,
    drop_hints,
    read_hints,
    read_keys,
    read_lines,
)
from .inbox_queue import Skipped, ingest_paths, move_unique
from .schema import parse_timestamp
from .store import MemoryStore

__all__ = ["Skipped", "error_report", "ingest_paths", "persona_names", "process_inbox"]

PARTIAL = (".part", ".partial", ".tmp", ".crdownload", ".download", ".swp", ".lock")
BATCH = 200
INDEX_EVERY = 1000
SETTLE_S = 2.0   # a file modified more recently may still be being copied in: next run
INGEST_TAG = "ingested"
Progress = Callable[[str, int, int], None]


def persona_names(profile) -> list[str]:
    """Who the person is in chat exports: persona/core.json identity.name, humanName, aliases."""
    try:
        ident = profile.persona.core().get("identity")
    except MHError:
        return []
    if not isinstance(ident, dict):
        return []
    aliases = ident.get("aliases")
    names = [ident.get("name"), ident.get("humanName")] + \
        (aliases if isinstance(aliases, list) else [aliases])
    return list(dict.fromkeys(n.strip() for n in names if isinstance(n, str) and n.strip()))


def _read(path: Path) -> tuple[str, bytes | None]:
    """(sha256, the bytes when the file is small enough to parse from memory)."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size <= MAX_FILE:
            raw = fh.read()
            return hashlib.sha256(raw).hexdigest(), raw
        return hashlib.file_digest(fh, "sha256").hexdigest(), None   # a zip with media


def _recover(store: MemoryStore, stem: str, chunk: str, sha: str) -> tuple[dict, Path] | None:
    """A chunk was left pending: did its memory get written before the crash?"""
    folder = store.root / stem[4:8]
    for path in sorted(folder.glob(f"{stem}*.json")):
        try:
            rec = read_json(path)
            ing = rec.get("metadata", {}).get("ingest", {})
        except Exception:  # noqa: BLE001, S112 - any unreadable file is simply not ours
            continue
        if ing.get("chunk") == chunk and (ing.get("sha256") == sha or chunk.startswith("k")):
            return rec, path
    return None


@dataclass
class _Record:
    chunk: str
    rec: dict
    keys: list[str]


def _records(store: MemoryStore, name: str, sha: str, items: list[dict]) -> list[_Record]:
    """Validated records for every item, or ParseError: nothing is written for a bad file."""
    now = clock.now()
    out = []
    for i, item in enumerate(items):
        content = item["content"]
        keys = [k for k in item.get("keys") or () if isinstance(k, str)]
        chunk = "k" + hashlib.sha256(keys[0].encode("utf-8")).hexdigest()[:23] if keys else \
            hashlib.sha256(f"{i}\x00{content}".encode()).hexdigest()[:24]
        given = item.get("metadata")
        meta = {**(given if isinstance(given, dict) else {}),
                "ingest": {"file": name, "sha256": sha, "chunk": chunk, "part": i + 1,
                           "of": len(items)}}
        tags = item.get("tags") or []
        links = item.get("links") or []
        try:
            tags = ([tags] if isinstance(tags, str) else list(tags)) + [INGEST_TAG]
            links = list(links) + [{"type": "source", "target": f"{name}[{i + 1}/{len(items)}]"}]
            rec = store.prepare(content, type=item.get("type", "observation"), tags=tags,
                                entities=item.get("entities") or [],
                                importance=item.get("importance", 0.5),
                                response=item.get("response"), links=links,
                                source=item.get("source") or f"inbox:{name}", metadata=meta,
                                timestamp=item.get("timestamp") or now, extra=item.get("extra"))
        except (ValidationFailed, TypeError) as exc:
            where = f"item {i}" if len(items) > 1 else "content"
            raise ParseError(f"{where}: {getattr(exc, 'message', exc)}") from None
        out.append(_Record(chunk, rec, keys))
    return out


def _inbox_files(inbox: Path, settle_s: float) -> tuple[list[Path], int]:
    files: list[Path] = []
    skipped = 0
    if not inbox.is_dir():
        return files, skipped
    newest = time.time() - settle_s
    for entry in sorted(os.scandir(inbox), key=lambda e: e.name):
        if entry.name.startswith((".", "~")) or entry.is_dir(follow_symlinks=False):
            continue
        if entry.is_symlink() or not entry.is_file() or entry.name.lower().endswith(PARTIAL) \
                or (settle_s and entry.stat().st_mtime > newest):
            skipped += 1  # still being written, or not a plain file: left where it is
            continue
        files.append(Path(entry.path))
    return files, skipped


@dataclass
class _Written:
    path: Path
    sha: str
    ids: list[str]
    keys: list[dict]
    report: dict


class _Run:
    """One pass over the inbox (under the inbox lock)."""

    def __init__(self, profile, actor: str, me: list[str] | None, progress: Progress | None,
                 batch: int):
        self.profile, self.actor, self.progress, self.batch = profile, actor, progress, batch
        self.me = list(me or [])
        self.home = profile.home
        self.store = MemoryStore(profile)
        self.inbox = self.home.inbox
        self.ledger = self.inbox / "_ledger"
        hints_dir = self.ledger / "hints"
        self.hinted = set(os.listdir(hints_dir)) if hints_dir.is_dir() else set()
        self.imported = {str(e.get("sha256")) for e in read_lines(self.ledger / "imported.ndjson")}
        self.recorded = set(self.imported)   # durably in imported.ndjson
        self.journal = Journal(self.ledger / "journal.ndjson")
        self.seen = read_keys(self.ledger / "keys.ndjson") | self.journal.keys
        self.pending: list[_Written] = []
        self.unindexed: list[tuple[dict, Path]] = []
        self.summary: dict[str, Any] = {"files": 0, "memories": 0, "failed": 0, "skipped": 0,
                                        "reports": []}

    # ------------------------------------------------------------------ one file
    def file(self, path: Path) -> None:
        hints = read_hints(self.inbox, path.name) if f"{path.name}.json" in self.hinted else {}
        try:
            sha, raw = _read(path)
        except FileNotFoundError:
            return
        report: dict[str, Any] = {"file": path.name}
        if hints.get("from") and hints["from"] != path.name:
            report["from"] = hints["from"]
        if sha in self.imported:
            moved = self._archive(path)
            self.profile.audit.append(events.INBOX_FILE_INGESTED, category="data", actor=self.actor,
                                      details={"file": path.name, "memories": 0,
                                               "archived": self.store.relpath(moved),
                                               "skipped": "already imported"})
            self.summary["skipped"] += 1
            self.summary["reports"].append({**report, "status": "duplicate",
                                            "reason": "already imported (same content)"})
            return
        try:
            items = self._items(path, raw, hints, report)
            records = _records(self.store, path.name, sha, items)
        except ParseError as exc:
            self._fail(path, str(exc), sha, report)
            return
        memory_ids, keys = self._write(path.name, sha, records)
        self.imported.add(sha)
        report.update(status="imported", memories=len(memory_ids))
        self.summary["reports"].append(report)      # in file order, whatever flushes when
        self.pending.append(_Written(path, sha, memory_ids, keys, report))
        if len(self.pending) >= self.batch:
            self.flush()

    def _items(self, path: Path, raw: bytes | None, hints: dict, report: dict) -> list[dict]:
        src = Source(str(hints.get("from") or path.name), path, raw)
        try:
            parsed = parse(src, hints.get("format"))
        except ValidationFailed as exc:     # a bad --format saved in the hints
            raise ParseError(exc.message) from None
        finally:
            src.close()
        report["format"] = parsed.format
        if parsed.messages is not None:
            me = [str(n) for n in hints.get("me") or ()] or self.me or \
                persona_names(self.profile)
            items, stats = person_turns(parsed.messages, me, self.seen, format=parsed.format,
                                        source=parsed.source)
            report.update(messages=stats.messages, turns=stats.turns, skipped=stats.skipped,
                          duplicates=stats.duplicates)
            return items
        new = [it for it in parsed.items if not it.get("keys") or
               not set(it["keys"]) <= self.seen]
        report.update(items=len(parsed.items), skipped=parsed.skipped,
                      duplicates=len(parsed.items) - len(new))
        return new

    def _write(self, name: str, sha: str,
               records: list[_Record]) -> tuple[list[str], list[dict]]:
        """Write the chunks of one file that no earlier (crashed) run wrote, indexing every
        INDEX_EVERY memories."""
        done = self.journal.done.get(sha, {})
        memory_ids: list[str] = []
        keys: list[dict] = []
        total = len(records)
        for n, r in enumerate(records, 1):
            found = None
            if r.chunk in done:
                memory_ids.append(done[r.chunk])
            else:
                stem = self.journal.pending_stem(sha, r.chunk)
                found = _recover(self.store, stem, r.chunk, sha) if stem else None
                if found is None:
                    ts = parse_timestamp(r.rec["timestamp"])
                    self.journal.mark(sha, r.chunk, stem=ids.memory_stem(ts, r.rec["content"]))
                    found = self.store.write_new(r.rec, durable=False)
                extra = {"keys": r.keys} if r.keys else {}
                self.journal.mark(sha, r.chunk, id=found[0]["id"], **extra)
                memory_ids.append(found[0]["id"])
                self.unindexed.append(found)
            if r.keys:
                self.seen.update(r.keys)
                keys.append({"id": memory_ids[-1], "keys": r.keys})
            if len(self.unindexed) >= INDEX_EVERY:
                self._index()
            if self.progress and (n % 100 == 0 or n == total):
                self.progress(name, n, total)
        return memory_ids, keys

    def _index(self) -> None:
        if self.unindexed:
            self.store._reindex(self.unindexed)
            self.unindexed = []

    # ------------------------------------------------------------------ outcomes
    def _archive(self, path: Path) -> Path:
        moved = move_unique(path, self.home.inbox_archive / clock.today_str())
        self._drop_hints(path)
        return moved

    def _drop_hints(self, path: Path) -> None:
        if f"{path.name}.json" in self.hinted:
            drop_hints(self.inbox, path.name)

    def flush(self) -> None:
        if not self.pending:
            return
        os.sync()   # memories durable before any source leaves the inbox
        self._index()
        append_lines(self.ledger / "keys.ndjson", [k for w in self.pending for k in w.keys])
        append_lines(self.ledger / "imported.ndjson",
                     [{"sha256": w.sha, "file": w.path.name, "at": clock.iso(),
                       "memories": len(w.ids)} for w in self.pending])
        self.recorded.update(w.sha for w in self.pending)
        for w in self.pending:
            moved = self._archive(w.path)
            self.profile.audit.append(events.INBOX_FILE_INGESTED, category="data",
                                      actor=self.actor,
                                      details={"file": w.path.name, "archived":
                                               self.store.relpath(moved),
                                               "memories": len(w.ids), "ids": w.ids[:20],
                                               **{k: v for k, v in w.report.items() if k in (
                                                   "format", "messages", "turns", "skipped",
                                                   "duplicates")}})
            self.summary["files"] += 1
            self.summary["memories"] += len(w.ids)
        self.pending.clear()

    def _fail(self, path: Path, reason: str, sha: str, report: dict) -> None:
        moved = move_unique(path, self.home.inbox_failed)
        self._drop_hints(path)
        atomic_write_text(moved.with_name(moved.name + ".error.txt"),
                          f"{path.name}: {reason}\nfailed at {clock.iso()} (sha256 {sha})\n"
                          "Fix the file and drop it into memory/inbox/ again.\n")
        self.profile.audit.append(events.INBOX_FILE_FAILED, level="warn", category="data",
                                  actor=self.actor,
                                  details={"file": path.name, "moved": self.store.relpath(moved),
                                           "reason": reason})
        self.summary["failed"] += 1
        self.summary["reports"].append({**report, "status": "failed", "reason": reason,
                                        "moved": self.store.relpath(moved)})


def process_inbox(profile, *, actor: str = "ingestor", stop: Callable[[], bool] | None = None,
                  batch: int = BATCH, settle_s: float = SETTLE_S, me: list[str] | None = None,
                  progress: Progress | None = None) -> dict:
    """Import every top-level inbox file. Returns {"files", "memories", "failed", "skipped",
    "reports"} (files = files imported; reports: one per file, see the module doc). `stop()` is
    asked between files (the agent's shutdown). Files changed less than `settle_s` seconds ago
    are left for the next run (still being copied). `me`: the person's names in chat exports
    (default: the persona's); `progress(file, done, total)` follows the writing of each file."""
    home = profile.home
    with file_lock(home.lock_file("inbox")):
        files, skipped = _inbox_files(home.inbox, settle_s)
        run = _Run(profile, actor, me, progress, batch)
        run.summary["skipped"] = skipped
        try:
            for path in files:
                if stop is not None and stop():
                    break
                run.file(path)
            run.flush()
        finally:
            run.journal.close(run.recorded)
    return run.summary


def error_report(reports: list[dict]) -> list[str]:
    """One line per failed file: `name: reason` (for faces and agent logs)."""
    return [f"{r.get('from') or r['file']}: {r.get('reason', 'failed')}" for r in reports
            if r.get("status") == "failed"]

