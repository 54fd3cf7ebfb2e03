"""`mh serve`: the REST API (FastAPI + uvicorn, the `api` extra), loopback by default.

FastAPI and uvicorn are imported inside the command, so `mh --help` never loads them. The token
in etc/secrets/api-token is created on first use; it is required for every write, and for every
request when the server is bound to a non-loopback address (there is no way to turn that off).
"""

from __future__ import annotations

import typer

from . import common


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option(None, "--host", help="Address to bind (default: etc/api.json "
                                 "host, 127.0.0.1). A non-loopback address makes the token "
                                 "required for every request."),
        port: int = typer.Option(None, "--port", help="Port (default: etc/api.json port, 4321).",
                                 min=1, max=65535),
        token_for_reads: bool = typer.Option(False, "--token-for-reads", help="Require the "
                                             "token for reads too, even on loopback."),
        log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    ) -> None:
        """Serve the REST API (schema at /openapi.json; see docs/api.md)."""
        from metahuman_core.api_token import ensure_token, token_path
        from metahuman_core.errors import MHError

        prof = common.profile()
        try:
            cfg = prof.config.get("api")
            token = ensure_token(prof)
        except MHError as exc:
            common.handle(exc)
        bind = host or cfg.host
        bind_port = cfg.port if port is None else port
        from metahuman_core.extras import require

        require("fastapi", "uvicorn")  # the `api` extra; missing: one line with the command
        import uvicorn

        from metahuman_tui.http.app import create_api
        from metahuman_tui.http.auth import is_loopback_host

        shown = f"[{bind}]" if ":" in bind and not bind.startswith("[") else bind
        problem = common.bind_problem(bind.strip("[]"), bind_port)
        if problem:  # before any banner: nothing printed but the reason
            common.fail(f"cannot listen on {shown}:{bind_port}: {problem}", 1,
                        hint="pick another port with --port (or stop what is using it)")
        loopback = is_loopback_host(bind)
        strict = token_for_reads or cfg.tokenForReads \
            or not loopback
        api = create_api(prof, token=token, token_for_reads=strict,
                         allowed_hosts=None if not loopback else
                         {"localhost", "127.0.0.1", "::1", bind.strip("[]").lower()})
        common.echo(f"MetaHuman API on http://{shown}:{bind_port}  (schema: /openapi.json, "
                    "guide: docs/api.md)", err=True)
        common.echo(f"token: {token_path(prof)}", err=True)
        common.echo("the token is required for every request" if strict
                    else "the token is required for every write", err=True)
        if not loopback:
            common.echo(f"warning: bound to {bind}, reachable from other machines; the API "
                        "speaks plain HTTP, so put TLS in front of it on untrusted networks",
                        err=True)
        config = uvicorn.Config(api, host=bind.strip("[]"), port=bind_port, log_level=log_level,
                                access_log=False, server_header=False, proxy_headers=False,
                                lifespan="off", limit_concurrency=64)
        server = uvicorn.Server(config)
        try:
            server.run()
        except SystemExit as exc:  # uvicorn exits 3 when it cannot bind; keep our exit codes
            if exc.code not in (0, None):
                server.started = False
        if not server.started:
            common.fail(f"could not listen on {shown}:{bind_port} (in use, or not allowed?)", 1,
                        hint="pick another port with --port")
