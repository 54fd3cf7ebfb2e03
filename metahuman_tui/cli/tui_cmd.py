"""`mh tui` and `mh serve-tui`: open the Textual app (imported only here, never at CLI start)."""

import typer

from . import common


def open_tui() -> None:
    prof = common.profile()
    try:
        from metahuman_tui.app import run_app
    except ImportError as exc:  # the app is still being built
        common.fail(f"the TUI is not available: {exc}")
    run_app(prof)


def register(app: typer.Typer) -> None:
    @app.command("tui")
    def tui() -> None:
        """Open the full-screen app (same as `mh` with no command)."""
        open_tui()
