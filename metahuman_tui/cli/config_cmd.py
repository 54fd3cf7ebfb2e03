"""`mh config show|get|set|check`: edit etc/*.json with validation (an invalid value changes nothing)."""

from __future__ import annotations

import json

import typer

from . import common


def register(app: typer.Typer) -> None:
    cfg = typer.Typer(help="Show and edit etc/*.json with validation.", no_args_is_help=True)
    app.add_typer(cfg, name="config")

    @cfg.command("show")
    def show(name: str = typer.Argument(None, help="Config name, e.g. boredom (default: all)."),
             json_out: bool = typer.Option(True, "--json", hidden=True,
                                           help="Accepted for symmetry: the output is JSON.")) -> None:
        """Print the effective config (file values + defaults) as JSON."""
        from metahuman_core.config import MODELS

        prof = common.profile()
        names = [name] if name else list(MODELS)
        out = {n: prof.config.get(n).model_dump(mode="json") for n in names}
        common.emit_json(out[name] if name else out)

    @cfg.command("get")
    def get(key: str = typer.Argument(..., help="NAME.key, e.g. boredom.level")) -> None:
        """Print one value (JSON for objects and lists)."""
        value = common.profile().config.get_value(key)
        common.echo(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))

    @cfg.command("set", context_settings={"ignore_unknown_options": True})  # VALUE may be -1
    def set_(key: str = typer.Argument(..., help="NAME.key, e.g. boredom.level"),
             value: str = typer.Argument(..., help="JSON value or plain string")) -> None:
        """Set one value. The whole file is validated first; on error nothing is written (exit 2)."""
        from metahuman_core.config import change, parse_cli_value

        parsed = parse_cli_value(value)
        change(common.profile(), key, parsed, actor=common.ACTOR)  # locked, validated, audited
        common.echo(f"{key} = {json.dumps(parsed, ensure_ascii=False)}")

    @cfg.command("check")
    def check() -> None:
        """Validate every config file; exit 1 and name file and field on any problem."""
        problems = common.profile().config.validate_all()
        for p in problems:
            common.echo(p, err=True)
        if problems:
            raise typer.Exit(1)
        common.echo("all config files are valid")
