"""Entry point of `mh`. Keep imports here light: `mh --help` must stay under 0.25 s."""

from __future__ import annotations

import importlib
import os
import sys
from typing import NoReturn

import typer
import typer.core

from metahuman_core import __version__
from metahuman_core.errors import ConfigError, CorruptFile, MHError

from . import common

# We print plain help (rich_markup_mode=None), but typer escapes "[default: …]" for Rich whenever
# Rich is installed, so every help showed "\[required]". Plain mode needs no escaping.
typer.core.HAS_RICH = False

# Each module defines register(app). Order = order in `mh --help`.
COMMAND_MODULES = (
    "init_cmd",      # init, status
    "config_cmd",    # config show|get|set|check
    "audit_cmd",     # audit ..., audit summary|verify|log|security
    "memory_cmd",    # capture, search, index, ingest, memory
    "task_cmd",      # task ...
    "persona_cmd",   # persona show|set
    "skills_cmd",    # skills, skill run, trust, approvals
    "chat_cmd",      # chat, op, model
    "agent_cmd",     # agent ..., boredom ...
    "train_cmd",     # adapter ..., train local|status
    "remote_cmd",    # train remote|reap|runs
    "serve_cmd",     # serve (REST API)
    "tui_cmd",       # tui, serve-tui
    "mcp_cmd",       # mcp (MCP server; the SDK is imported only when it runs)
)

app = typer.Typer(
    name="mh",
    help="MetaHuman OS: your local-first digital twin. Run with no command to open the app.",
    no_args_is_help=False,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mh {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    home: str = typer.Option(None, "--home", help="Profile root (default: $MH_HOME, the enclosing profile, or ~/.local/share/metahuman).", envvar=None),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    common.STATE.home = home
    if ctx.invoked_subcommand is None:
        from .tui_cmd import open_tui

        open_tui()


for _name in COMMAND_MODULES:
    importlib.import_module(f"{__package__}.{_name}").register(app)


def run() -> None:
    """Console-script entry: map core errors to exit codes with a one-line message."""
    try:
        rc = app(standalone_mode=False)
    except MHError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        hint = exc.hint
        if not hint and isinstance(exc, CorruptFile):
            hint = "fix the file by hand (or move it aside)"
        elif not hint and isinstance(exc, ConfigError):
            hint = "fix the file by hand; `mh config check` lists every config problem"
        if hint:
            typer.echo(f"  hint: {hint}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except ModuleNotFoundError as exc:  # an optional extra that is not installed: say which
        from metahuman_core.extras import missing_extra

        missing = missing_extra(exc)
        if missing is None or os.environ.get("MH_DEBUG"):
            _unexpected(exc)
        typer.echo(f"error: {missing.message}", err=True)
        typer.echo(f"  hint: {missing.hint}", err=True)
        sys.exit(missing.exit_code)
    except Exception as exc:  # noqa: BLE001 - click usage errors arrive here (non-standalone)
        # typer may vendor its own click, so match the ClickException shape, not the class
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        _unexpected(exc)
    sys.exit(rc if isinstance(rc, int) else 0)


def _unexpected(exc: BaseException) -> NoReturn:
    """The contract: one line, never a traceback. An OSError is the machine's problem (disk
    full, permissions); anything else is our bug, and MH_DEBUG=1 shows where it happened."""
    if os.environ.get("MH_DEBUG"):
        raise exc
    if isinstance(exc, OSError):
        typer.echo(f"error: {exc}", err=True)
    else:
        typer.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        typer.echo("  hint: this is a bug; run again with MH_DEBUG=1 for the traceback",
                   err=True)
    sys.exit(1)


if __name__ == "__main__":
    run()
