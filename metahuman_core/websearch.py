"""Web search providers behind one interface (etc/network.json `provider`).

* searxng: a SearXNG instance's JSON API, `GET {searxngUrl}/search?q=…&format=json` (the instance
  must list `json` in `search.formats` of its settings.yml, or it answers 403).
* duckduckgo (the default): the `ddgs` package of the `web` extra, imported only when used.
* none: web search is off and says so.

Zero results are an empty list plus a message. Nothing is ever invented (the original returned
cat pictures when it found nothing).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Protocol

from .errors import MHError


class WebSearchError(MHError):
    pass


@dataclass
class WebResult:
    title: str
    url: str
    snippet: str = ""
    engine: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class Provider(Protocol):
    name: str

    def search(self, query: str, max_results: int) -> list[WebResult]: ...


class NoProvider:
    name = "none"

    def search(self, query: str, max_results: int) -> list[WebResult]:
        raise WebSearchError("web search is off (etc/network.json provider is \"none\")",
                             hint="mh config set network.provider duckduckgo (or searxng, "
                                  "with network.searxngUrl)")


class SearxngProvider:
    name = "searxng"

    def __init__(self, url: str, timeout: float = 15.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def search(self, query: str, max_results: int) -> list[WebResult]:
        import httpx

        endpoint = f"{self.url}/search"
        try:
            resp = httpx.get(endpoint, params={"q": query, "format": "json"}, timeout=self.timeout,
                             headers={"Accept": "application/json"}, follow_redirects=False)
        except httpx.TimeoutException:
            raise WebSearchError(f"SearXNG at {self.url} did not answer within "
                                 f"{self.timeout:.3g} s") from None
        except httpx.HTTPError as exc:
            raise WebSearchError(f"cannot reach SearXNG at {self.url}: {exc}",
                                 hint="check etc/network.json searxngUrl") from None
        if resp.status_code == 403:
            raise WebSearchError(f"SearXNG at {self.url} refused the JSON format (HTTP 403)",
                                 hint="add `json` to search.formats in its settings.yml")
        if resp.status_code != 200:
            raise WebSearchError(f"SearXNG at {self.url} answered HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError:
            raise WebSearchError(f"SearXNG at {self.url} did not return JSON") from None
        rows = data.get("results") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise WebSearchError(f"SearXNG at {self.url} returned no 'results' list")
        out = []
        for row in rows:
            if not isinstance(row, dict) or not row.get("url"):
                continue
            out.append(WebResult(title=str(row.get("title") or row["url"]), url=str(row["url"]),
                                 snippet=str(row.get("content") or ""),
                                 engine=str(row.get("engine") or "")))
            if len(out) >= max_results:
                break
        return out


class DuckDuckGoProvider:
    name = "duckduckgo"

    def __init__(self, timeout: float = 15.0):
        self.timeout = timeout

    def search(self, query: str, max_results: int) -> list[WebResult]:
        try:
            from ddgs import DDGS
        except ImportError:
            from .extras import install_command

            raise WebSearchError(
                "web search with DuckDuckGo needs the `web` extra (ddgs is not installed)",
                hint=f"{install_command('web')} (or: pip install ddgs); or mh config set "
                     "network.provider searxng") from None
        try:
            rows = DDGS(timeout=max(1, math.ceil(self.timeout))).text(query, max_results=max_results) or []
        except Exception as exc:  # noqa: BLE001 - ddgs raises DDGSException and subclasses
            ddgs_error = any(c.__name__ == "DDGSException" for c in type(exc).__mro__)
            if ddgs_error and "no results" in str(exc).lower():
                return []  # ddgs reports an empty search as an exception
            raise WebSearchError(f"DuckDuckGo search failed: {type(exc).__name__}: {exc}") from None
        return [WebResult(title=str(r.get("title") or r.get("href")), url=str(r["href"]),
                          snippet=str(r.get("body") or ""), engine="duckduckgo")
                for r in rows if isinstance(r, dict) and r.get("href")][:max_results]


def provider_for(profile, timeout: float | None = None) -> Provider:
    """The configured provider; `timeout` (seconds) overrides network.timeoutSeconds."""
    cfg = profile.config.get("network")
    seconds = cfg.timeoutSeconds if timeout is None else timeout
    if cfg.provider == "searxng":
        return SearxngProvider(cfg.searxngUrl, seconds)
    if cfg.provider == "duckduckgo":
        return DuckDuckGoProvider(seconds)
    return NoProvider()


def search(profile, query: str, max_results: int = 5, *, timeout: float | None = None) -> dict:
    """{query, provider, results[{title,url,snippet,engine}], count, message?}; `timeout`
    overrides network.timeoutSeconds (the web_search skill passes what is left of a budget)."""
    query = query.strip()
    if not query:
        raise WebSearchError("the search query is empty")
    provider = provider_for(profile, timeout)
    results = provider.search(query, max_results)
    out = {"query": query, "provider": provider.name,
           "results": [r.to_dict() for r in results], "count": len(results)}
    if not results:
        out["message"] = f"no web results for {query!r} ({provider.name})"
    return out
