"""The derived SQLite index of memories (memory/index/memory.db): FTS5 for text, tables for filters.

The JSON files are the truth; this file can be deleted at any time (`mh index rebuild`).
* WAL + busy timeout: many processes (CLI, TUI, agents) read and write at once.
* Kept in step by every write through MemoryStore, and with hand-made changes by `sync()`:
  per-year-folder mtimes say which folders changed (adds, deletes and editor saves change them);
  only those are listed, comparing (name, inode) — no stat per file. A full stat sweep
  (`sync(full=True)`: `mh index status|refresh`, and every FULL_SWEEP_S in long-running
  processes such as the TUI and agents) also catches edits made in place; search re-checks the
  files of the hits it returns, so a shown result is never stale.
* An mtime within RACY_NS of the scan is not trusted (two changes in one clock tick look alike).
* A writer (MemoryStore) that changes a folder the index was in step with marks it in step again:
  the change is its own, so nobody re-lists 30k names after each capture. The price: on a kernel
  with coarse timestamps, a foreign change in the same clock tick right after that write stays
  unseen until the folder changes again or a full sweep runs (Linux 6.13+ multigrain timestamps
  make the window empty; folders listed by sync() keep the RACY_NS rule).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .. import clock
from ..ids import MEMORY_ID_RE
from .records import BadRecord, load_record
from .rows import drop as _drop, put as _put, sig as _sig
from . import states as _states

if TYPE_CHECKING:
    from ..audit import AuditLog

SCHEMA_VERSION = 7   # 6: organizer state (states.py), doc_tags by rid; 7: docs.source
DB_NAME = "memory.db"
YEAR_RE = re.compile(r"^\d{4}$")
RACY_NS = 2_000_000_000
FULL_SWEEP_S = 600
BUSY_MS = 10_000

_SCHEMA = """
CREATE TABLE docs(
  rid INTEGER PRIMARY KEY, id TEXT NOT NULL, dir TEXT NOT NULL, name TEXT NOT NULL,
  ino INTEGER NOT NULL, mtime INTEGER NOT NULL, size INTEGER NOT NULL, sig INTEGER NOT NULL,
  ts REAL NOT NULL, day TEXT NOT NULL, timestamp TEXT NOT NULL, type TEXT NOT NULL,
  tags TEXT NOT NULL, state TEXT NOT NULL, retry REAL,
  source TEXT NOT NULL DEFAULT '' COLLATE NOCASE, UNIQUE(dir, name));
CREATE INDEX docs_id ON docs(id);
CREATE INDEX docs_dir ON docs(dir, sig, name, ino, mtime, size);  -- covers folder scans
CREATE INDEX docs_ts ON docs(ts);
CREATE INDEX docs_type_ts ON docs(type, ts);
CREATE INDEX docs_state ON docs(state, ts);  -- monitor counts, the organizer's newest due first
CREATE INDEX docs_retry ON docs(retry);       -- set for pending rows only (who backs off)
CREATE INDEX docs_source ON docs(source);     -- `source:NAME` is a prefix (LIKE 'name%')
CREATE TABLE doc_tags(tag TEXT NOT NULL COLLATE NOCASE, rid INTEGER NOT NULL,
  PRIMARY KEY(tag, rid)) WITHOUT ROWID;
