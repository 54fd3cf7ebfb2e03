"""`mh init [PATH]` and `mh status`."""

from __future__ import annotations

from pathlib import Path

import typer

from . import common


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(path: str = typer.Argument(None, help="Profile root to create (default: the resolved home).")) -> None:
        """Create a profile: folders and templates. Never overwrites an existing file."""
        from metahuman_core.paths import resolve_home
        from metahuman_core.profile import init_profile

        if path is not None and not path.strip():
            common.fail("PATH is empty", 2, hint="mh init ~/twin (or no PATH for the default home)")
        root = Path(path).expanduser().resolve() if path else resolve_home(common.STATE.home)
        if root.exists() and not root.is_dir():
            common.fail(f"{root}: exists and is not a directory", 2)
        prof, created = init_profile(root)
        common.echo(f"profile ready at {prof.root}")
        for item in created:
            common.echo(f"  created {item}")
        if not created:
            common.echo("  (everything was already there; nothing overwritten)")
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
