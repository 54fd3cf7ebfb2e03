"""Shared plumbing for CLI commands: the profile of this invocation, JSON output, errors.

Exit codes (DESIGN §11): 0 ok, 1 failure, 2 usage/validation; the skill runner adds 3 (queued for
approval) and 4 (denied).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

import typer

from metahuman_core.errors import MHError

ACTOR = "cli"


class State:
    home: str | None = None
    _profile = None


STATE = State()


def profile(require: bool = True):
    """The Profile for this invocation (--home / MH_HOME / nearest profile / default)."""
    from metahuman_core.profile import Profile

    if STATE._profile is None or (require and not STATE._profile.home.is_initialised()):
        STATE._profile = Profile.open(STATE.home, require=require)
    return STATE._profile


def reset() -> None:
    STATE.home = None
    STATE._profile = None


def is_tty() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def is_terminal() -> bool:
    """A person at a terminal: both stdin and stdout are TTYs (not a pipe, file or script)."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def echo(text: str = "", *, err: bool = False) -> None:
    typer.echo(text, err=err)


def fail(message: str, code: int = 1, hint: str | None = None) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"  hint: {hint}", err=True)
    raise typer.Exit(code)


def handle(exc: MHError) -> NoReturn:
    fail(exc.message, exc.exit_code, exc.hint)


def parse_json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})", 2)


def table(rows: list[list[Any]], headers: list[str]) -> str:
    """A plain-text table (no colour, no Rich: cheap to import and pipe-friendly)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def bind_problem(host: str, port: int) -> str | None:
    """Why a server (uvicorn, textual-serve) could not listen on host:port (None: it can),
    checked the way they bind, before anything is printed."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return f"cannot resolve the host {host!r}"
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is already in use"
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"{host} is not an address of this machine"
            if exc.errno == errno.EACCES:
                return "not allowed (ports below 1024 need extra privileges)"
            return exc.strerror or str(exc)
    return None
