"""A small real HTTP server on 127.0.0.1 that speaks SearXNG's search API.

`GET /search?q=…&format=json` answers like SearXNG: {"query", "number_of_results", "results":
[{"url","title","content","engine","engines","score","category"}], "answers", "corrections",
"infoboxes", "suggestions", "unresponsive_engines"}. Without format=json it serves HTML; with
`json_enabled=False` it answers 403 as an instance whose settings.yml lacks the json format.
Scriptable: results per query (`add`), a default list, a queued HTTP status, a `delay` in seconds
before each answer (a slow instance; `stop` cuts it short); records requests.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class FakeSearxng:
    results: dict[str, list[dict]] = field(default_factory=dict)
    default: list[dict] = field(default_factory=list)
    json_enabled: bool = True
    fail_status: list[int] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    delay: float = 0.0
    _released: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    def add(self, query: str, *items: tuple[str, str, str]) -> "FakeSearxng":
        """add("ai agents", (title, url, snippet), ...)"""
        self.results[query] = [{"title": t, "url": u, "content": c} for t, u, c in items]
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, path: str) -> tuple[int, str, bytes]:
        parsed = urlparse(path)
        params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        self.requests.append({"path": parsed.path, "params": params})
        if self.delay:
            self._released.wait(self.delay)
        if self.fail_status:
            return self.fail_status.pop(0), "text/plain", b"error"
        if parsed.path not in ("/search", "/"):
            return 404, "text/plain", b"not found"
        if params.get("format") != "json":
            return 200, "text/html", b"<html><body>results</body></html>"
        if not self.json_enabled:
            return 403, "text/html", b"<html>403 Forbidden</html>"
        query = params.get("q", "")
        rows = self.results.get(query, self.default)
        results = [{"url": r["url"], "title": r["title"], "content": r.get("content", ""),
                    "engine": "fake", "engines": ["fake"], "score": 1.0 / (i + 1),
                    "category": "general", "parsed_url": list(urlparse(r["url"]))}
                   for i, r in enumerate(rows)]
        body = {"query": query, "number_of_results": len(results), "results": results,
                "answers": [], "corrections": [], "infoboxes": [], "suggestions": [],
                "unresponsive_engines": []}
        return 200, "application/json", json.dumps(body).encode()

    def start(self) -> "FakeSearxng":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                status, ctype, data = fake.answer(self.path)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a `delay` longer than its timeout)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._released.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeSearxng":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
