"""search(): keyword (FTS5 BM25), semantic (embeddings) or hybrid (reciprocal-rank fusion).

Relevance floor: keyword words are ANDed; a natural-language query that no memory matches in
full falls back to OR, keeping only memories that hold at least half the words (and two of them).
Semantic hits need cosine >= SEMANTIC_FLOOR. Below that: an empty list ("nothing found").
Words found in thousands of memories are ranked among their newest matches only (ranking.py).
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ValidationFailed
from .filters import time_clause
from .index import Index
from .query import Query, at_least, parse, quote
from . import ranking
from .ranking import PLAIN as _PLAIN, newest_bound, ranked as _ranked

if TYPE_CHECKING:
    from ..profile import Profile

MODES = ("keyword", "semantic", "hybrid")
HIGHLIGHT = ("[", "]")
_indexes: dict[str, Index] = {}
_lock = threading.Lock()


@dataclass
class SearchHit:
    id: str
    score: float
    snippet: str
    timestamp: str
    type: str
    tags: list[str] = field(default_factory=list)
    path: str = ""
    content: str = ""
    matched: str = "keyword"   # keyword | semantic | both

    def to_dict(self) -> dict:
        return asdict(self)


def index_for(profile: Profile) -> Index:
    """The process-wide Index of a profile (one SQLite connection per home; a forked child gets
    its own, as SQLite connections must not cross a fork)."""
    home = profile.home
    key = f"{home.root}\0{os.getpid()}"
    with _lock:
        idx = _indexes.get(key)
        if idx is None:
            idx = _indexes[key] = Index(home.memory, home.index_dir)
        return idx


def _filters(q: Query) -> tuple[list[str], list]:
    where: list[str] = []
    args: list[Any] = []
    if q.types:
        where.append("d.type IN (%s)" % ",".join("?" * len(q.types)))
        args += q.types
    for tag in q.tags:
        where.append("d.rid IN (SELECT rid FROM doc_tags WHERE tag=?)")
        args.append(tag)
    if q.sources:
        where.append("(%s)" % " OR ".join(["d.source LIKE ? ESCAPE '\\'"] * len(q.sources)))
        args += [_like_prefix(s) for s in q.sources]
    for source in q.not_sources:
        where.append("d.source NOT LIKE ? ESCAPE '\\'")
        args.append(_like_prefix(source))
    for op, value in ((">=", q.after), ("<", q.before)):
        clause, arg = time_clause(op, value)
        if clause:
            where.append(clause)
            args.append(arg)
    if q.excluded and not q.positive_fts():
        where.append("d.rid NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
        args.append(q.excluded_fts())
    return where, args


def _like_prefix(text: str) -> str:
    """LIKE pattern for "starts with text" (case-insensitive: the column is NOCASE)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _keyword(idx: Index, q: Query, where: list[str], args: list, limit: int,
             hl: tuple[str, str]) -> list[tuple]:
    conn = idx.conn
    match = q.fts()
    if match is None:  # has_text: there is always a positive part (see _run)
        return []
    rows = _ranked(conn, match, where, args, limit, hl)
    words = q.terms + q.prefixes
    if rows or len(words) < 3 or q.phrases or q.entities:
        return rows
    # OR fallback for natural-language queries: keep memories holding >= half the words.
    ors = [quote(w) + (" *" if w in q.prefixes else "") for w in words]
    need = max(2, math.ceil(len(words) / 2))
    nots = [quote(x) for x in q.excluded]
    enough = at_least(ors, need)
    if enough is not None:   # the index applies the floor itself: rank only those memories
        return _enough(conn, f"({enough})", ors, nots, where, args, limit, hl)
    match = " NOT ".join([f"({' OR '.join(ors)})"] + nots)
    rows = _ranked(conn, match, where, args, max(limit * 20, 200), hl)
    if not rows:
        return rows
    rids = [r[0] for r in rows]
    marks = ",".join("?" * len(rids))
    held = {rid: 0 for rid in rids}
    for w in ors:
        for (rid,) in conn.execute(f"SELECT rowid FROM fts WHERE fts MATCH ? AND rowid IN ({marks})",
                                   (w, *rids)):
            held[rid] += 1
    return [r for r in rows if held[r[0]] >= need][:limit]


