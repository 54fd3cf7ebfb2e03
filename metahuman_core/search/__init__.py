"""Memory search: a derived SQLite FTS5 index (memory/index/) plus optional offline embeddings.

    from metahuman_core.search import search, SearchHit, index_for
    hits = search(profile, 'sarah tag:work after:2025-10-01', limit=10, mode="keyword")

Names are loaded on first use (PEP 562), so writers that only need the index stay fast to start.
"""

from __future__ import annotations

__all__ = ["search", "count", "SearchHit", "index_for", "Index", "MODES"]


def __getattr__(name: str):
    if name in ("search", "count", "SearchHit", "index_for", "MODES"):
        from . import engine

        return getattr(engine, name)
    if name == "Index":
        from .index import Index

        return Index
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
