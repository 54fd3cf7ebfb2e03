"""Reading one audit day file line by line, fast: what `verify` and a repair need to know about it.

Works on raw bytes (no JSON parsing, no re-serialisation): a line is
  {"seq":N,"prev":"<64 hex>","timestamp":"YYYY-MM-DD…", … ,"hash":"<64 hex>"}\n
and its hash is sha256 of the bytes before `,"hash":"` plus "}". Entries of one file are in seq
order; a gap inside a file is allowed (the clock went to another day and came back) and is
resolved against the other files or the head record's manifest.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

HASH_MARK = b',"hash":"'
LINE_RE = re.compile(rb'\{"seq":(\d+),"prev":"([0-9a-f]{64})","timestamp":"(\d{4}-\d\d-\d\d)')
REPAIR_MARK = b'"event":"audit_chain_repaired"'


@dataclass
class Run:
    """Consecutive entries of one file: seq first..last, the first's prev, the last's hash."""
    first: int
    prev: str
    last: int
    hash: str
    line: int
    orphan: bool = False  # out of order in its file (already reported)


@dataclass
class FileScan:
    date: str
    rel: str
    size: int = 0
    lines: int = 0
    entries: int = 0
    runs: list[Run] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (line, kind, message)
    first_hash: str = ""
    last_hash: str = ""
    last_seq: int = 0
    repairs: list[tuple[int, bytes]] = field(default_factory=list)
    found: dict[int, tuple[str, int]] = field(default_factory=dict)  # wanted seq -> (hash, line)

    def coverage(self) -> list[list[int]]:
        from .audit_head import merge

        return merge([[r.first, r.last] for r in self.runs])


def scan(path: Path, date: str, rel: str, want: frozenset[int] = frozenset(),
         check_hashes: bool = True, limit: int | None = None) -> FileScan:
    """Every line of one day file (its first `limit` bytes: lines appended after verify started
    are not its business); problems found inside the file are listed with line numbers."""
    out = FileScan(date, rel)
    date_b = date.encode()
    problems, runs = out.problems, out.runs
    match, sha = LINE_RE.match, hashlib.sha256
    cur: Run | None = None
    wrong_date, wrong_first, wrong_value = 0, 0, b""
    n = 0
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            if limit is not None and out.size + len(raw) > limit:
                raw = raw[:limit - out.size]
                if not raw:
                    n -= 1
                    break
            out.size += len(raw)
            if raw == b"\n":
                problems.append((n, "blank", "blank line: not written by the audit log"))
                continue
            if raw[-1:] != b"\n":
                problems.append((n, "torn", ("line is incomplete (no newline): torn or truncated "
                                            "write, or cut by hand")))
                continue
            idx = raw.rfind(HASH_MARK)
            m = match(raw)
            if m is None or idx < 0 or len(raw) != idx + 76 or raw[-3:] != b'"}\n':
                if raw.startswith(b'{"seq":'):
                    problems.append((n, "torn", ("entry is incomplete or malformed (a torn "
                                                "write, or cut or edited by hand)")))
                else:
                    problems.append((n, "garbage", ("not an audit entry: not written by the "
                                                   "audit log")))
                continue
            digest = raw[idx + 9:idx + 73]
            if check_hashes and sha(raw[:idx] + b"}").hexdigest().encode() != digest:
                problems.append((n, "edited", "hash mismatch: this entry was edited"))
            seq = int(m.group(1))
            prev = m.group(2).decode()
            hsh = digest.decode()
            if m.group(3) != date_b:
                wrong_date += 1
                if wrong_date == 1:
                    wrong_first, wrong_value = n, m.group(3)
            if REPAIR_MARK in raw:
                out.repairs.append((n, raw))
            if seq in want:
                out.found[seq] = (hsh, n)
            out.entries += 1
            if cur is None:
                out.first_hash = hsh
                cur = Run(seq, prev, seq, hsh, n)
                runs.append(cur)
            elif seq == cur.last + 1:
                if prev != cur.hash:
                    problems.append((n, "chain", (f"chain broken: prev does not match the hash of "
                                                 f"seq {cur.last} (the line before): that entry "
                                                 f"or this one was rewritten")))
                cur.last, cur.hash = seq, hsh
            elif seq > cur.last:
                cur = Run(seq, prev, seq, hsh, n)
                runs.append(cur)
            else:
                kind = "duplicate" if any(r.first <= seq <= r.last for r in runs) else "order"
                problems.append((n, kind, (f"seq {seq} comes after seq {cur.last} in this file: "
                                          f"entries were inserted, copied or reordered")))
                runs.append(Run(seq, prev, seq, hsh, n, orphan=True))
                continue
            out.last_hash, out.last_seq = hsh, seq
    out.lines = n
    if wrong_date:
        what = (f"all {wrong_date} entries" if wrong_date == out.entries
                else f"{wrong_date} of {out.entries} entries")
        problems.append((wrong_first, "date",
                         (f"{what} are dated {wrong_value.decode()}, not {date}: the file was "
                         f"renamed or entries were moved between days")))
    problems.sort(key=lambda p: p[0])
    return out
