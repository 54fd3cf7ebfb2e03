"""The guard in front of every route: Host check, body size limit, token, one audit line per call.

A plain ASGI middleware (not BaseHTTPMiddleware) so it runs before FastAPI reads or parses the
body: an unauthenticated or oversized write is refused before any handler runs, so nothing
changes. The body is read once here (up to etc/api.json `maxBodyBytes`) and replayed to the app.
Audit entries hold method, path, status and timing — never the body or query values.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from metahuman_core import events

from .auth import TOKEN_HEADER_HELP, AccessPolicy

ACTOR = "api"


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _send_json(send: Callable, status: int, body: dict[str, Any],
                     extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": data})


class Guard:
    """Wraps the FastAPI app. `profile` gives the audit log and the body limit (read per request,
    so editing etc/api.json takes effect without a restart)."""

    def __init__(self, app, *, profile, policy: AccessPolicy):
        self.app = app
        self.profile = profile
        self.policy = policy

    def _max_body(self) -> int:
        try:
            return int(self.profile.config.get("api").maxBodyBytes)
        except Exception:  # a broken etc/api.json must not open the door wider: use the default
            return 1_048_576

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope.get("method", "GET").upper()
        path = scope.get("path", "")
        state = {"status": 0, "authenticated": False}
        authorization = _header(scope, b"authorization")
        state["authenticated"] = self.policy.authenticated(authorization)

        async def refuse(status: int, message: str, *, hint: str | None = None,
                         headers: list[tuple[bytes, bytes]] | None = None) -> None:
            state["status"] = status
            body: dict[str, Any] = {"success": False, "error": message}
            if hint:
                body["hint"] = hint
            await _send_json(send, status, body, headers)

        try:
            host = _header(scope, b"host")
            if not self.policy.host_allowed(host):
                await refuse(403, f"Host {host!r} is not allowed: this server answers only to "
                                  "localhost (protection against DNS rebinding)",
                             hint="use http://127.0.0.1:PORT or http://localhost:PORT")
                self._audit_security(events.PERMISSION_DENIED, method, path, scope,
                                     reason="host not allowed", host=host)
                return
            if self.policy.needs_token(method) and not state["authenticated"]:
                what = ("a valid API token" if authorization else "the API token")
                await refuse(401, f"Unauthorized: this request needs {what}", hint=TOKEN_HEADER_HELP,
                             headers=[(b"www-authenticate", b'Bearer realm="metahuman"')])
                self._audit_security(events.AUTH_FAILED, method, path, scope,
                                     reason="wrong token" if authorization else "no token")
                return
            body = b""
            if method not in ("GET", "HEAD", "OPTIONS"):
                limit = self._max_body()
                declared = _header(scope, b"content-length")
                if declared is not None and declared.strip().isdigit() and int(declared) > limit:
                    await refuse(413, f"Request body too large ({int(declared)} bytes; the limit "
                                      f"is {limit} bytes, etc/api.json maxBodyBytes)")
                    return
                chunks, size = [], 0
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        state["status"] = 499
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        await refuse(413, f"Request body too large (over {limit} bytes, "
                                          "etc/api.json maxBodyBytes)")
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
                body = b"".join(chunks)
            await self.app(scope, _replay(body, receive), self._watch(send, state))
        finally:
            self._audit_request(method, path, scope, state, started)

    @staticmethod
    def _watch(send: Callable, state: dict) -> Callable:
        async def watched(message):
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            await send(message)
        return watched

    def _client(self, scope) -> str | None:
        client = scope.get("client")
        return client[0] if client else None

    def _audit_request(self, method: str, path: str, scope, state: dict, started: float) -> None:
        status = state["status"] or 500
        level = "error" if status >= 500 else "warn" if status >= 400 else "info"
        query = scope.get("query_string", b"").decode("latin-1")
        keys = sorted({part.split("=", 1)[0] for part in query.split("&") if part})[:20]
        try:
            self.profile.audit.append(
                events.API_REQUEST, level=level, category="action", actor=ACTOR,
                details={"method": method, "path": path[:300], "query_keys": keys,
                         "status": status, "authenticated": state["authenticated"],
                         "client": self._client(scope),
                         "ms": round((time.perf_counter() - started) * 1000, 1)})
        except Exception:  # the audit log failing must not turn a done write into a 500
            pass

    def _audit_security(self, event: str, method: str, path: str, scope, **details) -> None:
        try:
            self.profile.audit.append(event, level="warn", category="security", actor=ACTOR,
                                      details={"method": method, "path": path[:300],
                                               "client": self._client(scope), **details})
        except Exception:
            pass


def _replay(body: bytes, receive: Callable) -> Callable:
    """A receive() that hands the buffered body to the app once, then defers to the server."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay
