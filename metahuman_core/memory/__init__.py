"""The person's memories (DESIGN §3, §6): episodic store, inbox import, paragraph chunking.

    from metahuman_core.memory import MemoryStore
    store = MemoryStore(profile)
    rec = store.capture("Met with Sarah", tags=["work"])
"""

from .schema import MEMORY_TYPES
from .store import MemoryStore

__all__ = ["MemoryStore", "MEMORY_TYPES"]
