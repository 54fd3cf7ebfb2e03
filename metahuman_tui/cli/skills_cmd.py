"""`mh skills`, `mh skill run`, `mh trust`, `mh approvals`: the gate from the command line.

`mh skill run` exit codes: 0 ok, 1 the skill failed, 2 bad arguments or unknown skill,
3 queued for approval (prints the id), 4 denied (prints the reason).
"""

from __future__ import annotations

import json

import typer

from . import common

ACTORS = ("human", "agent")
EXIT = {"ok": 0, "queued": 3, "denied": 4}


def _dump(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _skills(json_out: bool, yolo: bool) -> None:
    from metahuman_core.policy import decide
    from metahuman_core.skills import list_skills

    prof = common.profile()
    trust = prof.trust()
    rows = []
    for skill in list_skills():
        agent = decide(skill, trust, actor="agent", yolo=yolo)
        you = decide(skill, trust, actor="human", yolo=yolo)
        rows.append({"id": skill.id, "description": skill.description, "category": skill.category,
                     "risk": skill.risk, "min_trust": skill.min_trust,
                     "decision": agent.decision, "reason": agent.reason,
                     "human_decision": you.decision, "schema": skill.json_schema()})
    if json_out:
        common.emit_json({"trust": trust, "yolo": yolo, "skills": rows})
        return
    common.echo(f"trust: {trust}" + ("   YOLO: on (one row up)" if yolo else ""))
    common.echo(common.table(
        [[r["id"], r["risk"], r["min_trust"], r["decision"], r["human_decision"],
          r["description"][:60]] for r in rows],
        ["skill", "risk", "min trust", "agents", "you", "description"]))


def _exit_for(outcome) -> int:
    if outcome.status == "error":
        return 2 if outcome.denied_by == "validation" else 1
    return EXIT[outcome.status]


def _item_text(item: dict) -> str:
    keys = ("id", "skill", "status", "risk", "requested_by", "created_at", "expires_at", "trust",
            "yolo", "request_reason", "decided_by", "decided_at", "reason", "error")
    lines = [f"{k:15} {item.get(k)}" for k in keys if item.get(k) not in (None, "")]
    lines.append("args:\n" + _dump(item.get("args")))
    if item.get("result") is not None:
        lines.append("result:\n" + _dump(item.get("result")))
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("skills")
    def skills(json_out: bool = typer.Option(False, "--json", help="Machine-readable, with schemas."),
               yolo: bool = typer.Option(False, "--yolo", help="Show the decisions with YOLO on.")) -> None:
        """Each skill with its risk and what the gate decides at the current trust level."""
        _skills(json_out, yolo)

    skill = typer.Typer(help="Run one skill call through the gate (headless).")
    app.add_typer(skill, name="skill")

    @skill.command("run")
    def run(
        name: str = typer.Argument(..., help="Skill id, e.g. fs_read (see: mh skills)."),
        args: str = typer.Option("{}", "--args", help="Arguments as a JSON object."),
        actor: str = typer.Option("human", "--actor",
                                  help="human: your own request (\"ask\" runs); agent: the full "
                                       "table, as the operator gets it."),
        yolo: bool = typer.Option(False, "--yolo", help="Read the policy table one row up."),
        json_out: bool = typer.Option(False, "--json", help="Print the whole outcome as JSON."),
    ) -> None:
        """Run NAME with --args; prints the result, or the approval id (exit 3) or denial (exit 4)."""
        if actor not in ACTORS:
            common.fail(f"--actor must be one of: {', '.join(ACTORS)}", 2)
        parsed = common.parse_json_arg(args, "--args")
        if not isinstance(parsed, dict):
            common.fail("--args must be a JSON object, e.g. '{\"path\": \"README.md\"}'", 2)
        from metahuman_core.skills import execute

        outcome = execute(common.profile(), name, parsed, actor=actor, yolo=yolo,
                          origin={"via": "cli"})
        code = _exit_for(outcome)
        if json_out:
            common.emit_json(outcome.to_dict())
        elif outcome.status == "ok":
            common.echo(_dump(outcome.result))
        elif outcome.status == "queued":
            common.echo(f"queued for approval: {outcome.approval_id}")
            common.echo(f"  {outcome.reason}\n  approve with: mh approvals approve "
                        f"{outcome.approval_id}", err=True)
        elif outcome.status == "denied":
            common.echo(f"denied ({outcome.denied_by}): {outcome.reason}", err=True)
            if outcome.hint:
                common.echo(f"  hint: {outcome.hint}", err=True)
        else:
            common.echo(f"error: {outcome.error}", err=True)
        raise typer.Exit(code)

    @app.command("trust")
    def trust(level: str = typer.Argument(None, help="New level: observe, suggest, supervised_auto, "
                                                      "bounded_auto, adaptive_auto."),
              json_out: bool = typer.Option(False, "--json")) -> None:
        """Show the trust level, or set it (audited; effective at once)."""
        from metahuman_core.identity import TRUST_LEVELS

        prof = common.profile()
        if level is None:
            current = prof.trust()
            if json_out:
                common.emit_json({"trust": current, "levels": list(TRUST_LEVELS)})
                return
            for lv in TRUST_LEVELS:
                common.echo(f"{'*' if lv == current else ' '} {lv}")
            return
        from metahuman_core.safeguards import set_trust

        old = set_trust(prof, level, actor=common.ACTOR)
        if json_out:
            common.emit_json({"trust": level, "previous": old})
        else:
            common.echo(f"trust level: {old} -> {level}")

    appr = typer.Typer(help="The approval queue (out/approval-queue/).", invoke_without_command=True)
    app.add_typer(appr, name="approvals")

    def _list(status: str | None, all_items: bool, json_out: bool) -> None:
        from metahuman_core.approvals import ApprovalQueue

        queue = ApprovalQueue(common.profile())
        items = queue.list(None if all_items else (status or "pending"))
        for problem in queue.corrupt:  # named on stderr; the rest is still listed
            common.echo(f"warning: unreadable approval file: {problem}", err=True)
        if json_out:
            common.emit_json(items)
            return
        if not items:
            common.echo("no approvals" if all_items else f"no {status or 'pending'} approvals")
            return
        common.echo(common.table(
            [[i.get("id"), i.get("status"), i.get("skill"), i.get("risk"), i.get("requested_by"),
              i.get("created_at"), json.dumps(i.get("args"), ensure_ascii=False)[:50]]
             for i in items],
            ["id", "status", "skill", "risk", "requested by", "created", "args"]))

    @appr.callback()
    def approvals(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
        """Pending approvals (see the subcommands to act on them)."""
        if ctx.invoked_subcommand is None:
            _list(None, False, json_out)

    @appr.command("list")
    def list_cmd(status: str = typer.Option(None, "--status", help="pending (default), approved, "
                                                                    "rejected, expired, executed, failed"),
                 all_items: bool = typer.Option(False, "--all", help="Every item, any status."),
                 json_out: bool = typer.Option(False, "--json")) -> None:
        """List approvals (pending ones unless --status or --all)."""
        _list(status, all_items, json_out)

    @appr.command("show")
    def show(approval_id: str = typer.Argument(..., metavar="ID"),
             json_out: bool = typer.Option(False, "--json")) -> None:
        """Everything about one item, including the full arguments and result."""
        from metahuman_core.approvals import ApprovalQueue

        item = ApprovalQueue(common.profile()).get(approval_id)
        common.emit_json(item) if json_out else common.echo(_item_text(item))

    @appr.command("approve")
    def approve(approval_id: str = typer.Argument(..., metavar="ID"),
                json_out: bool = typer.Option(False, "--json")) -> None:
        """Re-check and run the queued call; prints its result (exit 1 if it failed)."""
        from metahuman_core.approvals import ApprovalQueue

        item = ApprovalQueue(common.profile()).approve(approval_id, by="human")
        code = {"executed": 0, "rejected": 4}.get(item["status"], 1)
        if json_out:
            common.emit_json(item)
        elif item["status"] == "executed":
            common.echo(f"executed {item['id']} ({item['skill']})")
            common.echo(_dump(item.get("result")))
        else:
            common.echo(f"{item['status']}: {item.get('reason') or item.get('error')}", err=True)
        raise typer.Exit(code)

    @appr.command("reject")
    def reject(approval_id: str = typer.Argument(..., metavar="ID"),
               reason: str = typer.Option(..., "--reason", "-r", help="Why (passed to the planner)."),
               json_out: bool = typer.Option(False, "--json")) -> None:
        """Refuse the queued call, with a reason."""
        from metahuman_core.approvals import ApprovalQueue

        item = ApprovalQueue(common.profile()).reject(approval_id, by="human", reason=reason)
        common.emit_json(item) if json_out else common.echo(f"rejected {item['id']}: {item['reason']}")