def _enough(conn, enough: str, ors: list[str], nots: list[str], where: list[str], args: list,
            limit: int, hl) -> list[tuple]:
    """Memories holding enough of the words. Those holding one of the rarer words (at most
    WINDOW matches) come first, all of them ranked: the window of newest matches must not
    hide an old memory that names the specific thing asked about behind common words."""
    rare = [o for o in ors if newest_bound(conn, o, ranking.WINDOW) is None]
    rows: list[tuple] = []
    if 0 < len(rare) < len(ors):
        rows = _ranked(conn, " NOT ".join([f"{enough} AND ({' OR '.join(rare)})"] + nots),
                       where, args, limit, hl)
    if len(rows) < limit:
        seen = {r[0] for r in rows}
        more = _ranked(conn, " NOT ".join([enough] + nots), where, args, limit + len(rows), hl)
        rows += [r for r in more if r[0] not in seen]
    return rows[:limit]


def _recent(idx: Index, where: list[str], args: list, limit: int) -> list[tuple]:
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    sql = (f"SELECT {_PLAIN}, 0.0 FROM docs d JOIN fts ON fts.rowid=d.rid{cond} "
           f"ORDER BY d.ts DESC LIMIT ?")
    return idx.conn.execute(sql, (*args, limit)).fetchall()


def _rows_for(idx: Index, rids: list[int]) -> dict[int, tuple]:
    if not rids:
        return {}
    sql = (f"SELECT {_PLAIN}, 0.0 FROM docs d JOIN fts ON fts.rowid=d.rid "
           f"WHERE d.rid IN ({','.join('?' * len(rids))})")
    return {r[0]: r for r in idx.conn.execute(sql, rids)}


def _stale(idx: Index, rows: list[tuple]) -> list[tuple[str, str]]:
    """Hits whose file changed or vanished since it was indexed (cheap: one stat per hit)."""
    out = []
    for r in rows:
        try:
            st = os.stat(idx.episodic / r[2] / r[3])
            if (st.st_ino, st.st_mtime_ns, st.st_size) != (r[7], r[8], r[9]):
                out.append((r[2], r[3]))
        except FileNotFoundError:
            out.append((r[2], r[3]))
    return out


def _run(idx: Index, q: Query, mode: str, limit: int, hl) -> list[tuple[tuple, float, str]]:
    where, args = _filters(q)
    if not q.has_text:
        return [(r, 0.0, "filter") for r in _recent(idx, where, args, limit)]
    kw = _keyword(idx, q, where, args, limit if mode == "keyword" else limit * 3, hl) \
        if mode != "semantic" else []
    if mode == "keyword":
        return [(r, -r[-1], "keyword") for r in kw]
    from . import semantic

    def allowed(rids: list[int]) -> set[int]:
        if not rids:
            return set()
        cond = " AND ".join([f"d.rid IN ({','.join('?' * len(rids))})"] + where)
        ok = {r[0] for r in idx.conn.execute(f"SELECT d.rid FROM docs d WHERE {cond}", (*rids, *args))}
        if q.excluded:
            bad = {r[0] for r in idx.conn.execute(
                "SELECT rowid FROM fts WHERE fts MATCH ?", (q.excluded_fts(),))}
            ok -= bad
        return ok

    sem = semantic.rank(idx, q.text(), allowed, limit if mode == "semantic" else limit * 3)
    if mode == "semantic":
        rows = _rows_for(idx, [r for r, _ in sem])
        return [(rows[r], s, "semantic") for r, s in sem if r in rows]
    kw_ids = [r[0] for r in kw]
    fused = semantic.fuse(kw_ids, [r for r, _ in sem])[:limit]
    rows = {r[0]: r for r in kw}
    rows.update(_rows_for(idx, [r for r, _ in fused if r not in rows]))
    sem_ids = {r for r, _ in sem}
    return [(rows[r], s, "both" if r in rows and r in sem_ids and r in kw_ids else
             ("keyword" if r in kw_ids else "semantic")) for r, s in fused if r in rows]


