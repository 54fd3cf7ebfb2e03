"""`mh tui` and `mh serve-tui`: open the Textual app (imported only here, never at CLI start).

`serve-tui` runs the same app in a browser through textual-serve, bound to 127.0.0.1 only:
reach it from another machine through an SSH tunnel (ssh -L 8000:127.0.0.1:8000 HOST).
"""

from __future__ import annotations

import os
import shlex
import sys

import typer

from . import common

PANES = ("chat", "memory", "tasks", "approvals", "audit", "training")


def interactive() -> bool:
    """A person at a terminal: stdin and stdout are TTYs (or textual-serve drives the app)."""
    if os.environ.get("TEXTUAL_DRIVER"):  # textual-serve's web driver speaks over pipes
        return True
    return common.is_terminal()


def open_tui(pane: str = "chat") -> None:
    if pane not in PANES:
        common.fail(f"--pane must be one of {', '.join(PANES)}", 2)
    if not interactive():  # a script or a pipe: say so at once instead of hanging or drawing
        common.fail("not a terminal; try mh --help", 2)
    prof = common.profile()
    try:
        from metahuman_tui.app import run_app
    except ImportError as exc:  # a missing optional piece of the TUI
        common.fail(f"the TUI is not available: {exc}")
    run_app(prof, start=pane)


def serve_command(home: str) -> str:
    """The command textual-serve runs for each browser session: this `mh`, this profile."""
    return " ".join(shlex.quote(part) for part in (
        sys.executable, "-m", "metahuman_tui.cli.main", "--home", home, "tui"))


def register(app: typer.Typer) -> None:
    @app.command("tui")
    def tui(pane: str = typer.Option("chat", "--pane", help="Pane to open first: "
                                     + ", ".join(PANES) + ".")) -> None:
        """Open the full-screen app (same as `mh` with no command)."""
        open_tui(pane)

    @app.command("serve-tui")
    def serve_tui(
        port: int = typer.Option(8000, "--port", "-p", min=1, max=65535,
                                 help="Port on 127.0.0.1 (loopback only; tunnel over SSH)."),
    ) -> None:
        """Serve the full-screen app in a browser (textual-serve) on 127.0.0.1:PORT."""
        prof = common.profile()
        from metahuman_core.extras import require

        require("textual_serve")  # not installed: one line with the install command
        from textual_serve.server import Server

        problem = common.bind_problem("127.0.0.1", port)
        if problem:  # before textual-serve's banner: nothing printed but the reason
            common.fail(f"cannot listen on 127.0.0.1:{port}: {problem}", 1,
                        hint="pick another port with --port (or stop what is using it)")
        common.echo(f"Serving the MetaHuman OS app on http://127.0.0.1:{port} "
                    "(loopback only; Ctrl+C stops)")
        Server(serve_command(str(prof.root)), host="127.0.0.1", port=port,
               title="MetaHuman OS").serve()
