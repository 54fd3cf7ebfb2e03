"""Batch import (DESIGN §6): files dropped into memory/inbox/ become memories.

* `ingest_paths()` copies files in (hidden temp name, then an exclusive final name: the ingestor
  never sees half a file and nothing is overwritten).
* `process_inbox()` takes the top-level files: parsed (importers.py), written as memories, then
  archived to `_archive/YYYY-MM-DD/` (`name`, `name-2`…, never overwriting). Unusable files go
  to `_failed/` with `<name>.error.txt` beside them. One audit entry per file.
* Crash-safe without duplicates: a journal (`_ledger/journal.ndjson`) records each chunk of each
  file (by sha256) as pending (with its planned file stem) and then done (with its id). A rerun
  skips done chunks and, for a chunk left pending, finds the memory it may already have written.
  Files already imported (`_ledger/imported.ndjson`, same sha256) are archived as duplicates.
* Memories are written without a per-file fsync; one sync per batch, before the sources are
  archived, keeps 10k files fast and still loses nothing on power failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from .. import clock, events, ids
from ..errors import ValidationFailed
from ..storage import atomic_write_text, file_lock, read_json
from .importers import ParseError, parse_file
from .schema import parse_timestamp
from .store import MemoryStore

PARTIAL = (".part", ".partial", ".tmp", ".crdownload", ".download", ".swp", ".lock")
BATCH = 200
SETTLE_S = 2.0   # a file modified more recently may still be being copied in: next run
INGEST_TAG = "ingested"


def _claim(folder: Path, name: str) -> Path:
    """An empty file `folder/name` (or `name-2`, `name-3`… before the extension) that is ours."""
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = os.path.splitext(name)
    if not stem:
        stem, suffix = name, ""
    for n in range(1, 100_000):
        target = folder / (name if n == 1 else f"{stem}-{n}{suffix}")
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return target
        except FileExistsError:
            continue
    raise ValidationFailed(f"no free name for {name} in {folder}")


def _move_unique(src: Path, folder: Path) -> Path:
    target = _claim(folder, src.name)
    os.replace(src, target)
    return target


def _link_unique(src: Path, folder: Path, name: str) -> Path:
    """Give the complete file `src` a free name in `folder` in one step (a hard link never
    overwrites and never shows an empty file), falling back to claim + rename."""
    stem, suffix = os.path.splitext(name)
    for n in range(1, 100_000):
        target = folder / (name if n == 1 else f"{stem or name}-{n}{suffix if stem else ''}")
        try:
            os.link(src, target)
            return target
        except FileExistsError:
            continue
        except OSError:   # no hard links on this file system
            target = _claim(folder, name)
            os.replace(src, target)
            return target
    raise ValidationFailed(f"no free name for {name} in {folder}")


def _append(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def _read_lines(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue  # a torn last line after a crash
        if isinstance(obj, dict):
            out.append(obj)
    return out


# ---------------------------------------------------------------------- copying files in
def _looks_binary(path: Path) -> bool:
    with path.open("rb") as fh:
        return b"\0" in fh.read(8192)


def ingest_paths(profile, paths: list[Path], *, actor: str = "human",
                 skipped: list[Path] | None = None) -> list[Path]:
    """Copy files (a folder: its top-level files) into memory/inbox/. Returns the inbox paths.

    From a folder, binary files (a NUL byte in the first 8 KiB) are left where they are and
    appended to `skipped`; a file named explicitly is always queued (and, if unreadable, ends in
    _failed/ with its reason when imported)."""
    sources: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for c in sorted(c for c in p.iterdir() if c.is_file() and not c.name.startswith(".")):
                if _looks_binary(c):
                    if skipped is not None:
                        skipped.append(c)
                    continue
                sources.append(c)
        elif p.is_file():
            sources.append(p)
        else:
            raise ValidationFailed(f"{p}: no such file or folder", hint="mh ingest FILE|FOLDER…")
    inbox = profile.home.inbox
    inbox.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sources:
        tmp = inbox / f".{src.name}.{os.getpid()}.partial"
        shutil.copyfile(src, tmp)
        try:
            target = _link_unique(tmp, inbox, src.name)
        finally:
            tmp.unlink(missing_ok=True)
        out.append(target)
        profile.audit.append(events.INBOX_FILE_QUEUED, category="data", actor=actor,
                             details={"file": target.name, "from": src.name,
                                      "bytes": target.stat().st_size})
    return out


# ---------------------------------------------------------------------- processing
class _Journal:
    """Crash journal of one import run (and of an interrupted one before it): one append-only
    file, one line per chunk state, so a crash at any point is recoverable without duplicates."""

    def __init__(self, path: Path):
        self.path = path
        self.done: dict[str, dict[str, str]] = {}
        self.pending: dict[str, dict[str, str]] = {}
        for entry in _read_lines(path):
            sha, chunk = entry.get("sha256"), entry.get("chunk")
            if "id" in entry:
                self.done.setdefault(sha, {})[chunk] = entry["id"]
            elif "stem" in entry:
                self.pending.setdefault(sha, {})[chunk] = entry["stem"]
        self.mentioned = set(self.done) | set(self.pending)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def mark(self, sha: str, chunk: str, **kw) -> None:
        self.mentioned.add(sha)
        line = json.dumps({"sha256": sha, "chunk": chunk, **kw}, ensure_ascii=False) + "\n"
        os.write(self.fd, line.encode("utf-8"))

    def close(self, finished: set[str]) -> None:
        """Forget the journal once every file it mentions is recorded as imported."""
        os.close(self.fd)
        if self.mentioned <= finished:
            os.truncate(self.path, 0)


def _recover(store: MemoryStore, stem: str, chunk: str, sha: str) -> tuple[dict, Path] | None:
    """A chunk was left pending: did its memory get written before the crash?"""
    folder = store.root / stem[4:8]
    for path in sorted(folder.glob(f"{stem}*.json")):
        try:
            rec = read_json(path)
            ing = rec.get("metadata", {}).get("ingest", {})
        except Exception:  # noqa: BLE001 - any unreadable file is simply not ours
            continue
        if ing.get("chunk") == chunk and ing.get("sha256") == sha:
            return rec, path
    return None


def _records(store: MemoryStore, name: str, sha: str, items: list[dict]) -> list[tuple[str, dict]]:
    """Validated records for every item, or ParseError: nothing is written for a bad file."""
    now = clock.now()
    out = []
    for i, item in enumerate(items):
        content = item["content"]
        chunk = hashlib.sha256(f"{i}\x00{content}".encode("utf-8")).hexdigest()[:24]
        meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        meta = {**meta, "ingest": {"file": name, "sha256": sha, "chunk": chunk, "part": i + 1,
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
        out.append((chunk, rec))
    return out


def _inbox_files(inbox: Path, settle_s: float) -> tuple[list[Path], int]:
    files, skipped = [], 0
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


def process_inbox(profile, *, actor: str = "ingestor", stop: Callable[[], bool] | None = None,
                  batch: int = BATCH, settle_s: float = SETTLE_S) -> dict:
    """Import every top-level inbox file. Returns {"files", "memories", "failed", "skipped"}
    (files = files imported). `stop()` is asked between files (the agent's shutdown). Files
    changed less than `settle_s` seconds ago are left for the next run (still being copied)."""
    home = profile.home
    store = MemoryStore(profile)
    ledger_dir = home.inbox / "_ledger"
    imported_log = ledger_dir / "imported.ndjson"
    summary = {"files": 0, "memories": 0, "failed": 0, "skipped": 0}
    with file_lock(home.lock_file("inbox")):
        imported = {e.get("sha256") for e in _read_lines(imported_log)}
        recorded = set(imported)   # durably in imported.ndjson (imported: also this run's)
        files, summary["skipped"] = _inbox_files(home.inbox, settle_s)
        journal = _Journal(ledger_dir / "journal.ndjson")
        pending: list[tuple[Path, str, list[str], list[tuple[dict, Path]]]] = []

        def flush() -> None:
            if not pending:
                return
            os.sync()   # memories durable before any source leaves the inbox
            store._reindex([pair for *_, pairs in pending for pair in pairs])
            archive = home.inbox_archive / clock.today_str()
            lines = [json.dumps({"sha256": sha, "file": path.name, "at": clock.iso(),
                                 "memories": len(ids_)}) + "\n" for path, sha, ids_, _ in pending]
            with open(imported_log, "a", encoding="utf-8") as fh:
                fh.writelines(lines)
            recorded.update(sha for _, sha, _, _ in pending)
            for path, sha, memory_ids, _ in pending:
                moved = _move_unique(path, archive)
                profile.audit.append(events.INBOX_FILE_INGESTED, category="data", actor=actor,
                                     details={"file": path.name, "archived": store.relpath(moved),
                                              "memories": len(memory_ids), "ids": memory_ids[:20]})
                summary["files"] += 1
                summary["memories"] += len(memory_ids)
            pending.clear()

        try:
            for path in files:
                if stop is not None and stop():
                    break
                try:
                    raw = path.read_bytes()
                except FileNotFoundError:
                    continue
                sha = hashlib.sha256(raw).hexdigest()
                if sha in imported:
                    moved = _move_unique(path, home.inbox_archive / clock.today_str())
                    profile.audit.append(events.INBOX_FILE_INGESTED, category="data", actor=actor,
                                         details={"file": path.name, "memories": 0,
                                                  "archived": store.relpath(moved),
                                                  "skipped": "already imported"})
                    summary["skipped"] += 1
                    continue
                try:
                    records = _records(store, path.name, sha, parse_file(path.name, raw))
                except ParseError as exc:
                    _fail(profile, store, path, str(exc), sha, actor)
                    summary["failed"] += 1
                    continue
                memory_ids, pairs = _write_chunks(store, journal, sha, records)
                imported.add(sha)
                pending.append((path, sha, memory_ids, pairs))
                if len(pending) >= batch:
                    flush()
            flush()
        finally:
            journal.close(recorded)
    return summary


def _write_chunks(store: MemoryStore, journal: _Journal, sha: str,
                  records: list[tuple[str, dict]]) -> tuple[list[str], list[tuple[dict, Path]]]:
    """Write the chunks of one file that no earlier (crashed) run wrote."""
    done = journal.done.get(sha, {})
    pending = journal.pending.get(sha, {})
    memory_ids, pairs = [], []
    for chunk, rec in records:
        if chunk in done:
            memory_ids.append(done[chunk])
            continue
        if chunk in pending:
            found = _recover(store, pending[chunk], chunk, sha)
            if found:
                journal.mark(sha, chunk, id=found[0]["id"])
                memory_ids.append(found[0]["id"])
                pairs.append(found)
                continue
        ts = parse_timestamp(rec["timestamp"])
        journal.mark(sha, chunk, stem=ids.memory_stem(ts, rec["content"]))
        written, mpath = store.write_new(rec, durable=False)
        journal.mark(sha, chunk, id=written["id"])
        memory_ids.append(written["id"])
        pairs.append((written, mpath))
    return memory_ids, pairs


def _fail(profile, store: MemoryStore, path: Path, reason: str, sha: str, actor: str) -> None:
    moved = _move_unique(path, profile.home.inbox_failed)
    atomic_write_text(moved.with_name(moved.name + ".error.txt"),
                      f"{path.name}: {reason}\nfailed at {clock.iso()} (sha256 {sha})\n"
                      "Fix the file and drop it into memory/inbox/ again.\n")
    profile.audit.append(events.INBOX_FILE_FAILED, level="warn", category="data", actor=actor,
                         details={"file": path.name, "moved": store.relpath(moved),
                                  "reason": reason})
