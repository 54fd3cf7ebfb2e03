"""`mh audit`: read, summarise, verify and append to the tamper-evident audit log."""

from __future__ import annotations

import json

import typer

from metahuman_core.errors import MHError

from . import common

AGAINST_HELP = ("A checkpoint from `mh audit checkpoint` (repeatable): prove the log still holds "
                "that prefix. Implies --all.")


def _line(entry: dict) -> str:
    if "_broken" in entry:
        return f"!! line {entry['_broken']}: unparsable: {entry['_raw']!r}"
    details = entry.get("details")
    d = json.dumps(details, ensure_ascii=False, separators=(",", ":")) if details else ""
    if len(d) > 160:
        d = d[:157] + "..."
    return (f"{entry.get('timestamp', '')[11:19]} {entry.get('level', ''):8} "
            f"{entry.get('category', ''):8} {entry.get('actor', ''):10} {entry.get('event', '')} {d}")


def _date(value: str | None) -> str | None:
    if value is None:
        return None
    from metahuman_core.ids import validate_date

    return validate_date(value)


def register(app: typer.Typer) -> None:
    aud = typer.Typer(help="Read, verify and append to the audit log (logs/audit/YYYY-MM-DD.ndjson).",
                      invoke_without_command=True)
    app.add_typer(aud, name="audit")

    @aud.callback()
    def show(
        ctx: typer.Context,
        date: str = typer.Option(None, "--date", "-d", help="YYYY-MM-DD (default: today, local time)."),
        category: str = typer.Option(None, "--category", "-c", help="system|decision|action|security|data"),
        level: str = typer.Option(None, "--level", "-l", help="info|warn|error|critical"),
        event: str = typer.Option(None, "--event", "-e", help="Event name (substring match)."),
        actor: str = typer.Option(None, "--actor", "-a", help="Actor, e.g. human, cli, organizer."),
        limit: int = typer.Option(None, "--limit", "-n", min=1, help="Only the last N entries."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object per line."),
        follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new entries."),
    ) -> None:
        """Show audit entries of a day, filtered."""
        if ctx.invoked_subcommand is not None:
            return
        from metahuman_core.audit import CATEGORIES, LEVELS

        if category and category not in CATEGORIES:
            common.fail(f"--category must be one of {', '.join(CATEGORIES)}", 2)
        if level and level not in LEVELS:
            common.fail(f"--level must be one of {', '.join(LEVELS)}", 2)
        prof = common.profile()
        log = prof.audit
        entries = log.query(_date(date), category=category, level=level, event=event,
                            actor=actor, limit=limit)
        for e in entries:
            common.echo(json.dumps(e, ensure_ascii=False) if json_out else _line(e))
        if follow:
            def keep(e: dict) -> bool:
                return ((not category or e.get("category") == category)
                        and (not level or e.get("level") == level)
                        and (not event or event in str(e.get("event")))
                        and (not actor or e.get("actor") == actor))
            try:
                for e in log.follow(_date(date)):
                    if keep(e):
                        common.echo(json.dumps(e, ensure_ascii=False) if json_out else _line(e))
            except KeyboardInterrupt:
                return

    @aud.command("summary")
    def summary(date: str = typer.Option(None, "--date", "-d"),
                json_out: bool = typer.Option(False, "--json")) -> None:
        """Counts by level, category and event."""
        data = common.profile().audit.summary(_date(date))
        if json_out:
            common.emit_json(data)
            return
        common.echo(f"{data['date']}: {data['total']} entries")
        for key in ("by_level", "by_category", "by_event"):
            common.echo(f"{key[3:]}:")
            for name, n in data[key].items():
                common.echo(f"  {name:32} {n}")

    @aud.command("security")
    def security(date: str = typer.Option(None, "--date", "-d"),
                 json_out: bool = typer.Option(False, "--json")) -> None:
        """Security events and errors of a day."""
        items = common.profile().audit.security_report(_date(date))
        if json_out:
            common.emit_json(items)
            return
        if not items:
            common.echo("no security events or errors")
        for e in items:
            common.echo(_line(e))

    @aud.command("verify")
    def verify(date: str = typer.Option(None, "--date", "-d", help="One day (default: today)."),
               all_days: bool = typer.Option(False, "--all", help="The whole log: every day, in seq "
                                             "order, against the head record."),
               against: list[str] | None = typer.Option(None, "--against", help=AGAINST_HELP),  # noqa: B008
               json_out: bool = typer.Option(False, "--json")) -> None:
        """Check the chain; exit 1 listing every problem (file:line: what)."""
        from metahuman_core.audit_checkpoint import parse, verify_against

        checkpoints = []
        for text in against or []:
            try:
                checkpoints.append(parse(text))
            except MHError as exc:
                common.fail(exc.message, 2, exc.hint)
        log = common.profile().audit
        if checkpoints:
            res = verify_against(log, checkpoints)
        else:
            res = log.verify(_date(date), all_days=all_days)
        if json_out:
            common.emit_json(res.as_dict())
        elif res.ok:
            common.echo(f"ok: {res.checked} entries in {len(res.files)} file(s), chain intact")
            for cp in res.checkpoints:
                common.echo(f"ok: {cp['message']}")
        else:
            n = len(res.problems)
            for p in res.problems:
                common.echo(f"BROKEN: {p['file']}:{p['line']}: {p['problem']}", err=True)
            for cp in res.checkpoints:
                common.echo(f"{'ok' if cp['ok'] else 'BROKEN'}: {cp['message']}", err=True)
            common.echo(f"{n} problem(s) in {res.checked} entries, {len(res.files)} file(s)"
                        + ("" if all_days or checkpoints else "; `mh audit verify --all` checks "
                           "the whole log"), err=True)
        if not res.ok:
            raise typer.Exit(1)

    @aud.command("checkpoint")
    def checkpoint(json_out: bool = typer.Option(False, "--json")) -> None:
        """Print a checkpoint (seq, date, hash) to keep elsewhere; `verify --against` checks it."""
        from metahuman_core.audit_checkpoint import take

        cp, res = take(common.profile().audit, actor=common.ACTOR)
        if json_out:
            common.emit_json({**cp.as_dict(), "token": cp.token(), "log_ok": res.ok,
                              "problems": len(res.problems)})
        else:
            common.echo(cp.token())
            common.echo(f"  seq {cp.seq} · {cp.date} · sha256 {cp.hash}")
            common.echo("  keep this line somewhere else (a notebook, another machine); later: "
                        "mh audit verify --against '<line>'  (the first 16 hex digits suffice)")
        if not res.ok:
            common.echo(f"warning: the log already has {len(res.problems)} problem(s) "
                        f"(mh audit verify --all); this checkpoint covers it as it is", err=True)

    @aud.command("log")
    def log_event(
        event: str = typer.Argument(..., help="Event name: lowercase letters, digits, _ . : -"),
        message: str = typer.Argument(None, help="Optional free text, stored as details.message."),
        level: str = typer.Option("info", "--level"),
        category: str = typer.Option("action", "--category"),
        actor: str = typer.Option("human", "--actor"),
        details: str = typer.Option(None, "--details", help="JSON object"),
    ) -> None:
        """Append your own event (for scripts)."""
        from metahuman_core.audit import CATEGORIES, LEVELS
        from metahuman_core.events import EVENT_NAME_RE

        if not EVENT_NAME_RE.match(event):
            common.fail(f"invalid event name {event!r}: use lowercase letters, digits and _ . : -", 2)
        if level not in LEVELS:
            common.fail(f"--level must be one of {', '.join(LEVELS)}", 2)
        if category not in CATEGORIES:
            common.fail(f"--category must be one of {', '.join(CATEGORIES)}", 2)
        if not actor or len(actor) > 64:
            common.fail("--actor must be 1-64 characters", 2)
        data = common.parse_json_arg(details, "--details") if details else {}
        if not isinstance(data, dict):
            common.fail("--details must be a JSON object", 2)
        if message is not None:
            data = {**data, "message": message}
        entry = common.profile().audit.append(event, level=level, category=category, actor=actor,
                                              details=data)
        common.echo(f"logged seq {entry['seq']}")
