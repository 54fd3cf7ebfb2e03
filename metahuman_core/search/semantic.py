"""Semantic ranking: memory vectors kept in the index's `vecs` table (float16, unit length), cosine
similarity by one matrix product, and reciprocal-rank fusion with BM25 for hybrid search.

Vectors are derived data like the rest of the index: computed on first semantic search (or by
`mh index embed`) for memories that lack one, and dropped whenever a memory's text changes.
"""

from __future__ import annotations

from typing import Callable

from .embedder import MODEL_NAME, get_embedder
from .index import Index

SEMANTIC_FLOOR = 0.30   # cosine below this is "not related" (the original's chat used 0.3)
RRF_K = 60
_cache: dict[str, tuple] = {}


def missing_count(index: Index) -> int:
    with index.lock:
        _check_model(index)
        return index.conn.execute(
            "SELECT count(*) FROM docs d WHERE d.rid NOT IN (SELECT rid FROM vecs)").fetchone()[0]


def _check_model(index: Index) -> None:
    if index._meta("vec_model") != MODEL_NAME:
        with index._tx() as conn:
            conn.execute("DELETE FROM vecs")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('vec_model', ?)", (MODEL_NAME,))


def embed_missing(index: Index, *, batch: int = 256,
                  progress: Callable[[int, int], None] | None = None) -> int:
    """Compute vectors for memories that have none. Returns how many were added."""
    import numpy as np

    total = missing_count(index)
    done = 0
    model = None
    while True:
        with index.lock:
            rows = index.conn.execute(
                "SELECT d.rid, f.content, f.tags, f.entities FROM docs d JOIN fts f ON f.rowid=d.rid "
                "WHERE d.rid NOT IN (SELECT rid FROM vecs) LIMIT ?", (batch,)).fetchall()
        if not rows:
            return done
        model = model or get_embedder()
        texts = [" ".join(p for p in (c, t, e) if p) for _, c, t, e in rows]
        vecs = model.encode(texts).astype(np.float16)
        with index._tx() as conn:
            conn.executemany("INSERT OR REPLACE INTO vecs(rid, vec) SELECT ?, ? WHERE EXISTS "
                             "(SELECT 1 FROM docs WHERE rid=?)",
                             [(rid, vecs[i].tobytes(), rid) for i, (rid, *_) in enumerate(rows)])
        done += len(rows)
        if progress:
            progress(done, total)


def _matrix(index: Index):
    """All vectors as one float32 matrix, cached per process until the table changes."""
    import numpy as np

    with index.lock:
        key = index.conn.execute("SELECT count(*), max(rid), total(rid) FROM vecs").fetchone()
        cached = _cache.get(str(index.path))
        if cached and cached[0] == key:
            return cached[1], cached[2]
        rows = index.conn.execute("SELECT rid, vec FROM vecs ORDER BY rid").fetchall()
    rids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    mat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16).reshape(len(rows), -1)
    mat = mat.astype(np.float32)
    _cache[str(index.path)] = (key, rids, mat)
    return rids, mat


def rank(index: Index, text: str, allowed: Callable[[list[int]], set[int]], limit: int,
         floor: float = SEMANTIC_FLOOR) -> list[tuple[int, float]]:
    """(rid, cosine) best first, above `floor`, among rids that `allowed` keeps (the filters)."""
    import numpy as np

    embed_missing(index)
    rids, mat = _matrix(index)
    if not len(rids) or not text.strip():
        return []
    q = get_embedder().encode([text])[0]
    sims = mat @ q
    k = min(len(sims), max(limit * 10, 100))
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top])]
    cands = [(int(rids[i]), float(sims[i])) for i in top if sims[i] >= floor]
    keep = allowed([r for r, _ in cands])
    return [(r, s) for r, s in cands if r in keep][:limit]


def fuse(*rankings: list[int], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: score(d) = sum over rankings of 1 / (k + rank)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for pos, rid in enumerate(ranking, 1):
            scores[rid] = scores.get(rid, 0.0) + 1.0 / (k + pos)
    return sorted(scores.items(), key=lambda kv: -kv[1])
