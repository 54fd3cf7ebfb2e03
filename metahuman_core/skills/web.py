"""web_search: one query to the configured provider (etc/network.json). Results are untrusted
input; the skill only reports them, never invents any."""

from __future__ import annotations

from pydantic import Field

from .deadline import timeout
from .registry import Args, Skill, register


class WebSearchArgs(Args):
    query: str = Field(..., min_length=1, max_length=500, description="What to search the web for.")
    max_results: int = Field(5, ge=1, le=20, description="How many results at most.")


def web_search(profile, args: WebSearchArgs, actor: str) -> dict:
    from ..websearch import search

    own = profile.config.get("network").timeoutSeconds  # a read: the caller's budget may cut it
    return search(profile, args.query, args.max_results,
                  timeout=timeout(own, "the web search"))


def carries_memory_text(args: dict, origin: dict) -> str | None:
    """The always-ask class for network requests: the caller (operator, chat) flags a query built
    from the person's memories with origin {"carries_memory_text": true}; then a person must say
    yes whatever the trust level or YOLO (see metahuman_core/policy.py)."""
    if origin.get("carries_memory_text") is True:
        return "the query carries text from your memories out to the network"
    return None


register(Skill(
    id="web_search", category="network", risk="low", min_trust="supervised_auto",
    args=WebSearchArgs, fn=web_search, always_ask=carries_memory_text,
    description="Search the web (SearXNG or DuckDuckGo, as configured). Returns results with "
                "title, url and snippet; an empty list when nothing is found.",
    summary=lambda r: {"provider": r.get("provider"), "count": r.get("count")}))
