"""Memory skills: memory_search (the FTS index, via metahuman_core.search) and capture_memory
(via the memory store). The core APIs are imported when a skill runs, not at registry load."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path

from pydantic import Field

from .registry import Args, Skill, register

if TYPE_CHECKING:
    from ..profile import Profile


class MemorySearchArgs(Args):
    query: str = Field(..., min_length=1, max_length=500,
                       description="Words to look for; filters like type:, tag:, source:, after: work too.")
    limit: int = Field(10, ge=1, le=100, description="How many memories at most.")


class CaptureArgs(Args):
    content: str = Field(..., min_length=1, description="The text of the memory.")
    type: str = Field("observation", min_length=1, max_length=40,
                      description="observation, conversation, reflection, journal, …")
    tags: list[str] = Field(default_factory=list, description="Labels for the memory.")


def memory_search(profile: Profile, args: MemorySearchArgs, actor: str) -> dict:
    from ..search import search

    hits = [h.to_dict() if hasattr(h, "to_dict") else dict(h)
            for h in search(profile, args.query, limit=args.limit)]
    out = {"query": args.query, "results": hits, "count": len(hits)}
    if not hits:
        out["message"] = f"nothing found for {args.query!r}"
    return out


def capture_memory(profile: Profile, args: CaptureArgs, actor: str) -> dict:
    from ..memory import MemoryStore

    record = MemoryStore(profile).capture(args.content, type=args.type, tags=args.tags, actor=actor)
    path = record.get("path")
    if path:  # home-relative, like every other skill's paths
        try:
            record["path"] = str(Path(path).relative_to(profile.root))
        except ValueError:
            pass
    return record


register(Skill(
    id="memory_search", category="memory", risk="low", min_trust="observe",
    args=MemorySearchArgs, fn=memory_search,
    description="Search the person's memories (full-text, best matches first). Returns an empty "
                "list with a message when nothing matches.",
    summary=lambda r: {"count": r.get("count")}))
register(Skill(
    id="capture_memory", category="memory", risk="low", min_trust="supervised_auto",
    args=CaptureArgs, fn=capture_memory,
    description="Save a new memory (text, type, tags) in the person's episodic memory.",
    summary=lambda r: {"id": r.get("id"), "type": r.get("type")}))
