"""Memory search: a derived SQLite FTS5 index (memory/index/) plus optional offline embeddings.

    from metahuman_core.search import search, SearchHit, index_for
    hits = search(profile, 'sarah tag:work after:2025-10-01', limit=10, mode="keyword")
"""

from .engine import MODES, SearchHit, index_for, search
from .index import Index

__all__ = ["search", "SearchHit", "index_for", "Index", "MODES"]
