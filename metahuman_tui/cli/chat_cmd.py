"""`mh chat`, `mh op`, `mh model`: talk to the twin, let it act, choose the model.

Exit codes: 0 answered; 1 failure (no model reachable: the message says how to fix it), budget
used up, or no useful step (every step failed, or an answer without the tool the goal needs);
2 usage; 3 the operator is waiting for an approval (`mh approvals approve ID`, then
`mh op --resume RUN`); 4 every step was denied; 130/143 stopped by SIGINT/SIGTERM (the run
is recorded "interrupted"). Progress goes to stderr (op_progress.py); stdout is the answer.
"""

from __future__ import annotations

import json
import sys

import typer

from . import common
from .op_progress import Reporter, Stopper, stop_on_signals

REPL_HELP = """commands:
  /op GOAL            let the operator act (messages that ask for an action go there anyway)
  /chat TEXT          answer in words only, never act
  /yolo [on|off]      relax the operator (one trust row up, more steps); never widens the sandbox
  /trust [LEVEL]      show or set the trust level
  /approvals          pending approvals;  /approvals approve ID  |  /approvals reject ID REASON
  /model [NAME]       the active model, or switch the base model
  /quit               leave (Ctrl-D works too)"""


def _print_event(event) -> None:
    """Operator progress for people in the REPL (stderr; stdout is the conversation)."""
    _HUMAN(event)


_HUMAN = Reporter("human")


def _exit_code(status: str) -> int:
    from metahuman_core.operator_runs import exit_code

    return exit_code(status)


def _op_output(result, json_out: bool, stopper: Stopper | None = None) -> None:
    """stdout: the answer (or the JSON result); stderr: why there is no (trusted) answer."""
    if json_out:
        common.emit_json(result.to_dict())
    elif result.status == "done":
        common.echo(result.answer)
    elif result.status in ("waiting_approval", "unverified"):
        common.echo(result.summary())  # an unverified answer carries its warning, even in a pipe
    else:
        if result.answer and result.status in ("failed", "denied"):
            common.echo(result.answer)  # what the model said, with the verdict on stderr
        common.echo(result.summary(), err=True)
        if result.hint:
            common.echo(f"  hint: {result.hint}", err=True)
    if result.status == "interrupted" and stopper is not None and stopper.signum:
        raise typer.Exit(stopper.exit_code)
    raise typer.Exit(_exit_code(result.status))


