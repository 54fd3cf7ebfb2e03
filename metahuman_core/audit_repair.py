"""What an append does when the log and its head record are out of step (DESIGN §5).

It never re-chains silently over damage. Instead (see docs/security.md, "When the log is damaged"):
the append first writes an `audit_chain_repaired` entry (security / critical, fsynced) that states
what it found — the old head included — then the entry it was asked to write, so the app keeps
working and nothing the person did goes unrecorded. The repair entry continues from the *head
record* (the last hash the log itself wrote) with a seq past everything found, so removed entries
stay a visible gap, and hand-made entries stay a visible break, for every later `verify --all`;
verify also reports every repair entry, forever.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .audit_head import (
    are,
    entries,
    Day,
    Head,
    describe,
    merge,
    overlay,
    read_days,
    subtract,
    write_days,
    write_live,
)
from .audit_scan import FileScan, scan
from .redact import redact

if TYPE_CHECKING:
    from .audit import AuditLog

MAX_FINDINGS = 20
_log = logging.getLogger("metahuman.audit")


def rebuild(log: AuditLog) -> tuple[dict[str, Day], dict[str, FileScan], int, str]:
    """The day manifest as the files are now, their scans, and the highest seq and its hash."""
    days: dict[str, Day] = {}
    scans: dict[str, FileScan] = {}
    tail_seq, tail_hash = 0, "0" * 64
    for d in log.dates():
        path = log.day_path(d)
        s = scan(path, d, log.rel(path), check_hashes=False)
        scans[d] = s
        if s.size:
            days[d] = Day(s.coverage(), s.first_hash, s.last_hash, s.size)
        for r in s.runs:
            if r.last > tail_seq:
                tail_seq, tail_hash = r.last, r.hash
    return days, scans, tail_seq, tail_hash


def diagnose(log: AuditLog, head: Head | None, status: str, days: dict[str, Day] | None,
             date: str) -> tuple[list[str], dict[str, Day], int, str]:
    """Findings (plain sentences) about how the files differ from the head record, the manifest
    of the files as they are, and the log's highest seq and hash."""
    now, scans, tail_seq, tail_hash = rebuild(log)
    found: list[str] = []
    head_rel = log.rel(log.head_path)
    if status == "missing":
        found.append(f"head record missing ({head_rel} deleted?) while the log holds entries "
                     f"up to seq {tail_seq}")
    elif status == "unreadable":
        found.append(f"head record unreadable ({head_rel} edited or damaged)")
    elif days is None and status == "ok":
        found.append(f"the day manifest in {head_rel} is unreadable (edited or damaged)")
    if head is not None:
        if tail_seq < head.seq:
            found.append(f"the log ends at seq {tail_seq} but the head record says seq "
                         f"{head.seq}: {entries([[tail_seq + 1, head.seq]])} missing")
        elif tail_seq > head.seq:
            extra = [[head.seq + 1, tail_seq]]
            found.append(f"{entries(extra)} {are(extra)} past the head "
                         f"record (seq {head.seq}): added by hand, or the head was rolled back")
        elif tail_hash != head.hash:
            found.append(f"the last entry (seq {tail_seq}) does not match the head record's hash: "
                         f"rewritten")
    expected = overlay(days, head) if days is not None else None
    if expected is None and head is not None and head.date:
        expected = {head.date: Day([[head.seg or head.seq, head.seq]], head.seg_hash, head.hash,
                                   head.offset)}
    for d in sorted(set(expected or {}) | set(now)):
        rel = log.rel(log.day_path(d))
        want, have = (expected or {}).get(d), now.get(d)
        if want is None:
            if have is not None and expected is not None:
                found.append(f"{rel} is not in the head record "
                             f"({describe(have.segs) or 'no entries'}, {have.size} bytes)")
            continue
        if have is None:
            found.append(f"{rel} missing or empty (the head record lists {want.span()})")
            continue
        lost = subtract(merge(want.segs), merge(have.segs))
        extra = subtract(merge(have.segs), merge(want.segs))
        bits = []
        if lost:
            bits.append(f"{describe(lost)} missing")
        if extra:
            bits.append(f"{describe(extra)} not in the head record")
        bad = [p for p in scans[d].problems if p[1] in ("garbage", "torn", "blank")]
        if bad:
            bits.append(f"{len(bad)} line(s) that are not audit entries (first: line {bad[0][0]})")
        if have.size != want.size:
            bits.append(f"{have.size} bytes, the log left it at {want.size}")
        if bits:
            found.append(f"{rel}: " + "; ".join(bits))
    if not found:
        found.append(f"the head record ({head_rel}) and the day files disagree "
                     f"(appending to {date})")
    return found[:MAX_FINDINGS], now, tail_seq, tail_hash


def record_damage(log: AuditLog, hfd: int, dfd: int, head: Head | None, status: str, date: str,
                  fields: tuple) -> tuple[dict, dict]:
    """Write the audit_chain_repaired entry, then the entry asked for (fields: timestamp, level,
    category, event, actor, details); the head record then matches the files as they are.
    Called by AuditLog.append under its lock. Returns (repair entry, entry)."""
    from .audit import AUDIT_CHAIN_REPAIRED, build_line

    days = read_days(hfd) if status == "ok" else None
    found, now, tail_seq, tail_hash = diagnose(log, head, status, days, date)
    seq = max(head.seq if head else 0, tail_seq) + 1
    prev = head.hash if head is not None else tail_hash
    size = os.fstat(dfd).st_size
    if size and _torn(log.day_path(date)):
        os.write(dfd, b"\n")  # keep a torn line visible, never glue to it
        size += 1
    details = {"found": found, "head": head.as_dict() if head else None, "head_status": status,
               "log_end": {"seq": tail_seq, "hash": tail_hash},
               "continues": {"seq": seq, "prev": prev}}
    rline, rhash = build_line(seq, prev, fields[0], "critical", "security", AUDIT_CHAIN_REPAIRED,
                              "system", redact(details))
    line, lhash = build_line(seq + 1, rhash, *fields)
    data = rline.encode("utf-8") + line.encode("utf-8")
    os.write(dfd, data)
    os.fsync(dfd)
    # the manifest becomes the files as found; the findings above keep what differed, and the
    # gaps and breaks stay in the chain itself
    write_days(hfd, now)
    write_live(hfd, Head(seq + 1, lhash, date, size + len(data), seq, rhash, seq))
    os.fsync(hfd)
    _log.critical("audit log damaged: %s — recorded as %s (seq %d); run `mh audit verify --all` "
                  "to see every problem", "; ".join(found[:2]), AUDIT_CHAIN_REPAIRED, seq)
    return json.loads(rline), json.loads(line)


def _torn(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return False
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"


def last_damage(log: AuditLog) -> dict | None:
    """The newest audit_chain_repaired entry (its seq is kept in the head record), or None."""
    from .audit import AUDIT_CHAIN_REPAIRED

    head = log.read_head()
    if head is None or not head.repair:
        return None
    prefix = f'{{"seq":{head.repair},'.encode()
    for date in reversed(log.dates()):
        with log.day_path(date).open("rb") as fh:
            for raw in fh:
                if raw.startswith(prefix):
                    try:
                        entry = json.loads(raw)
                    except ValueError:
                        continue
                    if entry.get("event") == AUDIT_CHAIN_REPAIRED:
                        return entry
    return {"seq": head.repair, "event": AUDIT_CHAIN_REPAIRED, "details": {"found": []}}
