"""The organizer state of each memory, kept in the index so `mh agent monitor` and the organizer
answer with one query instead of reading every file (13.9 s cold at 100k memories).

States (from the record's `metadata`, the only definition in the code base):
* processed — `processed` is true;
* failed — `organizerFailed` is true (quarantined after too many failed extractions);
* pending — the rest; `organizer.nextTryAt` (stored as `retry`, epoch seconds) in the future
  means it is backing off after an error ("waiting"), otherwise it is due.
`retry` depends on the time of asking, so it is stored as a time, never as a state.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from .. import clock

STATES = ("processed", "failed", "pending")


def organizer_state(record: dict) -> tuple[str, float | None]:
    """(state, retry): retry is when a pending memory may be tried again (None: at once)."""
    meta = record.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    if meta.get("processed") is True:
        return "processed", None
    if meta.get("organizerFailed") is True:
        return "failed", None
    org = meta.get("organizer")
    retry = clock.parse_iso(org.get("nextTryAt")) if isinstance(org, dict) else None
    return "pending", (retry.timestamp() if retry is not None else None)


def _epoch(now: datetime | None) -> float:
    return (now or clock.now()).timestamp()


def counts(conn: sqlite3.Connection, now: datetime | None = None) -> dict[str, int]:
    """{processed, failed, pending (due now), waiting (backing off)}: two index-only queries."""
    out = {"processed": 0, "failed": 0, "pending": 0, "waiting": 0}
    for state, n in conn.execute("SELECT state, count(*) FROM docs GROUP BY state"):
        out[state if state in out else "pending"] += n
    # retry is stored for pending rows only, so the docs_retry range alone counts the waiting
    waiting = conn.execute("SELECT count(*) FROM docs WHERE retry > ?", (_epoch(now),)).fetchone()[0]
    out["waiting"] = waiting
    out["pending"] -= waiting
    return out


def due(conn: sqlite3.Connection, now: datetime | None = None,
        limit: int | None = None) -> list[tuple[str, str, str]]:
    """(id, folder, file name) of pending memories not backing off, newest first."""
    sql = ("SELECT id, dir, name FROM docs WHERE state='pending' AND "
           "(retry IS NULL OR retry <= ?) ORDER BY ts DESC, rid DESC")
    args: list = [_epoch(now)]
    if limit is not None:
        sql += " LIMIT ?"
        args.append(int(limit))
    return conn.execute(sql, args).fetchall()
