"""BM25 ranking of FTS5 matches, bounded to a window of the newest matches.

FTS5 computes BM25 for every row that matches before it can sort (~4.5 µs a row: position lists
and column sizes), so a word found in 6% of 100k memories cost ~28 ms even for `LIMIT 5`. Walking
the matches newest-first without ranking is ~50× cheaper, so a query with more than WINDOW matches
ranks only the WINDOW newest ones (rowid > the rowid of the next match). Rowids follow the order
memories were indexed: a rebuild indexes files in id (= time) order and every capture appends,
so "newest matches" means newest memories. IDF stays global (bm25() counts over the whole index),
so rare words still weigh more; a query with fewer matches than WINDOW is ranked exactly as before.

With filters, the window grows (×4) until it holds `limit` matches that pass them, so a selective
filter (an old date range, a rare type) still finds its memories.
"""

from __future__ import annotations

import sqlite3

WINDOW = 1000       # matches ranked at most (before filters); ~5 ms of BM25 at the worst
GROWTH = 4

BASE = "d.rid, d.id, d.dir, d.name, d.timestamp, d.type, d.tags, d.ino, d.mtime, d.size, "
COLS = BASE + "snippet(fts, 0, ?, ?, '…', 24), fts.content"   # r[10] snippet, r[11] content, r[12] rank
PLAIN = BASE + "NULL, fts.content"
BM25 = "bm25(fts, 1.0, 0.5, 2.0, 2.0)"   # content, response, tags, entities


def newest_bound(conn: sqlite3.Connection, match: str, n: int) -> int | None:
    """The rowid just below the `n` newest matches (rank only rowid > it), or None when there
    are at most `n` matches (rank them all)."""
    row = conn.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid DESC "
                       "LIMIT 1 OFFSET ?", (match, n)).fetchone()
    return row[0] if row else None


def ranked(conn: sqlite3.Connection, match: str, where: list[str], args: list, limit: int,
           hl: tuple[str, str], window: int | None = None) -> list[tuple]:
    """Best `limit` matches of `match` (an FTS5 expression) passing the `where` filters, best
    first, each row COLS + its bm25 (lower is better)."""
    size = max(window or WINDOW, limit)
    while True:
        bound = newest_bound(conn, match, size)
        rows = _rank(conn, match, where, args, limit, hl, bound)
        if bound is None or len(rows) >= limit or not where:
            return rows
        size *= GROWTH   # the filters left too few in this window: look further back


def _rank(conn, match: str, where: list[str], args: list, limit: int, hl,
          bound: int | None) -> list[tuple]:
    """Without filters, rank in FTS alone first and join only the winners (joining every match
    to docs before sorting costs twice as much on common words)."""
    above, extra = ("", []) if bound is None else (" AND fts.rowid > ?", [bound])
    if where:
        cond = " AND ".join(["fts MATCH ?" + above] + where)
        return conn.execute(f"SELECT {COLS}, {BM25} AS r FROM fts JOIN docs d ON "
                            f"d.rid=fts.rowid WHERE {cond} ORDER BY r LIMIT ?",
                            (*hl, match, *extra, *args, limit)).fetchall()
    top = conn.execute(f"SELECT rowid, {BM25} AS r FROM fts WHERE fts MATCH ?{above} "
                       f"ORDER BY r LIMIT ?", (match, *extra, limit)).fetchall()
    if not top:
        return []
    # Snippets need the MATCH cursor. Walk the winners' rowid range (inside the window, so at
    # most WINDOW matches, unranked: cheap); `+rowid IN` is a filter, not a lookup per rowid
    # (FTS5 re-seeks every doclist for each one: ~1 ms a winner on common words).
    rids = [t[0] for t in top]
    marks = ",".join("?" * len(rids))
    rows = {r[0]: r for r in conn.execute(
        f"SELECT {COLS} FROM fts CROSS JOIN docs d ON d.rid=fts.rowid WHERE fts MATCH ? AND "
        f"fts.rowid BETWEEN ? AND ? AND +fts.rowid IN ({marks})",
        (*hl, match, min(rids), max(rids), *rids))}
    return [(*rows[rid], r) for rid, r in top if rid in rows]
