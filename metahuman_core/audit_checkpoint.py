"""Audit checkpoints: a short line (seq, date, hash) a person keeps somewhere else.

The hash of entry N covers, through the `prev` links, every entry before it, so a log that still
has an entry N with that hash (and a chain that verifies) still holds the same first N entries —
the Certificate Transparency idea. This is what catches the attack the chain alone cannot: someone
who rewrites the whole log, re-hashes it and rewrites the head record passes `verify --all`, but
not `verify --against` an older checkpoint.

Token: mhcp:SEQ:YYYY-MM-DD:HASH — HASH may be shortened to its first 16 hex digits (64 bits) for a
paper notebook.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from .errors import ValidationFailed

if TYPE_CHECKING:
    from .audit import AuditLog
    from .audit_verify import VerifyResult

_TOKEN_RE = re.compile(r"^mhcp:(\d+):(\d{4}-\d{2}-\d{2}):([0-9a-f]{16,64})$")
MIN_HEX = 16


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    date: str
    hash: str

    def token(self) -> str:
        return f"mhcp:{self.seq}:{self.date}:{self.hash}"

    def as_dict(self) -> dict:
        return asdict(self)


def parse(text: str) -> Checkpoint:
    """A checkpoint token as printed by `mh audit checkpoint` (hash may be shortened)."""
    value = (text or "").strip().lower()
    m = _TOKEN_RE.match(value)
    if not m:
        raise ValidationFailed(
            f"--against {text!r} is not an audit checkpoint",
            hint="use the line `mh audit checkpoint` printed: mhcp:SEQ:YYYY-MM-DD:HASH "
                 f"(at least the first {MIN_HEX} hex digits of the hash)")
    seq = int(m.group(1))
    if seq < 1:
        raise ValidationFailed(f"--against {text!r}: seq must be 1 or more")
    return Checkpoint(seq, m.group(2), m.group(3))


def take(log: AuditLog, actor: str = "system") -> tuple[Checkpoint, VerifyResult]:
    """Record an audit_checkpoint entry and return it as a checkpoint, with the state of the log."""
    from .audit import AUDIT_CHECKPOINT

    entry = log.append(AUDIT_CHECKPOINT, category="security", actor=actor,
                       details={"note": "checkpoint printed; keep it outside this machine"})
    cp = Checkpoint(int(entry["seq"]), str(entry["timestamp"])[:10], str(entry["hash"]))
    return cp, log.verify(all_days=True)


def verify_against(log: AuditLog, checkpoints: list[Checkpoint]) -> VerifyResult:
    """`verify --all`, plus: each checkpoint's entry is still in the log with the same hash."""
    res = log.verify(all_days=True, want=frozenset(cp.seq for cp in checkpoints))
    for cp in checkpoints:
        found = res.found.get(cp.seq)
        item = {**cp.as_dict(), "ok": False, "file": None, "line": None}
        if found is None:
            item["message"] = (f"checkpoint seq {cp.seq} ({cp.date}): the log has no entry with "
                               f"that seq any more: truncated or rewritten")
            res.fail(log.rel(log.day_path(cp.date)), 0, item["message"], "checkpoint")
        else:
            rel, digest, line = found
            item.update(file=rel, line=line)
            if digest.startswith(cp.hash):
                item["ok"] = True
                item["message"] = (f"checkpoint seq {cp.seq} ({cp.date}) matches {rel}:{line}: "
                                   f"the log still holds the same first {cp.seq} entries")
            else:
                item["message"] = (f"checkpoint seq {cp.seq} ({cp.date}) does not match: the entry "
                                   f"now has hash {digest[:16]}…, the checkpoint {cp.hash[:16]}…: "
                                   f"the log was rewritten at or before seq {cp.seq}")
                res.fail(rel, line, item["message"], "checkpoint")
        res.checkpoints.append(item)
    return res
