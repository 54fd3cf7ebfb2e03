"""`mh init [PATH]` and `mh status`."""

from __future__ import annotations

import errno
from pathlib import Path

import typer

from . import common

REASONS = {errno.ENOENT: "this location does not accept new folders",
           errno.EACCES: "permission denied", errno.EPERM: "permission denied",
           errno.EROFS: "read-only file system", errno.ENOSPC: "no space left on the disk",
           errno.ENOTDIR: "a part of the path is a file, not a folder"}


def _ask(label: str, current: str, limit: int) -> str | None:
    """One line from the person: None keeps `current` (Enter, or Ctrl-D to stop asking)."""
    shown = f" [{current}]" if current else ""
    while True:
        try:
            answer = input(f"  {label}{shown}: ").strip()
        except EOFError:
            common.echo()
            return None
        if len(answer) <= limit:
            return answer if answer and answer != current else None
        common.echo(f"  (at most {limit} characters, please)")


def _introduce(prof, name: str | None, about: str | None) -> None:
    """Write the person's name and one-line description to persona/core.json through the core's
    persona API (validated against the persona schema, locked, audited)."""
    from metahuman_core.errors import MHError
    from metahuman_core.identity import set_persona_field

    edits = []
    if name is not None:
        edits += [("identity.name", name), ("identity.humanName", name)]
    if about is not None:
        edits.append(("identity.role", about))
    try:
        for key, value in edits:
            set_persona_field(prof, key, value, actor=common.ACTOR)
    except MHError as exc:
        common.handle(exc)


def _check_line(value: str | None, what: str, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or "\n" in value or len(value) > limit:
        common.fail(f"{what} must be one non-empty line of at most {limit} characters", 2)
    return value


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        path: str = typer.Argument(None, help="Profile root to create (default: the resolved home)."),
        name: str = typer.Option(None, "--name", help="Your name, written to persona/core.json "
                                 "(asked for when run at a terminal)."),
        about: str = typer.Option(None, "--about", help="One line about you (role, e.g. "
                                  "\"carpenter in Bergen\"), written to persona/core.json."),
    ) -> None:
        """Create a profile: folders and templates. Never overwrites an existing file."""
        from metahuman_core.paths import resolve_home
        from metahuman_core.profile import init_profile

        if path is not None and not path.strip():
            common.fail("PATH is empty", 2, hint="mh init ~/twin (or no PATH for the default home)")
        name = _check_line(name, "--name", 80)
        about = _check_line(about, "--about", 200)
        root = Path(path).expanduser().resolve() if path else resolve_home(common.STATE.home)
        if root.exists() and not root.is_dir():
            common.fail(f"{root}: exists and is not a directory", 2)
        try:
            prof, created = init_profile(root)
        except OSError as exc:
            where = exc.filename or root
            reason = REASONS.get(exc.errno or 0, exc.strerror or str(exc))
            common.fail(f"cannot create the profile at {root}: {where}: {reason}", 1,
                        hint="choose a folder you can write to, e.g. mh init ~/twin")
        common.echo(f"profile ready at {prof.root}")
        for item in created:
            common.echo(f"  created {item}")
        if not created:
            common.echo("  (everything was already there; nothing overwritten)")
        fresh = "persona/core.json" in created
        if fresh and name is None and about is None and common.is_terminal():
            ident = prof.persona.summary()
            common.echo("Who is this twin? (Enter keeps the template's value)")
            name = _ask("Your name", ident["name"], 80)
            about = _ask("One line about you (e.g. carpenter in Bergen)", ident["role"], 200)
        if name is not None or about is not None:
            _introduce(prof, name, about)
            common.echo("  saved your name and description to persona/core.json "
                        "(more: mh persona show · mh persona set KEY VALUE)")
        common.echo("next: mh status · mh capture \"Met with Sarah\" · mh (opens the app)")

    @app.command("status")
    def status(json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
        """Identity, trust level, counts and the active model."""
        from metahuman_core.status import collect_status

        data = collect_status(common.profile())
        if json_out:
            common.emit_json(data)
            return
        common.echo(f"Name:        {data['name'] or '-'}")
        common.echo(f"Role:        {data['role'] or '-'}")
        common.echo(f"Trust level: {data['trustLevel']}")
        common.echo("Core values:")
        for i, v in enumerate(data["coreValues"], 1):
            common.echo(f"  {i}. {v}")
        common.echo("Short-term goals:")
        for g in data["shortTermGoals"]:
            common.echo(f"  - {g['goal']} [{g['status']}]")
        c = data["counts"]
        common.echo(f"Memories: {c['memories']}  Active tasks: {c['activeTasks']}  "
                    f"Pending approvals: {c['pendingApprovals']}")
        common.echo(f"Active model: {data['activeModel']}")
        if data.get("problems"):
            common.echo("Problems:")
            for p in data["problems"]:
                common.echo(f"  ! {p}")
        common.echo(f"Home: {data['home']}")