CREATE INDEX doc_tags_rid ON doc_tags(rid);   -- re-indexing one memory must not scan all tags
CREATE VIRTUAL TABLE fts USING fts5(content, response, tags, entities,
  tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE dirs(dir TEXT PRIMARY KEY, mtime INTEGER NOT NULL);
CREATE TABLE bad(dir TEXT NOT NULL, name TEXT NOT NULL, ino INTEGER NOT NULL,
  mtime INTEGER NOT NULL, size INTEGER NOT NULL, sig INTEGER NOT NULL, reason TEXT NOT NULL,
  PRIMARY KEY(dir, name));
CREATE TABLE vecs(rid INTEGER PRIMARY KEY, vec BLOB NOT NULL);
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
"""
_TABLES = ("docs", "doc_tags", "fts", "dirs", "bad", "vecs", "meta")


class Index:
    """One per profile per process (see `index_for`). Thread-safe: one connection behind a lock."""

    def __init__(self, memory_dir: Path, index_dir: Path):
        self.episodic = Path(memory_dir) / "episodic"
        self.path = Path(index_dir) / DB_NAME
        self.lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._depth = 0
        self.full_sweep_s = FULL_SWEEP_S
        self._last_full = time.monotonic()   # a one-shot CLI process never pays a full sweep

    # ------------------------------------------------------------------ connection
    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            with self.lock:
                try:
                    self._conn = self._open()
                except sqlite3.DatabaseError as exc:
                    if "locked" in str(exc) or "busy" in str(exc):
                        raise
                    # Not a database any more (truncated, overwritten): it is derived data, so
                    # keep the broken file for inspection and start a new one.
                    for p in self.path.parent.glob(DB_NAME + "*"):
                        os.replace(p, p.with_name(p.name + f".broken-{int(time.time())}"))
                    self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._create_schema(conn)
            conn.execute("SELECT count(*) FROM dirs").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        with self._tx(conn):
            if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return  # another process made it while we waited
            for table in _TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA.split(";"):   # not executescript: it would COMMIT early
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _tx(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        conn = conn or self.conn
        with self.lock:
            if self._depth:  # already inside a transaction of this connection: join it
                self._depth += 1
                try:
                    yield conn
                finally:
                    self._depth -= 1
                return
            conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield conn
            except BaseException:
                self._depth = 0
                conn.execute("ROLLBACK")
                raise
            self._depth = 0
            conn.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ------------------------------------------------------------------ writes
    def upsert(self, record: dict, path: Path | None = None) -> None:
        """Index one memory whose file has just been written (path defaults to its id's path)."""
        self.upsert_many([(record, path)])

    def upsert_many(self, items: list[tuple[dict, Path | None]],
                    dirs_before: dict[str, int] | None = None) -> None:
        """Index memories just written. `dirs_before` (folder name → its mtime before the
        write) lets a writer mark the folder in step when the index was in step before: the
        change is its own, so the next sync need not list the folder."""
        rows = []
        for record, path in items:
            path = Path(path) if path else self.episodic / record["id"][4:8] / f"{record['id']}.json"
            st = path.stat()
            rows.append((path.parent.name, path.name, st, record))
        with self._tx() as conn:
            for dirname, name, st, record in rows:
                _put(conn, dirname, name, st, record)
            self._explain(conn, dirs_before)

    def _explain(self, conn: sqlite3.Connection, dirs_before: dict[str, int] | None) -> None:
        for dirname, before in (dirs_before or {}).items():
            row = conn.execute("SELECT mtime FROM dirs WHERE dir=?", (dirname,)).fetchone()
            if row and row[0] == before and before >= 0:
                now = (self.episodic / dirname).stat().st_mtime_ns
                conn.execute("UPDATE dirs SET mtime=? WHERE dir=?", (now, dirname))

    def remove(self, memory_id: str, dirs_before: dict[str, int] | None = None) -> int:
        with self._tx() as conn:
            rids = [r[0] for r in conn.execute("SELECT rid FROM docs WHERE id=?", (memory_id,))]
            for rid in rids:
                _drop(conn, rid)
            # an unreadable file deleted through the store leaves the "bad" list too
            conn.execute("DELETE FROM bad WHERE name=?", (f"{memory_id}.json",))
            self._explain(conn, dirs_before)
        return len(rids)

    # ------------------------------------------------------------------ keeping in step
    def sync(self, full: bool | None = None) -> dict:
        """Pick up files added, deleted or replaced outside the store. Cheap when nothing changed.
        full=None: a full stat sweep only if this process did none for `full_sweep_s`."""
        counts = {"added": 0, "updated": 0, "removed": 0, "bad": 0}
        with self.lock:
            conn = self.conn
            if full is None:
                full = time.monotonic() - self._last_full > self.full_sweep_s
            stored = dict(conn.execute("SELECT dir, mtime FROM dirs"))
            years = {}
            if self.episodic.is_dir():
                with os.scandir(self.episodic) as it:
                    for e in it:
                        if YEAR_RE.match(e.name) and e.is_dir(follow_symlinks=False):
                            years[e.name] = e.stat().st_mtime_ns
            todo = [(d, m) for d, m in sorted(years.items()) if full or stored.get(d) != m]
            gone = [d for d in stored if d not in years]
            for d in gone:
                with self._tx() as c:
                    for (rid,) in c.execute("SELECT rid FROM docs WHERE dir=?", (d,)).fetchall():
                        _drop(c, rid)
                        counts["removed"] += 1
                    c.execute("DELETE FROM bad WHERE dir=?", (d,))
                    c.execute("DELETE FROM dirs WHERE dir=?", (d,))
            for d, mtime in todo:
                self._scan_dir(d, mtime, full, counts)
            if full:
                self._last_full = time.monotonic()
                self._set_meta("last_full_sync", str(time.time()))
        return counts

    def _scan_dir(self, dirname: str, dir_mtime: int, full: bool, counts: dict) -> None:
        folder = self.episodic / dirname
        seen: dict[str, tuple[int, int, int]] = {}
        total = 0
        try:
            with os.scandir(folder) as it:
                for e in it:
                    name = e.name
                    if name[-5:] == ".json" and name[0] != ".":
                        ino = e.inode()
                        if full:
                            st = e.stat(follow_symlinks=False)
                            seen[name] = (ino, st.st_mtime_ns, st.st_size)
                        else:
                            seen[name] = (ino, -1, -1)
                            total += _sig(name, ino)
        except FileNotFoundError:
            seen = {}
        conn = self.conn
        racy = time.time_ns() - dir_mtime < RACY_NS
        if not full:
            # Fast path: the folder holds exactly the (name, inode) set the index knows (its
            # count and signature sum match), e.g. it changed only by our own writes.
            n1, s1 = conn.execute("SELECT count(*), coalesce(sum(sig), 0) FROM docs WHERE dir=?",
                                  (dirname,)).fetchone()
            n2, s2 = conn.execute("SELECT count(*), coalesce(sum(sig), 0) FROM bad WHERE dir=?",
                                  (dirname,)).fetchone()
            if (n1 + n2, s1 + s2) == (len(seen), total):
                with self._tx() as c:
                    c.execute("INSERT OR REPLACE INTO dirs VALUES (?, ?)",
                              (dirname, -1 if racy else dir_mtime))
                return
        known = {n: (rid, ino, m, s) for rid, n, ino, m, s in conn.execute(
            "SELECT rid, name, ino, mtime, size FROM docs WHERE dir=?", (dirname,))}
        bad = {n: (ino, m, s) for n, ino, m, s in conn.execute(
            "SELECT name, ino, mtime, size FROM bad WHERE dir=?", (dirname,))}
        changed = []
        for name, (ino, m, s) in seen.items():
            old = known.get(name) or ((None,) + bad[name] if name in bad else None)
            if old is None or old[1] != ino or (full and (old[2], old[3]) != (m, s)):
                changed.append(name)
        removed = [known[n][0] for n in known if n not in seen]
        loaded: list[tuple[str, os.stat_result, dict | None, str | None]] = []
        for name in sorted(changed):   # id (= time) order: rowids follow time (ranking.py)
            path = folder / name
            try:
                st = path.stat()
                record = load_record(path) if MEMORY_ID_RE.match(name[:-5]) else None
                if record is None:
                    raise BadRecord("file name is not a memory id (evt-YYYYMMDD-HHMMSS-slug.json)")
                loaded.append((name, st, record, None))
            except FileNotFoundError:
                if name in known:
                    removed.append(known[name][0])
            except BadRecord as exc:
                loaded.append((name, st, None, str(exc)))
        with self._tx() as conn:
            for rid in removed:
                _drop(conn, rid)
                counts["removed"] += 1
            conn.execute("DELETE FROM bad WHERE dir=? AND name NOT IN (SELECT value FROM json_each(?))",
                         (dirname, json.dumps(list(seen))))
            for name, st, record, reason in loaded:
                if record is None:
                    row = conn.execute("SELECT rid FROM docs WHERE dir=? AND name=?",
                                       (dirname, name)).fetchone()
                    if row:
                        _drop(conn, row[0])
                    conn.execute("INSERT OR REPLACE INTO bad VALUES (?,?,?,?,?,?,?)",
                                 (dirname, name, st.st_ino, st.st_mtime_ns, st.st_size,
                                  _sig(name, st.st_ino), reason))
                    counts["bad"] += 1
                else:
                    counts["updated" if name in known else "added"] += 1
                    _put(conn, dirname, name, st, record)
            conn.execute("INSERT OR REPLACE INTO dirs VALUES (?, ?)",
                         (dirname, -1 if racy else dir_mtime))

    def rebuild(self, *, audit: AuditLog | None = None, actor: str = "system") -> dict:
        """Forget everything and re-read every file, in one transaction (readers see the old index
        until the new one is complete). With `audit`, recorded as index_rebuilt (the counts)."""
        started = time.monotonic()
        with self.lock, self._tx() as conn:
            for table in ("docs", "doc_tags", "fts", "dirs", "bad", "vecs"):
                conn.execute(f"DELETE FROM {table}")
            counts = self.sync(full=True)
            self._set_meta("last_rebuild", clock.iso())
        counts["seconds"] = round(time.monotonic() - started, 3)
        if audit is not None:
            from .. import events

            audit.append(events.INDEX_REBUILT, actor=actor, details=counts)
        return counts

    # ------------------------------------------------------------------ reads
    def status(self) -> dict:
        with self.lock:
            conn = self.conn
            docs = conn.execute("SELECT count(*) FROM docs").fetchone()[0]
            bad = [{"path": f"{d}/{n}", "reason": r}
                   for d, n, r in conn.execute("SELECT dir, name, reason FROM bad ORDER BY dir, name")]
            vecs = conn.execute("SELECT count(*) FROM vecs").fetchone()[0]
            size = sum(p.stat().st_size for p in self.path.parent.glob(DB_NAME + "*") if p.is_file())
            return {"path": str(self.path), "memories": docs, "corrupt": bad, "embedded": vecs,
                    "embedding_model": self._meta("vec_model"), "bytes": size,
                    "last_rebuild": self._meta("last_rebuild"),
                    "last_full_sync": _iso_or_none(self._meta("last_full_sync")),
                    "schema": SCHEMA_VERSION}

    def count(self) -> int:
        with self.lock:
            return self.conn.execute("SELECT count(*) FROM docs").fetchone()[0]

    def state_counts(self, now=None) -> dict[str, int]:
        """Organizer states {processed, failed, pending (due), waiting (backing off)} at `now`
        (default: clock.now()), from the index alone; call sync() first (see states.py)."""
        with self.lock:
            return _states.counts(self.conn, now)

    def due(self, now=None, limit: int | None = None) -> list[tuple[str, Path]]:
        """(id, path) of memories the organizer should try now, newest first."""
        with self.lock:
            rows = _states.due(self.conn, now, limit)
        return [(i, self.episodic / d / n) for i, d, n in rows]

    def locate(self, memory_id: str) -> Path | None:
        with self.lock:
            row = self.conn.execute("SELECT dir, name FROM docs WHERE id=? ORDER BY dir LIMIT 1",
                                    (memory_id,)).fetchone()
        return self.episodic / row[0] / row[1] if row else None

    def select(self, *, after=None, before=None, type=None, tag=None, limit=None,
               newest_first=True) -> list[tuple[str, Path]]:
        """(id, path) of memories matching the filters, by time (after/before: see filters.py)."""
        from .filters import time_clause

        where, args = [], []
        if type:
            where.append("d.type=?")
            args.append(type)
        if tag:
            where.append("d.rid IN (SELECT rid FROM doc_tags WHERE tag=?)")
            args.append(tag)
        for clause, value in (time_clause(">=", after), time_clause("<", before)):
            if clause:
                where.append(clause)
                args.append(value)
        sql = "SELECT d.id, d.dir, d.name FROM docs d"
        if where:
            sql += " WHERE " + " AND ".join(where)
        order = "DESC" if newest_first else "ASC"
        sql += f" ORDER BY d.ts {order}, d.id {order}"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self.lock:
            rows = self.conn.execute(sql, args).fetchall()
        return [(i, self.episodic / d / n) for i, d, n in rows]

    def file_state(self, rid: int) -> tuple[Path, int, int, int] | None:
        row = self.conn.execute("SELECT dir, name, ino, mtime, size FROM docs WHERE rid=?",
                                (rid,)).fetchone()
        return (self.episodic / row[0] / row[1], row[2], row[3], row[4]) if row else None

    def refresh_file(self, dirname: str, name: str) -> None:
        """Re-read one file (a search hit found it changed or gone)."""
        counts = {"added": 0, "updated": 0, "removed": 0, "bad": 0}
        with self.lock:
            conn = self.conn
            path = self.episodic / dirname / name
            try:
                st = path.stat()
                record = load_record(path)
            except FileNotFoundError:
                with self._tx() as c:
                    for (rid,) in c.execute("SELECT rid FROM docs WHERE dir=? AND name=?",
                                            (dirname, name)).fetchall():
                        _drop(c, rid)
                return
            except BadRecord:
                self._scan_dir(dirname, -1, True, counts)
                return
            with self._tx(conn) as c:
                _put(c, dirname, name, st, record)

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def _iso_or_none(value: str | None) -> str | None:
    if value is None:
        return None
    from datetime import datetime

    return datetime.fromtimestamp(float(value)).astimezone().isoformat(timespec="seconds")