def search(profile: Profile, query: str, *, limit: int = 10, mode: str = "keyword", type=None,
           tag=None, after=None, before=None, highlight: tuple[str, str] = HIGHLIGHT) -> list[SearchHit]:
    """Search memories. Filters in the query text (`type:`, `tag:`, `source:`…) and the keyword
    arguments both apply. Returns [] when nothing is relevant enough."""
    if mode not in MODES:
        raise ValidationFailed(f"invalid search mode {mode!r}", hint="one of: " + ", ".join(MODES))
    if not isinstance(limit, int) or limit < 1:
        raise ValidationFailed(f"invalid limit {limit!r}", hint="a whole number >= 1")
    q = _query(query, type, tag, after, before)
    if not q.has_text and not q.has_filters:
        return []
    idx = index_for(profile)
    idx.sync()
    with idx.lock:
        results = _run(idx, q, mode, limit, highlight)
        stale = _stale(idx, [r for r, _, _ in results])
        if stale:  # edited in place or deleted since indexing: re-read those files, ask again
            for dirname, name in stale:
                idx.refresh_file(dirname, name)
            results = _run(idx, q, mode, limit, highlight)
    return [_hit(idx, r, score, how) for r, score, how in results]


def count(profile: Profile, query: str, *, type=None, tag=None, after=None, before=None) -> int:
    """How many memories a keyword search for `query` matches in all (search() returns the best
    `limit` of them), so a capped list can say "first 500 of 2,725". Same relevance floor:
    all the words, or at least half of them when no memory holds all (see _keyword)."""
    q = _query(query, type, tag, after, before)
    if not q.has_text and not q.has_filters:
        return 0
    idx = index_for(profile)
    idx.sync()
    where, args = _filters(q)
    cond = "".join(" AND " + w for w in where)
    with idx.lock:
        conn = idx.conn
        if not q.has_text:
            return conn.execute(f"SELECT count(*) FROM docs d WHERE 1{cond}", args).fetchone()[0]
        n = conn.execute(f"SELECT count(*) FROM fts JOIN docs d ON d.rid=fts.rowid "
                         f"WHERE fts MATCH ?{cond}", (q.fts(), *args)).fetchone()[0]
        words = q.terms + q.prefixes
        if n or len(words) < 3 or q.phrases or q.entities:
            return n
        # the OR fallback: memories holding at least half the words (two at least)
        ors = [quote(w) + (" *" if w in q.prefixes else "") for w in words]
        each = " UNION ALL ".join(["SELECT rowid AS r FROM fts WHERE fts MATCH ?"] * len(ors))
        nots = ""
        if q.excluded:
            nots = " AND d.rid NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)"
            args = [*args, q.excluded_fts()]
        sql = (f"SELECT count(*) FROM (SELECT r FROM ({each}) GROUP BY r HAVING count(*) >= ?) "
               f"x JOIN docs d ON d.rid=x.r WHERE 1{cond}{nots}")
        need = max(2, math.ceil(len(words) / 2))
        return conn.execute(sql, (*ors, need, *args)).fetchone()[0]


def _query(query: str, type, tag, after, before) -> Query:
    q = parse(query or "")
    if type:
        q.types.append(type)
    if tag:
        q.tags.append(tag)
    q.after = after if after is not None else q.after
    q.before = before if before is not None else q.before
    return q


def _hit(idx: Index, r: tuple, score: float, how: str) -> SearchHit:
    snippet = " ".join((r[10] or r[11][:200]).split())
    return SearchHit(id=r[1], score=round(score, 6), snippet=snippet, timestamp=r[4], type=r[5],
                     tags=json.loads(r[6]), path=str(Path(idx.episodic) / r[2] / r[3]),
                     content=r[11], matched=how)
