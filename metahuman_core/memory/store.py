"""Episodic memories: one JSON file per memory, memory/episodic/YYYY/evt-YYYYMMDD-HHMMSS-<slug>.json.

The file stem is the id. New files are claimed with O_EXCL (`-2`, `-3`… on collision), so two
captures in the same second, in any number of processes, never overwrite each other. Every write
updates the search index (best effort: the index is derived and catches up from the files) and
is audited without the memory's text.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .. import clock, ids
from ..audit import audit_data_change
from ..errors import CorruptFile, NotFound
from ..storage import atomic_write_bytes, atomic_write_json, dumps, file_lock, read_json
from .schema import apply_changes, build_record, parse_timestamp

if TYPE_CHECKING:
    from ..profile import Profile

RESOURCE = "memory"


class MemoryStore:
    def __init__(self, profile: Profile):
        self.profile = profile
        self.home = profile.home
        self.root = self.home.episodic
        self.corrupt: list[tuple[Path, str]] = []   # files iter_all()/list() had to skip
        self._next_suffix: dict[str, int] = {}   # stem -> first suffix worth trying (bulk writes)

    # ------------------------------------------------------------------ helpers
    @property
    def index(self):
        from ..search.engine import index_for

        return index_for(self.profile)

    def path_of(self, memory_id: str) -> Path:
        ids.validate_memory_id(memory_id)
        return self.root / memory_id[4:8] / f"{memory_id}.json"

    def relpath(self, path: Path) -> str:
        try:
            return str(Path(path).relative_to(self.home.root))
        except ValueError:
            return str(path)

    def _lock(self):
        return file_lock(self.home.lock_file("memory"))

    def _find(self, memory_id: str) -> Path:
        path = self.path_of(memory_id)
        if path.is_file():
            return path
        with contextlib.suppress(sqlite3.Error):
            other = self.index.locate(memory_id)   # a file moved to another year folder by hand
            if other is not None and other.is_file():
                return other
        raise NotFound(f"memory {memory_id} not found (looked for {self.relpath(path)})",
                       hint="list memories with: mh memory list")

    def _reindex(self, pairs: list[tuple[dict, Path]], before: dict[str, int] | None = None) -> None:
        """Best effort: a busy or broken index must never lose a write (sync() catches up)."""
        try:
            self.index.upsert_many(pairs, before)
        except (sqlite3.Error, OSError):
            pass

    @staticmethod
    def _mtime(folder: Path) -> dict[str, int]:
        """A folder's mtime before we change it (see Index.upsert_many)."""
        try:
            return {folder.name: folder.stat().st_mtime_ns}
        except FileNotFoundError:
            return {}

    # ------------------------------------------------------------------ create
    def prepare(self, content: str, *, type: str = "observation", tags: Iterable[str] = (),
                entities: Iterable[str] = (), importance: float = 0.5, response: str | None = None,
                links: Any = (), source: str | None = None, metadata: dict | None = None,
                timestamp: datetime | str | None = None, extra: dict | None = None) -> dict:
        """A validated record without an id yet (the id is claimed when it is written)."""
        ts = parse_timestamp(timestamp) if timestamp is not None else clock.now()
        return build_record("", ts, content, type=type, tags=tags, entities=entities,
                            importance=importance, response=response, links=links, source=source,
                            metadata=metadata, extra=extra)

    def write_new(self, record: dict, *, durable: bool = True) -> tuple[dict, Path]:
        """Claim a free id for a prepared record and write its file. No index, no audit."""
        ts = parse_timestamp(record["timestamp"])
        folder = self.root / ts.strftime("%Y")
        folder.mkdir(parents=True, exist_ok=True)
        stem = ids.memory_stem(ts, record["content"])
        first = self._next_suffix.get(stem, 1)   # 8k chunks of one file share a stem: not O(n²)
        for n in range(first, first + 10_000):
            memory_id = stem if n == 1 else f"{stem}-{n}"
            target = folder / f"{memory_id}.json"
            try:
                fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                continue
            os.close(fd)
            final = {"id": memory_id, **{k: v for k, v in record.items() if k != "id"}}
            try:
                atomic_write_bytes(target, dumps(final).encode("utf-8"), durable=durable)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(target)
                raise
            self._next_suffix[stem] = n + 1
            return final, target
        raise OSError(errno.EEXIST, f"no free memory id for {stem} in {folder}")

    def capture(self, content: str, *, type: str = "observation", tags: Iterable[str] = (),
                entities: Iterable[str] = (), importance: float = 0.5, response: str | None = None,
                links: Any = (), source: str | None = None, metadata: dict | None = None,
                actor: str = "human", timestamp: datetime | str | None = None,
                extra: dict | None = None) -> dict:
        """Write a new memory; returns the record plus "path" (the path is not in the file)."""
        record = self.prepare(content, type=type, tags=tags, entities=entities,
                              importance=importance, response=response, links=links,
                              source=source, metadata=metadata, timestamp=timestamp, extra=extra)
        before = self._mtime(self.root / record["timestamp"][:4]) \
            if record["timestamp"][:4].isdigit() else {}
        record, path = self.write_new(record)
        if path.parent.name not in before:
            before = {}
        self._reindex([(record, path)], before)
        audit_data_change(self.profile.audit, type="create", resource=RESOURCE,
                          path=self.relpath(path), actor=actor,
                          details={"id": record["id"], "type": record["type"]})
        return {**record, "path": str(path)}

    # ------------------------------------------------------------------ read
    def _read(self, memory_id: str, path: Path) -> dict:
        data = read_json(path)
        if not isinstance(data, dict):
            raise CorruptFile(path, f"expected a JSON object, got {type(data).__name__}")
        data["id"] = memory_id
        data["path"] = str(path)
        return data

    def get(self, memory_id: str) -> dict:
        path = self._find(memory_id)
        return self._read(memory_id, path)

    def list(self, *, after=None, before=None, type: str | None = None, tag: str | None = None,
             limit: int | None = None, newest_first: bool = True) -> list[dict]:
        """Memories by time (after: inclusive, before: exclusive; dates or date-times)."""
        idx = self.index
        idx.sync()
        out = []
        for memory_id, path in idx.select(after=after, before=before, type=type, tag=tag,
                                          limit=limit, newest_first=newest_first):
            try:
                out.append(self._read(memory_id, path))
            except FileNotFoundError:
                continue
            except CorruptFile as exc:
                self.corrupt.append((path, exc.reason))
        return out

    def iter_all(self) -> Iterator[dict]:
        """Every memory straight from the files (no index), oldest folder first; corrupt files
        are skipped and recorded in `self.corrupt`."""
        if not self.root.is_dir():
            return
        for year in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.isdigit()):
            for path in sorted(year.glob("evt-*.json")):
                try:
                    yield self._read(path.stem, path)
                except FileNotFoundError:
                    continue
                except CorruptFile as exc:
                    self.corrupt.append((path, exc.reason))

    def count(self) -> int:
        idx = self.index
        idx.sync()
        return idx.count()

    # ------------------------------------------------------------------ change
    def update(self, memory_id: str, changes: dict, *, actor: str = "human") -> dict:
        """Apply `changes` (see schema.apply_changes); unknown fields are kept. Atomic."""
        with self._lock():
            path = self._find(memory_id)
            current = self._read(memory_id, path)
            current.pop("path")
            new = apply_changes(current, changes)
            before = self._mtime(path.parent)
            if new != current:
                atomic_write_json(path, new)
        self._reindex([(new, path)], before)
        audit_data_change(self.profile.audit, type="update", resource=RESOURCE,
                          path=self.relpath(path), actor=actor,
                          details={"id": memory_id, "fields": sorted(changes)})
        return {**new, "path": str(path)}

    def tag(self, memory_id: str, add: Iterable[str] = (), remove: Iterable[str] = (), *,
            actor: str = "human") -> dict:
        current = self.get(memory_id)
        found = current.get("tags")
        tags: list = found if isinstance(found, list) else []
        drop = {t.lower() for t in remove}
        new = [t for t in tags if isinstance(t, str) and t.lower() not in drop] + list(add)
        return self.update(memory_id, {"tags": new}, actor=actor)

    def delete(self, memory_id: str, *, actor: str = "human") -> None:
        with self._lock():
            path = self._find(memory_id)
            before = self._mtime(path.parent)
            path.unlink()
        with contextlib.suppress(sqlite3.Error):
            self.index.remove(memory_id, before)
        audit_data_change(self.profile.audit, type="delete", resource=RESOURCE,
                          path=self.relpath(path), actor=actor, details={"id": memory_id})
