"""Durable agent run records (TinyDB) and the per-agent log file, both under logs/agents/.

The original derived "runs" from substring heuristics over today's audit file (original.md §6.6 ⚠).
Here every cycle is one record {start, end, status, counts, error, reason}. TinyDB is not safe
with several processes on its own, so every access takes an flock on `<agent>.runs.lock`, opens
the database inside the lock and writes it atomically (temp + rename): a reader in another
process (`mh agent status`) never sees a torn file.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from .. import clock
from ..errors import CorruptFile
from ..storage import atomic_write_json, file_lock, read_json

STATUSES = ("running", "ok", "failed", "skipped")
MAX_RECORDS = 500            # older run records are pruned; the totals keep counting
LOG_ROTATE_BYTES = 5_000_000


class AtomicJSONStorage(Storage):
    """TinyDB storage that never leaves a half-written file (read_json / atomic_write_json)."""

    def __init__(self, path: str | Path, **_: Any):
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            data = read_json(self.path)
        except FileNotFoundError:
            return None
        if not isinstance(data, dict):
            raise CorruptFile(self.path, "expected a JSON object of tables")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        atomic_write_json(self.path, data, durable=False)


class RunStore:
    """The run records of one agent: logs/agents/<agent>.runs.json (+ .runs.lock)."""

    def __init__(self, agents_dir: Path, agent: str):
        self.agent = agent
        self.path = Path(agents_dir) / f"{agent}.runs.json"
        self.lock_path = Path(agents_dir) / f"{agent}.runs.lock"
        self.problems: list[str] = []  # a corrupt records file moved aside (said, not hidden)

    @contextlib.contextmanager
    def _db(self) -> Iterator[TinyDB]:
        with file_lock(self.lock_path):
            try:
                db = TinyDB(self.path, storage=AtomicJSONStorage)
                db.tables()  # parse now, inside the lock
            except CorruptFile as exc:
                # run records are a log, not the person's data: keep the bad file aside, go on,
                # and say so (the counts start again from zero)
                aside = self.path.with_name(f"{self.path.name}.corrupt-{os.getpid()}")
                os.replace(self.path, aside)
                self.problems.append(f"{self.path}: unreadable ({exc.reason}); moved aside to "
                                     f"{aside.name}, run counts start again")
                db = TinyDB(self.path, storage=AtomicJSONStorage)
            try:
                yield db
            finally:
                db.close()

    # ------------------------------------------------------------------ writing
    def start(self, started: datetime | None = None, pid: int | None = None) -> int:
        """Insert a 'running' record; returns its id for finish()."""
        rec = {"agent": self.agent, "pid": pid or os.getpid(),
               "start": clock.iso(started), "end": None, "status": "running", "counts": {},
               "error": None, "reason": None}
        with self._db() as db:
            return db.table("runs").insert(rec)

    def finish(self, run_id: int, *, status: str, counts: dict | None = None,
               error: str | None = None, reason: str | None = None,
               ended: datetime | None = None) -> dict:
        if status not in STATUSES[1:]:
            raise ValueError(f"run status must be ok, failed or skipped, got {status!r}")
        changes = {"end": clock.iso(ended), "status": status, "counts": dict(counts or {}),
                   "error": error, "reason": reason}
        with self._db() as db:
            runs = db.table("runs")
            if runs.contains(doc_id=run_id):
                runs.update(changes, doc_ids=[run_id])
            else:
                run_id = runs.insert({"agent": self.agent, "pid": os.getpid(), "start":
                                      changes["end"], **changes})
            self._count(db, status)
            self._prune(runs)
            return {"id": run_id, **(runs.get(doc_id=run_id) or {})}

    def recover_interrupted(self) -> int:
        """Mark 'running' records of dead processes failed. Call while holding the agent lock
        (then no live process of this agent can own a running record)."""
        q = Query()
        with self._db() as db:
            runs = db.table("runs")
            stale = runs.search(q.status == "running")
            for rec in stale:
                runs.update({"status": "failed", "end": rec.get("start"),
                             "error": f"interrupted: process {rec.get('pid')} ended before the "
                                      "cycle finished"}, doc_ids=[rec.doc_id])
                self._count(db, "failed")
            return len(stale)

    @staticmethod
    def _count(db: TinyDB, status: str) -> None:
        totals = db.table("totals")
        row = totals.get(doc_id=1)
        data = dict(row) if row else {"runs": 0, "ok": 0, "failed": 0, "skipped": 0}
        data["runs"] = data.get("runs", 0) + 1
        data[status] = data.get(status, 0) + 1
        if row:
            totals.update(data, doc_ids=[1])
        else:
            totals.insert(data)

    @staticmethod
    def _prune(runs) -> None:
        ids = sorted(doc.doc_id for doc in runs.all())
        if len(ids) > MAX_RECORDS:
            runs.remove(doc_ids=ids[:len(ids) - MAX_RECORDS])

    # ------------------------------------------------------------------ reading
    def recent(self, limit: int = 20) -> list[dict]:
        """Newest first."""
        if not self.path.exists():
            return []
        with self._db() as db:
            docs = sorted(db.table("runs").all(), key=lambda d: d.doc_id, reverse=True)
            return [{"id": d.doc_id, **d} for d in docs[:limit]]

    def summary(self) -> dict[str, Any]:
        """Totals since the first run, success rate over finished ok/failed runs, last run."""
        if not self.path.exists():
            totals, last = {}, None
        else:
            with self._db() as db:
                row = db.table("totals").get(doc_id=1)
                totals = dict(row) if row else {}
                docs = db.table("runs").all()
                last_doc = max(docs, key=lambda d: d.doc_id) if docs else None
                last = {"id": last_doc.doc_id, **last_doc} if last_doc else None
        ok, failed = totals.get("ok", 0), totals.get("failed", 0)
        rate = round(100.0 * ok / (ok + failed), 1) if ok + failed else None
        return {"agent": self.agent, "total": totals.get("runs", 0), "successes": ok,
                "failures": failed, "skipped": totals.get("skipped", 0), "successRate": rate,
                "lastRun": last}


class AgentLog:
    """logs/agents/<agent>.log: one line per event, appended with a single write()."""

    def __init__(self, agents_dir: Path, agent: str, echo=None):
        self.path = Path(agents_dir) / f"{agent}.log"
        self.echo = echo

    def rotate_if_large(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.path.stat().st_size > LOG_ROTATE_BYTES:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))

    def write(self, level: str, message: str) -> None:
        text = " ".join(str(message).splitlines()) or "-"
        line = f"{clock.iso()} {level.upper():5} {text}\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8", errors="replace"))
        finally:
            os.close(fd)
        if self.echo:
            self.echo(line.rstrip("\n"))

    def info(self, message: str) -> None:
        self.write("info", message)

    def warn(self, message: str) -> None:
        self.write("warn", message)

    def error(self, message: str) -> None:
        self.write("error", message)

    def tail(self, lines: int = 10) -> list[str]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                start = max(0, size - 256 * max(lines, 1) - 4096)
                fh.seek(start)
                data = fh.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        rows = data.splitlines()[1 if start else 0:]  # a mid-file start cuts the first line
        return [ln for ln in rows if ln.strip()][-lines:] if lines > 0 else []
