"""Append-only, tamper-evident daily audit log (DESIGN §5).

Each line of logs/audit/YYYY-MM-DD.ndjson (local date) is one entry with fixed key order:
  {"seq","prev","timestamp","level","category","event","actor","details","hash"}
`hash` = sha256 of the canonical line without its hash field (that exact byte prefix + "}"),
`prev` = the previous entry's hash (across days), `seq` increases by one per entry. The chain is
ordered by seq, not by file names or clocks: a clock that goes back just writes to another file.
The head record (logs/audit-head.json, audit_head.py) is evidence: the last seq/hash and what each
day file holds. Appends hold an flock on it; each line is one write(). When an append finds the
files and the head out of step it never re-chains silently: it records an `audit_chain_repaired`
entry first (audit_repair.py). "Tamper-evident", not immutable: anyone with write access can
rewrite everything consistently; only a checkpoint kept elsewhere (audit_checkpoint.py) catches it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import clock, events
from .audit_match import entry_matches
from .audit_head import (
    GENESIS,
    HEAD_SIZE,
    Day,
    Head,
    overlay,
    read_days,
    read_live,
    write_days,
    write_live,
)
from .errors import ValidationFailed
from .redact import redact

if TYPE_CHECKING:
    from .audit_verify import VerifyResult

__all__ = [
    "AUDIT_CHAIN_REPAIRED",
    "AUDIT_CHECKPOINT",
    "GENESIS",
    "HEAD_SIZE",
    "AuditLog",
    "Head",
    "audit",
    "audit_data_change",
    "audit_decision",
    "audit_security",
    "build_line",
]

LEVELS = ("info", "warn", "error", "critical")
CATEGORIES = ("system", "decision", "action", "security", "data")
AUDIT_CHAIN_REPAIRED = events.AUDIT_CHAIN_REPAIRED  # re-exported: the catalogue lives in events.py
AUDIT_CHECKPOINT = events.AUDIT_CHECKPOINT
_HASH_MARK = ',"hash":"'
_FILE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.ndjson$")
_PREFIX_RE = re.compile(r'^\{"seq":(\d+),"prev":"([0-9a-f]{64})",')


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def build_line(seq: int, prev: str, timestamp: str, level: str, category: str, event: str,
               actor: str, details: Any) -> tuple[str, str]:
    """Return (line including trailing newline, hash)."""
    body = (f'{{"seq":{seq},"prev":"{prev}","timestamp":{_compact(timestamp)},'
            f'"level":{_compact(level)},"category":{_compact(category)},'
            f'"event":{_compact(event)},"actor":{_compact(actor)},"details":{_compact(details)}}}')
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return f'{body[:-1]}{_HASH_MARK}{digest}"}}\n', digest


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class AuditLog:
    """One per home. Thread-safe within a process; flock-safe across processes."""

    def __init__(self, logs_dir: Path):
        self.dir = Path(logs_dir) / "audit"
        self.head_path = Path(logs_dir) / "audit-head.json"
        self.home = Path(logs_dir).parent
        self._mutex = threading.Lock()
        self._head_fd: int | None = None
        self._day_fd: int | None = None
        self._day: str | None = None
        self._pid = os.getpid()
        self.last_repair: dict | None = None  # the audit_chain_repaired entry this process wrote

    # ------------------------------------------------------------------ writing
    def day_path(self, date: str) -> Path:
        return self.dir / f"{date}.ndjson"

    def rel(self, path: Path) -> str:
        """A path as people see it in messages: relative to the profile home."""
        try:
            return str(Path(path).relative_to(self.home))
        except ValueError:
            return str(path)

    def _lock_head(self) -> int:
        """Open and flock the head record; reopen if it was deleted or replaced meanwhile (a
        process holding the old inode would otherwise lock and write a file nobody sees)."""
        if self._pid != os.getpid():
            # forked: flock is shared by the open file description, so a child must not use the
            # parent's descriptors or both would "hold" the lock at once
            self._head_fd = self._day_fd = self._day = None
            self._pid = os.getpid()
        while True:
            if self._head_fd is None:
                self.dir.mkdir(parents=True, exist_ok=True)
                self._head_fd = os.open(self.head_path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._head_fd, fcntl.LOCK_EX)
            if _same_file(self._head_fd, self.head_path):
                return self._head_fd
            fcntl.flock(self._head_fd, fcntl.LOCK_UN)
            os.close(self._head_fd)
            self._head_fd = None

    def _open_day(self, date: str) -> int:
        if self._day_fd is not None and (self._day != date
                                         or not _same_file(self._day_fd, self.day_path(date))):
            os.close(self._day_fd)
            self._day_fd = None
        if self._day_fd is None:
            self._day_fd = os.open(self.day_path(date), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._day = date
        return self._day_fd

    def append(self, event: str, *, level: str = "info", category: str = "system",
               actor: str = "system", details: Any = None, when: datetime | None = None) -> dict:
        if not event or not isinstance(event, str):
            raise ValidationFailed("audit entry needs an event name")
        if level not in LEVELS:
            raise ValidationFailed(f"invalid audit level {level!r}; one of {', '.join(LEVELS)}")
        if category not in CATEGORIES:
            raise ValidationFailed(
                f"invalid audit category {category!r}; one of {', '.join(CATEGORIES)}")
        ts = when or clock.now()
        if ts.tzinfo is None:
            ts = ts.astimezone()
        date = ts.strftime("%Y-%m-%d")
        timestamp = ts.isoformat(timespec="milliseconds")
        clean = redact(details if details is not None else {})
        fields = (timestamp, level, category, event, actor, clean)
        durable = category == "security" or level == "critical"
        with self._mutex:
            hfd = self._lock_head()
            try:
                dfd = self._open_day(date)
                size = os.fstat(dfd).st_size
                head, status = read_live(hfd)
                days = self._in_step(hfd, head, status, date, size)
                if days is None:
                    return self._append_after_damage(hfd, dfd, head, status, date, fields)
                line, new = self._next(head or Head(), date, size, fields)
                if head is None or head.date != date or status == "legacy":
                    write_days(hfd, overlay(days, head))
                os.write(dfd, line.encode("utf-8"))
                if durable:
                    os.fsync(dfd)
                write_live(hfd, new)
                if durable:
                    os.fsync(hfd)
            finally:
                fcntl.flock(hfd, fcntl.LOCK_UN)
        return json.loads(line)

    def _in_step(self, hfd: int, head: Head | None, status: str, date: str,
                 size: int) -> dict[str, Day] | None:
        """The day manifest if the files are exactly as the head record says (for the days this
        append touches), else None. A fresh log (no head, no entries) is in step."""
        if status == "missing":  # a fresh log has no day file but the one just opened, empty
            return {} if size == 0 and set(self.dates()) <= {date} else None
        if head is None:
            return None
        if head.date == date:
            if size != head.offset:
                return None
            if status == "legacy":
                return self._migrate(head)
            return {} if status == "ok" else None
        if _size(self.day_path(head.date)) != head.offset if head.date else head.seq != 0:
            return None
        days = self._migrate(head) if status == "legacy" else read_days(hfd)
        if days is None:
            return None
        known = overlay(days, head).get(date)
        if size != (known.size if known else 0):
            return None
        return days

    def _migrate(self, head: Head) -> dict[str, Day] | None:
        """A version-1 head (no manifest): the manifest is built from the files, once, if the
        files end where that head says."""
        from .audit_repair import rebuild

        days, _, tail_seq, tail_hash = rebuild(self)
        if (tail_seq, tail_hash) != (head.seq, head.hash):
            return None
        today = days.get(head.date)
        head.v = 2
        head.seg = today.segs[-1][0] if today and today.segs else head.seq + 1
        head.seg_hash = today.first if today else ""
        return days

    def _next(self, head: Head, date: str, size: int,
              fields: tuple) -> tuple[str, Head]:
        seq = head.seq + 1
        line, digest = build_line(seq, head.hash, *fields)
        offset = size + len(line.encode("utf-8"))
        if head.date == date:
            new = Head(seq, digest, date, offset, head.seg, head.seg_hash, head.repair)
        else:
            new = Head(seq, digest, date, offset, seq, digest, head.repair)
        return line, new

    def _append_after_damage(self, hfd: int, dfd: int, head: Head | None, status: str, date: str,
                             fields: tuple) -> dict:
        from .audit_repair import record_damage

        repair, entry = record_damage(self, hfd, dfd, head, status, date, fields)
        self.last_repair = repair
        return entry

    def damage(self) -> dict | None:
        """The newest audit_chain_repaired entry, or None if the log never found damage: for a
        face that shows "the audit log is damaged" persistently (see audit_repair.last_damage)."""
        from .audit_repair import last_damage

        return last_damage(self)

    def close(self) -> None:
        for attr in ("_head_fd", "_day_fd"):
            fd = getattr(self, attr)
            if fd is not None:
                os.close(fd)
                setattr(self, attr, None)
        self._day = None

    # ------------------------------------------------------------------ reading
    def dates(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(m.group(1) for p in self.dir.iterdir() if (m := _FILE_RE.match(p.name)))

    def read_head(self) -> Head | None:
        try:
            fd = os.open(self.head_path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            return read_live(fd)[0]
        finally:
            os.close(fd)

    def entries(self, date: str) -> Iterator[dict]:
        """Parsed entries of one day; an unparsable line yields {"_broken": line_no, "_raw": …}."""
        path = self.day_path(date)
        if not path.exists():
            return
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    if not isinstance(entry, dict):
                        raise TypeError
                    yield entry
                except (ValueError, TypeError):
                    yield {"_broken": n, "_raw": line[:200]}

    def query(self, date: str | None = None, *, category: str | None = None,
              level: str | None = None, event: str | None = None, actor: str | None = None,
              text: str | None = None, limit: int | None = None) -> list[dict]:
        date = date or clock.today_str()
        out = []
        for entry in self.entries(date):
            if "_broken" in entry:
                continue
            if not entry_matches(entry, level=level, category=category, event=event, actor=actor):
                continue
            if text and text.lower() not in json.dumps(entry, ensure_ascii=False).lower():
                continue
            out.append(entry)
        if limit is not None:
            out = out[-limit:]
        return out

    def summary(self, date: str | None = None) -> dict:
        date = date or clock.today_str()
        by_level: dict[str, int] = {}
        by_category: dict[str, int] = {}
        by_event: dict[str, int] = {}
        total = 0
        for entry in self.entries(date):
            if "_broken" in entry:
                continue
            total += 1
            for key, bucket in (("level", by_level), ("category", by_category), ("event", by_event)):
                value = str(entry.get(key))
                bucket[value] = bucket.get(value, 0) + 1
        return {"date": date, "total": total, "by_level": by_level, "by_category": by_category,
                "by_event": dict(sorted(by_event.items(), key=lambda kv: -kv[1]))}

    def security_report(self, date: str | None = None) -> list[dict]:
        return [e for e in self.entries(date or clock.today_str())
                if "_broken" not in e and (e.get("category") == "security"
                                           or e.get("level") in ("error", "critical"))]

    def follow(self, date: str | None = None, poll: float = 0.5, stop=None) -> Iterator[dict]:
        """Yield new entries as they are appended (tail -f), switching files at midnight."""
        date = date or clock.today_str()
        path = self.day_path(date)
        pos = path.stat().st_size if path.exists() else 0
        while stop is None or not stop():
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(pos)
                    chunk = fh.read()
                complete = chunk[: chunk.rfind(b"\n") + 1]
                pos += len(complete)
                for line in complete.splitlines():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue
            today = clock.today_str()
            if today != date and not complete:
                date, path, pos = today, self.day_path(today), 0
                continue
            time.sleep(poll)

    # ------------------------------------------------------------------ verification
    def ordered_dates(self) -> list[str]:
        return self.dates()

    def verify(self, date: str | None = None, all_days: bool = False,
               want: frozenset[int] = frozenset()) -> VerifyResult:
        """Check one day (default today) or the whole log; see audit_verify."""
        from .audit_verify import verify

        return verify(self, date, all_days, want)


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (fst.st_ino, fst.st_dev)


# ---------------------------------------------------------------------- the seed's helpers
def audit(log: AuditLog, event: str, *, level: str = "info", category: str = "system",
          actor: str = "system", details: Any = None) -> dict:
    return log.append(event, level=level, category=category, actor=actor, details=details)


def audit_data_change(log: AuditLog, *, type: str, resource: str, path: str | Path,
                      actor: str = "system", details: dict | None = None) -> dict:
    if type not in ("create", "update", "delete"):
        raise ValidationFailed(f"data change type must be create/update/delete, got {type!r}")
    event = {"create": events.DATA_CREATE, "update": events.DATA_UPDATE,
             "delete": events.DATA_DELETE}[type]
    return log.append(event, category="data", actor=actor,
                      details={"resource": resource, "path": str(path), **(details or {})})


def audit_security(log: AuditLog, *, type: str, severity: str = "medium", description: str = "",
                   actor: str = "system", details: dict | None = None) -> dict:
    level = {"low": "info", "medium": "warn", "high": "error", "critical": "critical"}.get(
        severity, "warn")
    return log.append(type if events.EVENT_NAME_RE.match(type) else events.SECURITY,
                      level=level, category="security", actor=actor,
                      details={"type": type, "severity": severity, "description": description,
                               **(details or {})})


def audit_decision(log: AuditLog, *, situation: str, chosen: str, reasoning: str = "",
                   confidence: float | None = None, maker: str = "system",
                   event: str = events.DECISION, details: dict | None = None) -> dict:
    return log.append(event, category="decision", actor=maker,
                      details={"situation": situation, "chosen": chosen, "reasoning": reasoning,
                               "confidence": confidence, **(details or {})})
