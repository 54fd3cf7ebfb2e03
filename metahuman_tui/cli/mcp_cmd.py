"""`mh mcp`: the MCP server on stdio, started by an MCP client (Claude Desktop, Cursor, Zed).

Everything heavy (the SDK, the skills) is imported inside the command, so `mh --help` and every
other command start as fast as before. Errors before serving (bad etc/mcp.json, disabled, SDK
missing) are one line on stderr with exit 1/2, which clients show in their MCP log.
"""

from __future__ import annotations

import os
import sys

import typer

from . import common


def register(app: typer.Typer) -> None:
    @app.command("mcp")
    def mcp(
        client: str = typer.Option(None, "--client", help="Name this client in the audit log and "
                                   "approvals (actor mcp:NAME) instead of the name it reports; "
                                   "picks its clients.NAME settings in etc/mcp.json."),
        http: bool = typer.Option(False, "--http", help="Serve streamable HTTP on loopback "
                                  "instead of stdio (for a remote client through an SSH tunnel); "
                                  "every request needs the API token."),
        host: str = typer.Option("127.0.0.1", "--host", help="With --http: a loopback address."),
        port: int = typer.Option(4322, "--port", min=1, max=65535, help="With --http: the port."),
    ) -> None:
        """Serve the twin's skills and memories to an MCP client over stdio (see docs/mcp.md)."""
        from metahuman_core.errors import MHError
        from metahuman_core.extras import require

        try:
            require("mcp")
            from metahuman_tui.mcp.session import McpSession

            session = McpSession(common.profile(), client=client)
        except MHError as exc:
            common.handle(exc)
        if not session.enabled:
            common.fail(f"the MCP server is disabled in {session.base.home.etc / 'mcp.json'} "
                        "(enabled: false)", 1, hint="mh config set mcp.enabled true")
        if http:
            from metahuman_tui.mcp.http import serve_http

            try:
                serve_http(session.base, host=host, port=port, client=client)
            except MHError as exc:
                common.handle(exc)
            return
        from metahuman_tui.mcp.server import serve_stdio

        serve_stdio(session)
        # Done: the session's end is in the audit log (written unbuffered). Skip the interpreter's
        # teardown of the SDK's pydantic models (~0.6 s), which the client would wait for.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
