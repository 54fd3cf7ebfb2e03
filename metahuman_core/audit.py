"""Append-only, tamper-evident daily audit log (DESIGN §5).

Each line of logs/audit/YYYY-MM-DD.ndjson (local date) is one entry with fixed key order:
  {"seq","prev","timestamp","level","category","event","actor","details","hash"}
`hash` = sha256 of the canonical line without its hash field (that exact byte prefix + "}"),
`prev` = the previous entry's hash (across days), `seq` increases by one per entry.
A head record (logs/audit-head.json, outside logs/audit/) holds the last seq/hash so truncation
at the end is detectable. Appends hold an flock on the head file; each line is one write().
"Tamper-evident", not immutable: anyone with write access can rewrite everything, but not silently.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from . import clock, events
from .errors import ValidationFailed
from .redact import redact

if TYPE_CHECKING:
    from .audit_verify import VerifyResult

LEVELS = ("info", "warn", "error", "critical")
CATEGORIES = ("system", "decision", "action", "security", "data")
GENESIS = "0" * 64
HEAD_SIZE = 512
_HASH_MARK = ',"hash":"'
_FILE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.ndjson$")
_PREFIX_RE = re.compile(r'^\{"seq":(\d+),"prev":"([0-9a-f]{64})",')


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def build_line(seq: int, prev: str, timestamp: str, level: str, category: str, event: str,
               actor: str, details: Any) -> tuple[str, str]:
    """Return (line including trailing newline, hash)."""
    body = ('{"seq":%d,"prev":"%s","timestamp":%s,"level":%s,"category":%s,"event":%s,'
            '"actor":%s,"details":%s}') % (
        seq, prev, _compact(timestamp), _compact(level), _compact(category), _compact(event),
        _compact(actor), _compact(details))
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return f'{body[:-1]}{_HASH_MARK}{digest}"}}\n', digest


@dataclass
class Head:
    seq: int = 0
    hash: str = GENESIS
    date: str = ""
    offset: int = 0


class AuditLog:
    """One per home. Thread-safe within a process; flock-safe across processes."""

    def __init__(self, logs_dir: Path):
        self.dir = Path(logs_dir) / "audit"
        self.head_path = Path(logs_dir) / "audit-head.json"
        self._mutex = threading.Lock()
        self._head_fd: int | None = None
        self._day_fd: int | None = None
        self._day: str | None = None
        self._pid = os.getpid()

    # ------------------------------------------------------------------ writing
    def day_path(self, date: str) -> Path:
        return self.dir / f"{date}.ndjson"

    def _open_head(self) -> int:
        if self._pid != os.getpid():
            # forked: flock is shared by the open file description, so a child must not use the
            # parent's descriptors or both would "hold" the lock at once
            self._head_fd = self._day_fd = self._day = None
            self._pid = os.getpid()
        if self._head_fd is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._head_fd = os.open(self.head_path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._head_fd

    def _open_day(self, date: str) -> int:
        if self._day != date or self._day_fd is None:
            if self._day_fd is not None:
                os.close(self._day_fd)
            self._day_fd = os.open(self.day_path(date), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._day = date
        return self._day_fd

    def _read_head(self, fd: int) -> Head | None:
        raw = os.pread(fd, HEAD_SIZE, 0)
        if not raw.strip():
            return None
        try:
            data = json.loads(raw)
            return Head(int(data["seq"]), str(data["hash"]), str(data["date"]), int(data["offset"]))
        except (ValueError, KeyError, TypeError):
            return None

    def _write_head(self, fd: int, head: Head) -> None:
        text = json.dumps({"seq": head.seq, "hash": head.hash, "date": head.date,
                           "offset": head.offset})
        os.pwrite(fd, text.ljust(HEAD_SIZE - 1).encode() + b"\n", 0)

    def _resync(self, today: str) -> Head:
        """Head missing or out of step (a crash between line and head write): read the log.

        The newest entry is the one with the highest seq, whatever file it is in (a clock that
        jumped backwards can put later entries in an earlier day's file)."""
        best = Head()
        for date in self.dates():
            last = _last_line(self.day_path(date))
            parsed = _seq_hash(last) if last else None
            if parsed and parsed[0] > best.seq:
                best = Head(parsed[0], parsed[1], date, self.day_path(date).stat().st_size)
        return best

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
        durable = category == "security" or level == "critical"
        with self._mutex:
            hfd = self._open_head()
            fcntl.flock(hfd, fcntl.LOCK_EX)
            try:
                dfd = self._open_day(date)
                size = os.fstat(dfd).st_size
                head = self._read_head(hfd)
                if head is None or not (
                    (head.date == date and head.offset == size)
                    or (head.date < date and size == 0 and self._head_matches_file(head))
                ):
                    head = self._resync(date)
                    if size and not _ends_with_newline(self.day_path(date)):
                        os.write(dfd, b"\n")  # keep a torn line visible, never glue to it
                line, digest = build_line(head.seq + 1, head.hash, timestamp, level, category,
                                          event, actor, clean)
                data = line.encode("utf-8")
                os.write(dfd, data)
                if durable:
                    os.fsync(dfd)
                new = Head(head.seq + 1, digest, date, os.fstat(dfd).st_size)
                self._write_head(hfd, new)
                if durable:
                    os.fsync(hfd)
            finally:
                fcntl.flock(hfd, fcntl.LOCK_UN)
        return json.loads(line)

    def _head_matches_file(self, head: Head) -> bool:
        try:
            return self.day_path(head.date).stat().st_size == head.offset
        except FileNotFoundError:
            return head.seq == 0

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
            return self._read_head(fd)
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
                        raise ValueError
                    yield entry
                except ValueError:
                    yield {"_broken": n, "_raw": line[:200]}

    def query(self, date: str | None = None, *, category: str | None = None,
              level: str | None = None, event: str | None = None, actor: str | None = None,
              text: str | None = None, limit: int | None = None) -> list[dict]:
        date = date or clock.today_str()
        out = []
        for entry in self.entries(date):
            if "_broken" in entry:
                continue
            if category and entry.get("category") != category:
                continue
            if level and entry.get("level") != level:
                continue
            if event and event not in str(entry.get("event", "")):
                continue
            if actor and entry.get("actor") != actor:
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
        from .audit_verify import ordered_dates

        return ordered_dates(self)

    def verify(self, date: str | None = None, all_days: bool = False) -> "VerifyResult":
        """Check the chain of one day (default today) or of every day; see audit_verify."""
        from .audit_verify import verify

        return verify(self, date, all_days)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return True
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _last_line(path: Path) -> str | None:
    """Last complete line of a file, read from the end (cheap for big files)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            if end == 0:
                return None
            block = 4096
            data = b""
            pos = end
            while pos > 0:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
                stripped = data.rstrip(b"\n")
                if b"\n" in stripped:
                    break
            lines = data.rstrip(b"\n").split(b"\n")
            if not data.endswith(b"\n"):
                # torn last line: use the one before it
                lines = lines[:-1]
            return lines[-1].decode("utf-8", errors="replace") if lines and lines[-1] else None
    except FileNotFoundError:
        return None


def _seq_hash(line: str) -> tuple[int, str] | None:
    m = _PREFIX_RE.match(line)
    idx = line.rfind(_HASH_MARK)
    if not m or idx == -1:
        return None
    return int(m.group(1)), line[idx + len(_HASH_MARK): idx + len(_HASH_MARK) + 64]


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
