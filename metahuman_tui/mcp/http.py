"""`mh mcp --http`: the same MCP server over streamable HTTP, for a client on another machine
through an SSH tunnel (`ssh -L 4322:127.0.0.1:4322 HOST`).

Loopback only: a tunnel ends on loopback, and anything else would put the twin on the network.
Every request needs the API token (etc/secrets/api-token) as `Authorization: Bearer …`; a
request without it gets 401 and an `auth_failed` audit line. Each MCP session (the
`Mcp-Session-Id` header) is its own McpSession: its own client name, caps and audit lines, ended
when the client deletes the session or the server stops.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import sys
import threading
from typing import Any

from metahuman_core import events
from metahuman_core.errors import MHError, ValidationFailed
from metahuman_core.profile import Profile

from .session import McpSession

PATH = "/mcp"
DEFAULT_PORT = 4322
SESSION_HEADER = "mcp-session-id"


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Sessions:
    """McpSession per MCP session id (callable as build()'s `session_for`)."""

    def __init__(self, profile: Profile, client: str | None):
        self.profile, self.client = profile, client
        self._by_id: dict[str, McpSession] = {}
        self._lock = threading.Lock()

    def __call__(self, ctx: Any) -> McpSession:
        request = getattr(ctx, "request", None)
        headers = getattr(request, "headers", None) or {}
        key = headers.get(SESSION_HEADER) or ""
        with self._lock:
            session = self._by_id.get(key)
            if session is None:
                session = self._by_id[key] = McpSession(self.profile, client=self.client,
                                                        transport="http")
            return session

    def end(self, key: str, reason: str) -> None:
        with self._lock:
            session = self._by_id.pop(key, None)
        if session is not None:
            session.end(reason)

    def end_all(self, reason: str) -> None:
        with self._lock:
            left, self._by_id = list(self._by_id.values()), {}
        for session in left:
            session.end(reason)


def guard(app: Any, profile: Profile, token: str, sessions: Sessions) -> Any:
    """ASGI wrapper: the bearer token on every HTTP request; a DELETE ends its session's audit."""
    from metahuman_core.api_token import bearer, check_token

    async def asgi(scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers") or []}
        if not check_token(token, bearer(headers.get("authorization"))):
            profile.audit.append(events.AUTH_FAILED, level="warn", category="security",
                                 actor="mcp", details={"via": "mcp-http",
                                                       "path": scope.get("path"),
                                                       "peer": (scope.get("client") or [None])[0]})
            body = json.dumps({"error": "missing or wrong bearer token",
                               "hint": "send Authorization: Bearer <etc/secrets/api-token>"})
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"www-authenticate", b"Bearer")]})
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await app(scope, receive, send)
        if scope.get("method") == "DELETE" and headers.get(SESSION_HEADER):
            sessions.end(headers[SESSION_HEADER], "client ended the session")

    return asgi


def serve_http(profile: Profile, *, host: str, port: int, client: str | None) -> None:
    """Serve until SIGINT/SIGTERM; every session still open is audited as ended then."""
    if not is_loopback(host):
        raise ValidationFailed(f"--host {host}: the MCP server binds to loopback only",
                               hint="reach it from elsewhere through an SSH tunnel: "
                                    f"ssh -L {port}:127.0.0.1:{port} THIS-HOST")
    import uvicorn

    from metahuman_core.api_token import ensure_token, token_path

    from .server import build

    token = ensure_token(profile)
    sessions = Sessions(profile, client)
    server = build(sessions)
    bind = host.strip("[]")
    app = server.streamable_http_app(streamable_http_path=PATH, host=bind)
    shown = f"[{bind}]" if ":" in bind else bind
    print(f"MCP (streamable HTTP) on http://{shown}:{port}{PATH}; every request needs "
          f"Authorization: Bearer <{token_path(profile)}>", file=sys.stderr, flush=True)
    config = uvicorn.Config(guard(app, profile, token, sessions), host=bind, port=port,
                            log_level="warning", access_log=False, server_header=False,
                            proxy_headers=False, lifespan="on", limit_concurrency=64)
    userver = uvicorn.Server(config)
    # uvicorn re-raises the stop signal once it has shut down; a stop we asked for is a clean
    # exit (0) after the open sessions' end is audited, not a death by signal
    stops: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: stops.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        userver.run()
    finally:
        sessions.end_all(f"server stopped ({signal.Signals(stops[0]).name})" if stops
                         else "server stopped")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not userver.started:
        raise MHError(f"could not listen on {shown}:{port} (in use, or not allowed?)",
                               hint="pick another port with --port")
