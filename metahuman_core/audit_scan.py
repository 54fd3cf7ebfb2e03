"""Reading one audit day file line by line, fast: what `verify` and a repair need to know about it.

Works on raw bytes (no JSON parsing, no re-serialisation): a line is
  {"seq":N,"prev":"<64 hex>","timestamp":"YYYY-MM-DD…", … ,"hash":"<64 hex>"}\n
and its hash is sha256 of the bytes before `,"hash":"` plus "}". Entries of one file are in seq
order; a gap inside a file is allowed (the clock went to another day and came back) and is
resolved against the other files or the head record's manifest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

HASH_MARK = b',"hash":"'
REPAIR_MARK = b'"event":"audit_chain_repaired"'
PREV_MARK = b',"prev":"'
TS_MARK = b'","timestamp":"'


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
    sha = hashlib.sha256
    lim = limit if limit is not None else 1 << 62
    # the hot loop keeps the current run in locals (bytes); Run objects get str at its edges
    cur: Run | None = None
    c_last, c_hash = -2, b""
    size = entries = 0
    first_hash = b""
    wrong_date, wrong_first, wrong_value = 0, 0, b""
    n = 0
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            if size + len(raw) > lim:
                raw = raw[:lim - size]
                if not raw:
                    n -= 1
                    break
            size += len(raw)
            if raw[-1:] != b"\n" or raw == b"\n":
                if raw == b"\n":
                    problems.append((n, "blank", "blank line: not written by the audit log"))
                else:
                    problems.append((n, "torn", "line is incomplete (no newline): torn or "
                                                "truncated write, or cut by hand"))
                continue
            idx = raw.rfind(HASH_MARK)
            if raw[:7] != b'{"seq":':
                problems.append((n, "garbage", "not an audit entry: not written by the audit log"))
                continue
            # fixed offsets, not a regex (twice as fast): {"seq":N,"prev":"<64>","timestamp":"DAY
            c = raw.find(PREV_MARK, 7)
            b_seq = raw[7:c]
            if (c < 0 or not b_seq.isdigit() or raw[c + 73:c + 88] != TS_MARK or idx < 0
                    or len(raw) != idx + 76 or raw[-3:] != b'"}\n'):
                problems.append((n, "torn", "entry is incomplete or malformed (a torn write, or "
                                            "cut or edited by hand)"))
                continue
            digest = raw[idx + 9:idx + 73]
            if check_hashes and sha(raw[:idx] + b"}").hexdigest().encode() != digest:
                problems.append((n, "edited", "hash mismatch: this entry was edited"))
            prev, day = raw[c + 9:c + 73], raw[c + 88:c + 98]
            seq = int(b_seq)
            if day != date_b:
                wrong_date += 1
                if wrong_date == 1:
                    wrong_first, wrong_value = n, day
            if REPAIR_MARK in raw:
                out.repairs.append((n, raw))
            if want and seq in want:
                out.found[seq] = (digest.decode(), n)
            entries += 1
            if seq == c_last + 1:
                if prev != c_hash:
                    problems.append((n, "chain", f"chain broken: prev does not match the hash of "
                                                 f"seq {c_last} (the line before): that entry "
                                                 f"or this one was rewritten"))
                c_last, c_hash = seq, digest
                continue
            if cur is not None and seq <= c_last:
                kind = "duplicate" if seq == c_last or any(
                    r.first <= seq <= r.last for r in runs) else "order"
                problems.append((n, kind, f"seq {seq} comes after seq {c_last} in this file: "
                                          f"entries were inserted, copied or reordered"))
                runs.append(Run(seq, prev.decode(), seq, digest.decode(), n, orphan=True))
                continue
            if cur is None:
                first_hash = digest
            else:
                cur.last, cur.hash = c_last, c_hash.decode()
            cur = Run(seq, prev.decode(), seq, "", n)
            runs.append(cur)
            c_last, c_hash = seq, digest
    if cur is not None:
        cur.last, cur.hash = c_last, c_hash.decode()
        out.last_seq, out.last_hash = c_last, cur.hash
    out.size, out.entries, out.first_hash = size, entries, first_hash.decode()
    out.lines = n
    if wrong_date:
        what = (f"all {wrong_date} entries" if wrong_date == out.entries
                else f"{wrong_date} of {out.entries} entries")
        problems.append((wrong_first, "date",
                         (f"{what} are dated {wrong_value.decode()}, not {date}: the file was "
                         f"renamed or entries were moved between days")))
    problems.sort(key=lambda p: p[0])
    return out
