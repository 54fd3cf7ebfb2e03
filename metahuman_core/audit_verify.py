"""Verifying the audit log (format: audit.py; head record: audit_head.py; per-file scan: audit_scan).

The chain is ordered by `seq`, not by file names or timestamps: `verify --all` walks every entry of
every day file in seq order and requires seq 1.. with no gap and no duplicate, each `prev` equal
to the hash of the entry before, each line's hash over its exact bytes, each entry's local date
equal to its file's date, the end equal to the head record, and every day file equal to the head
record's manifest. A clock that went back is not a problem (entries of one file may then skip seqs
that live in another file). Every problem found is reported (file:line and what), not just the
first; `audit_chain_repaired` entries are reported too, so damage the log found and recorded stays
visible forever.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import clock
from .audit_head import (
    are,
    entries,
    Day,
    Head,
    describe,
    merge,
    overlay,
    read_days,
    read_live,
    subtract,
)
from .audit_scan import FileScan, Run, scan

if TYPE_CHECKING:
    from .audit import AuditLog


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    files: list[str]
    problems: list[dict] = field(default_factory=list)
    checkpoints: list[dict] = field(default_factory=list)
    found: dict[int, tuple[str, str, int]] = field(default_factory=dict)  # seq -> (file, hash, line)

    def fail(self, path: Path | str, line: int, message: str, kind: str = "chain") -> None:
        self.ok = False
        self.problems.append({"file": str(path), "line": line, "kind": kind, "problem": message})

    def first_problem(self) -> str | None:
        if not self.problems:
            return None
        p = self.problems[0]
        return f"{p['file']}:{p['line']}: {p['problem']}"

    def as_dict(self) -> dict:
        return {"ok": self.ok, "checked": self.checked, "files": self.files,
                "problems": self.problems, "checkpoints": self.checkpoints}


def read_head_state(log: AuditLog) -> tuple[Head | None, str, dict[str, Day] | None,
                                           dict[str, int]]:
    """(live record, status, day manifest or None, size of each day file), read together under a
    shared lock so that appends running meanwhile (the app, an agent) are not mistaken for lines
    added past the head: verify then reads each file only up to the size it had here."""
    try:
        fd = os.open(log.head_path, os.O_RDONLY)
    except FileNotFoundError:
        return None, "missing", None, _sizes(log)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        head, status = read_live(fd)
        days = read_days(fd) if status == "ok" else None
        return head, status, days, _sizes(log)
    finally:
        os.close(fd)  # releases the lock


def _sizes(log: AuditLog) -> dict[str, int]:
    out = {}
    for d in log.dates():
        try:
            out[d] = log.day_path(d).stat().st_size
        except FileNotFoundError:
            continue
    return out


def ordered_dates(log: AuditLog) -> list[str]:
    return log.dates()


def verify(log: AuditLog, date: str | None = None, all_days: bool = False,
           want: frozenset[int] = frozenset()) -> VerifyResult:
    """Verify one day (default: today) or, with all_days, the whole log."""
    head, status, days, sizes = read_head_state(log)
    expected = overlay(days, head) if days is not None else None
    dates = sorted(sizes)
    if not all_days:
        date = date or clock.today_str()
        dates = [date] if date in dates else []
    result = VerifyResult(ok=True, checked=0, files=[log.rel(log.day_path(d)) for d in dates])
    scans = []
    for d in dates:
        s = scan(log.day_path(d), d, log.rel(log.day_path(d)), want, limit=sizes[d])
        scans.append(s)
        result.checked += s.entries
        for line, kind, message in s.problems:
            result.fail(s.rel, line, message, kind)
    total = sum(s.entries for s in scans) or sum(sizes.values())
    head_rel = log.rel(log.head_path)
    if status == "missing":
        if total:
            result.fail(head_rel, 0, "head record missing: the end of the log cannot be checked "
                                     "(deleted?); the next append records this", "head")
    elif status == "unreadable":
        result.fail(head_rel, 1, "head record unreadable (edited or damaged)", "head")
    elif status == "ok" and days is None:
        result.fail(head_rel, 2, "head record's day manifest unreadable (edited or damaged)",
                    "head")
    if all_days:
        _walk(result, scans, expected)
        _check_end(result, scans, head, log)
    if expected is not None:
        _check_days(result, scans, expected, all_days, date if not all_days else None, log)
    for s in scans:
        for line, raw in s.repairs:
            result.fail(s.rel, line, _repair_text(raw), "repaired")
    result.problems.sort(key=lambda p: (p["file"] != head_rel, p["file"], p["line"]))
    if want:
        result.found = {seq: (s.rel, *s.found[seq]) for s in scans for seq in s.found}
    return result


def _walk(result: VerifyResult, scans: list[FileScan], expected: dict[str, Day] | None) -> None:
    """All runs of all files in seq order: gaps, duplicates and broken links between runs."""
    runs: list[tuple[Run, FileScan]] = [(r, s) for s in scans for r in s.runs]
    runs.sort(key=lambda rs: (rs[0].first, rs[0].orphan, rs[1].date, rs[0].line))
    want_seq, want_prev = 1, "0" * 64
    where = ""
    for run, s in runs:
        if run.first > want_seq:
            gap = [[want_seq, run.first - 1]]
            hint = _who_held(expected, gap)
            start = " from the start of the log" if want_seq == 1 else f" (after {where})"
            result.fail(s.rel, run.line, f"{entries(gap)} missing{start}: deleted"
                        f"{hint}", "missing")
        elif run.first < want_seq:
            if not run.orphan:
                dup = [[run.first, min(run.last, want_seq - 1)]]
                result.fail(s.rel, run.line, f"{entries(dup)} written twice (already seen up to "
                            f"{where}): copied or forked", "duplicate")
            if run.last < want_seq:
                continue
        elif run.prev != want_prev:
            result.fail(s.rel, run.line, f"chain broken: prev of seq {run.first} does not match "
                        f"the hash of seq {run.first - 1} ({where}): one of them was rewritten",
                        "chain")
        want_seq, want_prev = run.last + 1, run.hash
        where = f"{s.rel} line {run.line + (run.last - run.first)}"


def _who_held(expected: dict[str, Day] | None, gap: list[list[int]]) -> str:
    if not expected:
        return ""
    names = [f"{d}.ndjson" for d, v in sorted(expected.items()) if _overlaps(v.segs, gap)]
    return f" (the head record puts them in {', '.join(names)})" if names else ""


def _overlaps(segs: list[list[int]], gap: list[list[int]]) -> bool:
    return any(a <= d and c <= b for a, b in segs for c, d in gap)


def _check_end(result: VerifyResult, scans: list[FileScan], head: Head | None,
               log: AuditLog) -> None:
    if head is None:
        return
    last_seq, last_hash, last_file, last_line = 0, "0" * 64, "", 0
    for s in scans:
        for r in s.runs:
            if r.last > last_seq:
                last_seq, last_hash, last_file = r.last, r.hash, s.rel
                last_line = r.line + (r.last - r.first)
    where = last_file or (log.rel(log.day_path(head.date)) if head.date else log.rel(log.head_path))
    if head.seq > last_seq:
        result.fail(where, last_line, f"{entries([[last_seq + 1, head.seq]])} missing "
                    f"from the end: the head record says the log ends at seq {head.seq}",
                    "truncated")
    elif head.seq < last_seq:
        extra = [[head.seq + 1, last_seq]]
        result.fail(where, last_line, f"{entries(extra)} {are(extra)} past "
                    f"the head record (seq {head.seq}): added by hand, or the head was rolled back",
                    "extended")
    elif head.hash != last_hash:
        result.fail(where, last_line, f"last entry (seq {last_seq}) does not match the head "
                    f"record's hash: rewritten", "rewritten")


def _check_days(result: VerifyResult, scans: list[FileScan], expected: dict[str, Day],
                all_days: bool, only: str | None, log: AuditLog) -> None:
    """Each day file against the head record's manifest: deleted, emptied, renamed, truncated."""
    by_date = {s.date: s for s in scans}
    bad_files = {p["file"] for p in result.problems}
    unlisted = [s for s in scans if s.date not in expected and s.entries]
    for d in sorted(expected):
        if only is not None and d != only:
            continue
        want = expected[d]
        s = by_date.get(d)
        rel = log.rel(log.day_path(d))
        if s is None:
            if only is not None or not log.day_path(d).exists():
                moved = [u.rel for u in unlisted if u.coverage() == merge(want.segs)]
                how = f"renamed to {moved[0]}?" if moved else "deleted"
                result.fail(rel, 0, f"day file missing ({how}): the head record lists it with "
                            f"{want.span()}", "file_missing")
            continue
        have = s.coverage()
        if not have and want.segs:
            result.fail(rel, 0, f"day file emptied: the head record lists it with {want.span()}",
                        "file_emptied")
            continue
        lost = subtract(merge(want.segs), have)
        extra = subtract(have, merge(want.segs))
        if lost and not all_days:
            result.fail(rel, _line_near(s, lost[0][0]), f"{entries(lost)} missing from "
                        f"this file (the head record lists {want.span()})", "missing")
        if extra and not all_days:
            result.fail(rel, _line_near(s, extra[0][0]), f"{entries(extra)} {are(extra)} not in "
                        f"the head record (it lists {want.span()}): added by hand", "extended")
        if rel not in bad_files and not lost and not extra and (
                s.size != want.size or s.first_hash != want.first or s.last_hash != want.last):
            result.fail(rel, s.lines, f"file differs from the head record (size {s.size}, "
                        f"recorded {want.size}; first/last hash "
                        f"{'match' if (s.first_hash, s.last_hash) == (want.first, want.last) else 'differ'})",
                        "changed")
    for u in unlisted:
        if only is None or u.date == only:
            result.fail(u.rel, 1, f"day file not in the head record ({describe(u.coverage())}): "
                        f"not written by the audit log, renamed, or the head was replaced",
                        "file_unlisted")


def _line_near(s: FileScan, seq: int) -> int:
    best = 0
    for r in s.runs:
        if r.first <= seq:
            best = max(best, r.line + min(seq, r.last) - r.first)
    return best or 1


def _repair_text(raw: bytes) -> str:
    try:
        entry = json.loads(raw)
        found = entry.get("details", {}).get("found") or []
        seq = entry.get("seq")
    except ValueError:
        return "audit_chain_repaired entry (unreadable)"
    found = [str(f) for f in found] if isinstance(found, list) else [str(found)]
    text = "; ".join(found[:3]) + (f" (+{len(found) - 3} more)" if len(found) > 3 else "")
    return (f"damage found by the audit log and recorded at seq {seq} "
            f"(audit_chain_repaired): {text or 'no details'}")
