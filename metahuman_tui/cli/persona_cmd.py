"""`mh persona show|set`: the persona files (persona/*.json), validated, every change audited."""

from __future__ import annotations

import json

import typer

from . import common


def register(app: typer.Typer) -> None:
    per = typer.Typer(help="Show and edit the persona (persona/core.json and friends).",
                      no_args_is_help=True)
    app.add_typer(per, name="persona")

    @per.command("show")
    def show(file: str = typer.Option(None, "--file", "-f",
                                      help="Print a whole file: core, relationships, routines, decision-rules."),
             json_out: bool = typer.Option(False, "--json", help="As JSON.")) -> None:
        """Who the twin is: name, role, trust level, values, goals."""
        persona = common.profile().persona
        if file:
            common.emit_json(persona.load(file))
            return
        s = persona.summary()
        if json_out:
            common.emit_json(s)
            return
        common.echo(f"name:        {s['name'] or '-'}")
        common.echo(f"role:        {s['role'] or '-'}")
        common.echo(f"trust level: {s['trustLevel']}")
        if s["coreValues"]:
            common.echo("values:      " + ", ".join(v for v in s["coreValues"] if v))
        for g in s["shortTermGoals"]:
            common.echo(f"goal:        {g['goal']}" + (f" ({g['status']})" if g["status"] else ""))
        common.echo(f"updated:     {s['lastUpdated'] or '-'}")

    @per.command("set")
    def set_(key: str = typer.Argument(..., help="identity.name, or FILE.key such as "
                                                 "routines.sleep.schedule.start"),
             value: str = typer.Argument(..., help="The new value (text; with --json a JSON value)."),
             as_json: bool = typer.Option(False, "--json",
                                          help="Parse VALUE as JSON (numbers, lists, objects).")) -> None:
        """Set one persona field (validated; trustLevel is changed as `mh trust` does, audited)."""
        from metahuman_core.identity import set_persona_field

        if as_json:
            value = common.parse_json_arg(value, "VALUE")
        result = set_persona_field(common.profile(), key, value, actor=common.ACTOR)
        common.echo(f"{result['file']}: {result['key']} = {json.dumps(value, ensure_ascii=False)}")
