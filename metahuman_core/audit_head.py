"""The audit head record (logs/audit-head.json): evidence of where the log ends and what each day
file holds. It lives outside logs/audit/ so that emptying that folder does not empty it too.

Layout: the first HEAD_SIZE bytes are the *live record*, rewritten in place on every append
  {"v":2,"seq","hash","date","offset","seg","seg_hash","repair"}
(last seq and hash, the day file being written, its size, the first seq and hash of the run of
entries written there since the log last moved to it, the seq of the last recorded repair).
After it comes the *day manifest*, rewritten only when appends move to another day file (midnight,
or a clock that jumped) and at a repair:
  {"days": {"YYYY-MM-DD": {"segs": [[first, last], ...], "first": hash, "last": hash, "size": N}}}
`segs` are the seq ranges the file holds (more than one when the clock went back to that day).
The live record's day is usually not yet in the manifest; `overlay` merges the two.
A version-1 head (only seq/hash/date/offset, before the manifest existed) is read as `legacy`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

GENESIS = "0" * 64
HEAD_SIZE = 512
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Head:
    seq: int = 0
    hash: str = GENESIS
    date: str = ""
    offset: int = 0
    seg: int = 0
    seg_hash: str = ""
    repair: int = 0
    v: int = 2

    def as_dict(self) -> dict[str, Any]:
        return {"v": self.v, "seq": self.seq, "hash": self.hash, "date": self.date,
                "offset": self.offset, "seg": self.seg, "seg_hash": self.seg_hash,
                "repair": self.repair}


@dataclass
class Day:
    segs: list[list[int]] = field(default_factory=list)
    first: str = ""
    last: str = ""
    size: int = 0

    def span(self) -> str:
        return ", ".join(_range(a, b) for a, b in self.segs) or "no entries"


def _range(a: int, b: int) -> str:
    return f"seq {a}" if a == b else f"seq {a}–{b}"


# status of a read: "ok", "missing" (no file or empty), "unreadable", "legacy" (version 1)
def read_live(fd: int) -> tuple[Head | None, str]:
    raw = os.pread(fd, HEAD_SIZE, 0)
    if not raw.strip():
        return None, "missing"
    try:
        data = json.loads(raw)
        head = Head(int(data["seq"]), str(data["hash"]), str(data["date"]), int(data["offset"]))
        if not (_HASH_RE.match(head.hash) and (not head.date or _DATE_RE.match(head.date))):
            return None, "unreadable"
        if data.get("v") == 2:
            head.seg, head.seg_hash = int(data["seg"]), str(data["seg_hash"])
            head.repair = int(data.get("repair", 0))
            return head, "ok"
        head.v = 1
        return head, "legacy"
    except (ValueError, KeyError, TypeError):
        return None, "unreadable"


def write_live(fd: int, head: Head) -> None:
    # formatted by hand (hot path: once per append); every field is an int, hex or a date
    text = (f'{{"v":2,"seq":{head.seq},"hash":"{head.hash}","date":"{head.date}",'
            f'"offset":{head.offset},"seg":{head.seg},"seg_hash":"{head.seg_hash}",'
            f'"repair":{head.repair}}}')
    os.pwrite(fd, text.ljust(HEAD_SIZE - 1).encode() + b"\n", 0)


def read_days(fd: int) -> dict[str, Day] | None:
    """The day manifest; {} when there is none yet; None when it is unreadable."""
    size = os.fstat(fd).st_size
    if size <= HEAD_SIZE:
        return {}
    raw = os.pread(fd, size - HEAD_SIZE, HEAD_SIZE)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
        days = {d: Day([[int(a), int(b)] for a, b in v["segs"]], str(v["first"]), str(v["last"]),
                       int(v["size"])) for d, v in data["days"].items()}
        return days if all(_DATE_RE.match(d) for d in days) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def write_days(fd: int, days: dict[str, Day]) -> None:
    data = {"days": {d: asdict(days[d]) for d in sorted(days)}}
    raw = json.dumps(data, separators=(",", ":")).encode() + b"\n"
    os.pwrite(fd, raw, HEAD_SIZE)
    os.ftruncate(fd, HEAD_SIZE + len(raw))


def overlay(days: dict[str, Day], head: Head | None) -> dict[str, Day]:
    """The manifest with the live record's open run of entries applied (what each file holds now)."""
    out = {d: Day([list(s) for s in v.segs], v.first, v.last, v.size) for d, v in days.items()}
    if head is None or not head.date or head.seq == 0:
        return out
    day = out.setdefault(head.date, Day(first=head.seg_hash))
    segs = day.segs
    if segs and segs[-1][0] <= head.seg <= segs[-1][1] + 1:
        segs[-1][1] = max(segs[-1][1], head.seq)
    else:
        segs.append([head.seg, head.seq])
    day.first = day.first or head.seg_hash
    day.last, day.size = head.hash, head.offset
    return out


def merge(ranges: list[list[int]]) -> list[list[int]]:
    """Sorted, merged seq ranges ([1,3],[4,6] -> [1,6])."""
    out: list[list[int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def subtract(have: list[list[int]], minus: list[list[int]]) -> list[list[int]]:
    """Seq ranges in `have` that are not in `minus` (both merged)."""
    out: list[list[int]] = []
    for a, b in have:
        cur = a
        for c, d in minus:
            if d < cur or c > b:
                continue
            if c > cur:
                out.append([cur, c - 1])
            cur = max(cur, d + 1)
            if cur > b:
                break
        if cur <= b:
            out.append([cur, b])
    return out


def describe(ranges: list[list[int]]) -> str:
    return ", ".join(_range(a, b) for a, b in ranges)


def entries(ranges: list[list[int]]) -> str:
    """"entry seq 7" or "entries seq 7–9, seq 12" (for messages)."""
    one = len(ranges) == 1 and ranges[0][0] == ranges[0][1]
    return f"{'entry' if one else 'entries'} {describe(ranges)}"


def are(ranges: list[list[int]]) -> str:
    return "is" if len(ranges) == 1 and ranges[0][0] == ranges[0][1] else "are"