def _stream_token(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _set_trust(prof, level: str) -> str:
    from metahuman_core.safeguards import set_trust

    return set_trust(prof, level, actor=common.ACTOR, via="chat")


def _use_model(prof, name: str, force: bool = False) -> str:
    from metahuman_core.active_model import active_model, set_base_model
    from metahuman_core.config import validate_model_name
    from metahuman_core.llm import LLMError, get_backend

    validate_model_name(name)  # before asking the server about it
    backend = get_backend(prof)
    try:
        present = backend.has_model(name)
    except LLMError as exc:
        present = None
        common.echo(f"warning: could not check the server: {exc.message}", err=True)
    if present is False and not force:
        from metahuman_core.llm import ModelMissing

        raise ModelMissing(f"model {name!r} is not on the server at {backend.host}", model=name,
                           hint=f"ollama pull {name}   (or mh model use {name} --force)")
    old = set_base_model(prof, name, actor=common.ACTOR)  # validated and audited in the core
    current = active_model(prof)
    if current["source"] == "adapter":
        common.echo(f"note: the active adapter {current['model']!r} still answers; "
                    "mh adapter deactivate to use the base model", err=True)
    return old


def _model_status(prof) -> dict:
    """llm.health (host and model checked) in the shape `mh model status --json` always had:
    `ok` = the server answers, `installed` = the model is there; plus health's own fields."""
    from metahuman_core.llm import LLMError, get_backend
    from metahuman_core.llm.health import health

    h = health(prof)
    out = {**h.to_dict(), "ready": h.ok, "ok": h.reachable, "installed": h.model_present,
           "error": None if h.reachable else h.message, "tools": None,
           "host": h.host or f"embedded:{h.model}"}
    if h.model_present and h.backend != "llamacpp":
        try:
            out["tools"] = get_backend(prof).supports_tools(h.model)
        except LLMError as exc:
            out["problem"] = exc.message
    elif h.backend == "llamacpp" and h.model_present:
        out["tools"] = False
    return out


def _repl(yolo: bool) -> None:
    from metahuman_core.chat import ChatSession
    from metahuman_core.errors import MHError
    from metahuman_core.llm import LLMError

    prof = common.profile()
    status = _model_status(prof)
    if not status["ok"]:
        common.fail(status["error"], 1, status.get("hint"))
    session = ChatSession(prof, actor=common.ACTOR, yolo=yolo)
    waiting: dict[str, str] = {}  # approval id -> paused run id
    common.echo(f"mh chat: {status['model']} ({status['backend']} at {status['host']}). "
                "/help for commands, /quit to leave.")
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            common.echo("")
            return
        if not line:
            continue
        cmd, _, rest = line.partition(" ")
        rest = rest.strip()
        try:
            if cmd in ("/quit", "/exit", "/q"):
                return
            if cmd == "/help":
                common.echo(REPL_HELP)
            elif cmd == "/yolo":
                from metahuman_core.safeguards import record_yolo

                new = {"on": True, "off": False}.get(rest.lower(), not session.yolo)
                session.yolo = new
                record_yolo(prof, new, actor=common.ACTOR, via="chat")
                common.echo(f"YOLO {'on' if new else 'off'}")
            elif cmd == "/trust":
                if rest:
                    common.echo(f"trust level: {_set_trust(prof, rest)} -> {rest}")
                else:
                    common.echo(f"trust level: {prof.trust()}")
            elif cmd == "/approvals":
                _repl_approvals(prof, rest, waiting, session)
            elif cmd == "/model":
                if rest:
                    common.echo(f"base model: {_use_model(prof, rest)} -> {rest}")
                else:
                    s = _model_status(prof)
                    common.echo(f"model {s['model']} ({s['source']}) on {s['host']}")
            else:
                route = {"/op": "operator", "/chat": "chat"}.get(cmd)
                text = rest if route else line
                if route is None and line.startswith("/"):
                    common.echo(f"unknown command {cmd}; /help lists them")
                    continue
                streamed: list[str] = []

                def token(t: str) -> None:
                    if not streamed:
                        sys.stdout.write("twin> ")
                    streamed.append(t)
                    _stream_token(t)

                reply = session.send(text, route=route, on_token=token, on_event=_print_event)
                common.echo("")
                op = reply.operator or {}
                if op.get("status") == "waiting_approval":
                    waiting[op["approval_id"]] = op["run_id"]
                if reply.note:
                    common.echo(f"note: {reply.note}", err=True)
        except KeyboardInterrupt:  # Ctrl-C stops the reply (an operator run: "interrupted")
            common.echo("\n(interrupted)", err=True)
        except LLMError as exc:
            common.echo(f"error: {exc.message}", err=True)
            if exc.hint:
                common.echo(f"  hint: {exc.hint}", err=True)
        except MHError as exc:
            common.echo(f"error: {exc}", err=True)


def _repl_approvals(prof, rest: str, waiting: dict, session) -> None:
    from metahuman_core.approvals import ApprovalQueue
    from metahuman_core.operator import resume_operator

    queue = ApprovalQueue(prof)
    action, _, tail = rest.partition(" ")
    if not action:
        items = queue.list("pending")
        for i in items:
            common.echo(f"{i['id']}  {i['skill']}  {json.dumps(i.get('args'), ensure_ascii=False)[:80]}")
        if not items:
            common.echo("no pending approvals")
        return
    approval_id, _, reason = tail.strip().partition(" ")
    if action == "approve":
        item = queue.approve(approval_id, by="human")
    elif action == "reject":
        item = queue.reject(approval_id, by="human", reason=reason or "rejected in chat")
    else:
        common.echo("usage: /approvals [approve ID | reject ID REASON]")
        return
    common.echo(f"{item['id']}: {item['status']}")
    run_id = waiting.pop(approval_id, None)
    if run_id:
        result = resume_operator(prof, run_id, llm=session.llm, on_event=_print_event)
        common.echo(f"twin> {result.summary()}")
        if result.status == "waiting_approval":
            waiting[result.approval_id] = result.run_id


def register(app: typer.Typer) -> None:
    @app.command("chat")
    def chat(
        message: str = typer.Option(None, "--message", "-m", help="Answer this once and exit."),
        json_out: bool = typer.Option(False, "--json", help="With --message: the reply as JSON."),
        yolo: bool = typer.Option(False, "--yolo", help="Relax the operator for action requests."),
        route: str = typer.Option("auto", "--route",
                                  help="auto (actions go to the operator), chat or operator."),
        no_save: bool = typer.Option(False, "--no-save", help="Do not save the exchange."),
    ) -> None:
        """Talk to your twin (a line REPL), or answer one --message for scripts."""
        if route not in ("auto", "chat", "operator"):
            common.fail("--route must be auto, chat or operator", 2)
        if message is None:
            if json_out:
                common.fail("--json needs --message", 2)
            _repl(yolo)
            return
        from metahuman_core.chat import ChatSession

        session = ChatSession(common.profile(), actor=common.ACTOR, yolo=yolo, route=route,
                              save=not no_save)
        with stop_on_signals() as stopper:
            session.cancel = stopper.cancel
            if json_out:
                reply = session.send(message, on_event=Reporter("events"))
                common.emit_json(reply.to_dict())
            else:
                reply = session.send(message, on_token=_stream_token, on_event=_print_event)
                common.echo("")
                if reply.note:
                    common.echo(f"note: {reply.note}", err=True)
        if reply.interrupted:
            common.echo("interrupted", err=True)
            raise typer.Exit(stopper.exit_code)
        op = reply.operator or {}
        raise typer.Exit(_exit_code(op["status"]) if op else 0)

    @app.command("op")
    def op(
        goal: str = typer.Argument(None, help='What to do, e.g. "List all markdown files in docs/".'),
        yolo: bool = typer.Option(False, "--yolo", help="One trust row up and a bigger step "
                                                        "budget; never widens the sandbox."),
        json_out: bool = typer.Option(False, "--json", help="The run result as JSON."),
        resume: str = typer.Option(None, "--resume", help="Continue a run that waited for an "
                                                          "approval (RUN id or 'last')."),
        wait: float = typer.Option(None, "--wait", min=0, help="Seconds to wait for an approval before "
                                                        "pausing (default: operator.approvalWaitSeconds)."),
        fresh: bool = typer.Option(False, "--fresh", help="Start anew even if a run with the same "
                                                         "goal waits for an approval."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
        events: bool = typer.Option(False, "--events", help="Progress as NDJSON events on stderr "
                                                            "(also with --json)."),
    ) -> None:
        """Let the operator carry out GOAL with skills, through the approval gate.

        Progress (thinking…, each step) goes to stderr, the answer to stdout. Ctrl-C or SIGTERM
        stops the run at once and records it "interrupted"."""
        from metahuman_core.operator import Operator, find_paused

        if not goal and not resume:
            common.fail("give a GOAL or --resume RUN", 2)
        prof = common.profile()
        mode = "quiet" if quiet else "events" if (events or json_out) else "human"
        reporter = Reporter(mode)
        with stop_on_signals() as stopper:
            operator = Operator(prof, yolo=yolo, requested_by=common.ACTOR, on_event=reporter,
                                approval_wait=wait, cancel=stopper.cancel)
            paused = None if fresh or resume else find_paused(prof, goal)
            if paused and mode == "human":
                reporter.close()
                common.echo(f"resuming {paused} (same goal, was waiting for an approval; "
                            "--fresh starts anew)", err=True)
            try:
                result = (operator.resume(resume or paused) if resume or paused
                          else operator.run(goal))
            finally:
                reporter.close()
        _op_output(result, json_out, stopper)

    model = typer.Typer(help="The language model: status, installed models, switch.",
                        invoke_without_command=True)
    app.add_typer(model, name="model")

    def _status(json_out: bool) -> None:
        prof = common.profile()
        s = _model_status(prof)
        if json_out:
            common.emit_json(s)
        else:
            where = f" ({s['host_source']})" if s.get("host_source") else ""
            common.echo(f"backend   {s['backend']} at {s['host']}{where}")
            common.echo(f"server    {'up, version ' + str(s['version']) if s['ok'] else 'DOWN'}")
            common.echo(f"model     {s['model']} ({s['source']})"
                        + ("" if s["installed"] is None else
                           "  installed" if s["installed"] else "  NOT INSTALLED"))
            if s["tools"] is not None:
                common.echo(f"tools     {'native tool calls' if s['tools'] else 'JSON-in-text fallback'}")
            for key in ("error", "problem"):
                if s.get(key):
                    common.echo(f"{key:9} {s[key]}")
            if s.get("hint") and not s["ok"]:
                common.echo(f"hint      {s['hint']}")
            elif s["installed"] is False:
                common.echo(f"hint      {s.get('hint') or 'ollama pull ' + s['model']}")
        raise typer.Exit(0 if s["ok"] and s["installed"] is not False else 1)

    @model.callback()
    def model_main(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
        """Without a subcommand: the status (backend, host, active model)."""
        if ctx.invoked_subcommand is None:
            _status(json_out)

    @model.command("status")
    def status(json_out: bool = typer.Option(False, "--json")) -> None:
        """Backend, host, server version, active model and whether it is installed."""
        _status(json_out)

    @model.command("list")
    def list_cmd(json_out: bool = typer.Option(False, "--json")) -> None:
        """Models the server has; * marks the active one."""
        from metahuman_core.active_model import active_model
        from metahuman_core.llm import get_backend
        from metahuman_core.llm.base import same_model

        prof = common.profile()
        models = get_backend(prof).list_models()
        active = active_model(prof)["model"]
        if json_out:
            common.emit_json([{**m.to_dict(), "active": same_model(m.name, active)} for m in models])
            return
        if not models:
            common.echo("no models on the server; e.g. ollama pull qwen3:1.7b")
            return
        common.echo(common.table(
            [["*" if same_model(m.name, active) else "", m.name, m.parameter_size,
              m.quantization, m.size] for m in models],
            ["", "model", "params", "quant", "size"]))

    @model.command("use")
    def use(name: str = typer.Argument(..., help="Model name, e.g. qwen3:1.7b."),
            force: bool = typer.Option(False, "--force", help="Set it even if the server lacks it."),
            json_out: bool = typer.Option(False, "--json")) -> None:
        """Make NAME the base model (etc/agent.json `model`; audited)."""
        prof = common.profile()
        old = _use_model(prof, name, force)
        if json_out:
            common.emit_json({"model": name, "previous": old})
        else:
            common.echo(f"base model: {old} -> {name}")
