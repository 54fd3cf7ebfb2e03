"""`mh adapter …` (datasets, gates, evaluation, activation) and `mh train local|status|stop`.

`train_app` and `adapter_app` are module-level Typer groups so other modules can extend them
(`mh train remote|reap|runs` live in remote_cmd.py). Core imports stay inside the commands:
`mh --help` must not import the training stack.
"""

from __future__ import annotations

import typer

from . import common

adapter_app = typer.Typer(help="Persona datasets and adapters: build, review, approve, evaluate, "
                               "activate.", no_args_is_help=True)
train_app = typer.Typer(help="Train persona adapters (local or remote).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(adapter_app, name="adapter")
    app.add_typer(train_app, name="train")


def _fmt_num(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _progress_line(line: dict) -> str:
    ts = str(line.get("ts") or "")[11:19]
    parts = [f"[{ts}]" if ts else "", f"{line.get('stage', '?'):<14}",
             f"{line.get('pct', 0):5.1f}%"]
    if line.get("step") is not None:
        parts.append(f"step {line['step']}")
    if line.get("loss") is not None:
        parts.append(f"loss {line['loss']:.4f}")
    if line.get("status") == "failed":
        parts.append("FAILED:")
    if line.get("message"):
        parts.append(str(line["message"]))
    return " ".join(p for p in parts if p)


# ------------------------------------------------------------------------------ mh adapter
@adapter_app.command("list")
def adapter_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Datasets and adapters, newest first: pending/approved/trained/evaluated/active."""
    from metahuman_core.training.gates import list_datasets

    rows = list_datasets(common.profile())
    if as_json:
        return common.emit_json(rows)
    if not rows:
        common.echo("No datasets yet. Build one: mh adapter build")
        return
    common.echo(f"LoRA Adapter Datasets ({len(rows)})")
    common.echo(common.table([[r["date"], r["status"], r["pairs"], f"{r['train']}/{r['heldout']}",
                               ("pass" if r["evalPassed"] else "fail") if r["eval"] else "-",
                               "*" if r["active"] else ""] for r in rows],
                             ["DATE", "STATUS", "PAIRS", "TRAIN/HELD", "EVAL", "ACTIVE"]))
    for r in rows:
        for problem in r.get("problems") or []:
            common.echo(f"warning: {problem}", err=True)
    common.echo("\nNext: mh adapter review DATE | approve DATE | mh train local --date DATE | "
                "mh adapter activate DATE")


@adapter_app.command("build")
def adapter_build(date: str | None = typer.Argument(None, help="YYYY-MM-DD (default: today)."),
                  pii: bool | None = typer.Option(None, "--pii/--no-pii",
                                                     help="Scrub e-mails, phones, keys (default: on for remote mode)."),
                  force: bool = typer.Option(False, "--force",
                                             help="Build even if identical to that day's newest dataset."),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Build a dataset from your memories (a second build the same day gets a -2 suffix; an
    identical one is not built again unless --force)."""
    from metahuman_core.training.dataset import build_dataset

    res = build_dataset(common.profile(), date, pii_scrub=pii, actor="cli", force=force)
    if as_json:
        return common.emit_json(res.__dict__)
    if res.unchanged:
        common.echo(f"dataset unchanged since {res.label}: nothing new to build; "
                    f"see mh adapter review {res.label} (mh adapter build --force builds anyway)")
        return
    m = res.metadata
    common.echo(f"dataset {res.label}: {res.pairs} pairs ({res.train} train, {res.heldout} held out)")
    common.echo(f"  by kind: {m.get('byKind')}  PII scrubbed: {m.get('piiScrubbed')}")
    common.echo(f"  {res.path}")
    common.echo(f"next: mh adapter review {res.label}")


@adapter_app.command("review")
def adapter_review(date: str = typer.Argument(..., help="Dataset date (YYYY-MM-DD[-N])."),
                   samples: int = typer.Option(5, "--samples", min=0, max=100),
                   as_json: bool = typer.Option(False, "--json")) -> None:
    """Counts, split by type and kind, and sample pairs of a dataset."""
    from metahuman_core.storage import read_json_or
    from metahuman_core.training import gates, runs

    prof = common.profile()
    state = gates.dataset_state(prof, date)
    path = runs.dataset_dir(prof, date)
    pairs = runs.read_pairs(path / f"{date}.jsonl")
    meta = read_json_or(path / "metadata.json", {})
    picked = [p for p in pairs if (p.get("meta") or {}).get("kind") != "anchor"][:samples]
    if as_json:
        return common.emit_json({"state": state, "metadata": meta, "samples": picked})
    common.echo(f"Dataset {date}: {state['status']}")
    common.echo(f"  pairs {meta.get('pairCount')}  train {meta.get('trainCount')}  "
                f"held out {meta.get('heldOutCount')}")
    for key in ("byKind", "byType", "byConfidence", "skipped"):
        common.echo(f"  {key}: {meta.get(key)}")
    common.echo(f"  duplicates dropped: {meta.get('duplicates')}  PII scrubbed: "
                f"{meta.get('piiScrubbed')} {meta.get('piiReplacements') or ''}")
    common.echo(f"  average output {meta.get('avgOutputLength')} chars")
    for p in picked:
        m = p.get("meta") or {}
        common.echo(f"\n  [{m.get('type')}/{m.get('split')}] {p['instruction'][:100]}")
        common.echo(f"    → {p['output'][:100]}")


@adapter_app.command("approve")
def adapter_approve(date: str = typer.Argument(...),
                    notes: str | None = typer.Option(None, "--notes")) -> None:
    """Approve a dataset for training (audited: lora_dataset_approved)."""
    from metahuman_core.training.gates import approve

    rec = approve(common.profile(), date, notes=notes, actor="cli")
    common.echo(f"approved {date} ({rec['pairCount']} pairs). next: mh train local --date {date}")


@adapter_app.command("reject")
def adapter_reject(date: str = typer.Argument(...),
                   reason: str = typer.Option(..., "--reason", help="Why (kept in rejected.json).")) -> None:
    """Reject a dataset (audited: lora_dataset_rejected); it can never be trained."""
    from metahuman_core.training.gates import reject

    reject(common.profile(), date, reason=reason, actor="cli")
    common.echo(f"rejected {date}: {reason}")


@adapter_app.command("auto-approve")
def adapter_auto_approve(date: str = typer.Argument(...),
                         as_json: bool = typer.Option(False, "--json")) -> None:
    """Score a dataset as the nightly pipeline does (etc/auto-approval.json, dryRun honoured)."""
    from metahuman_core.training.gates import auto_approve

    res = auto_approve(common.profile(), date, actor="cli")
    if as_json:
        return common.emit_json(res)
    dry = " (dry run: nothing written)" if res.get("dryRun") else ""
    common.echo(f"{date}: {res['decision']}{dry}  score {res.get('score', '-')}")
    for reason in res.get("reasons") or []:
        common.echo(f"  - {reason}")
    if res.get("reason"):
        common.echo(f"  {res['reason']}")


@adapter_app.command("eval")
def adapter_eval(date: str = typer.Argument(...),
                 rerun: bool = typer.Option(False, "--rerun", help="Recompute with the trainer."),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Held-out loss base vs adapter and the persona-vs-generic LLR gain; writes eval.json."""
    from metahuman_core.training.evaluation import evaluate

    ev = evaluate(common.profile(), date, actor="cli", rerun=rerun)
    if as_json:
        common.emit_json(ev)
    else:
        for line in eval_lines(date, ev):
            common.echo(line)
    raise typer.Exit(0 if ev["passed"] else 1)


def eval_lines(date: str, ev: dict) -> list[str]:
    """What `mh adapter eval` prints: the verdict in plain words, the numbers, 3 samples."""
    ratio, ci = ev.get("loss_ratio"), ev.get("llr_ci")
    lines = [f"adapter {date}: {'PASSED' if ev['passed'] else 'FAILED'}",
             f"  {ev.get('verdict') or ''}".rstrip(),
             f"  held-out loss {_fmt_num(ev.get('base_loss'))} → {_fmt_num(ev.get('adapter_loss'))}"
             + (f" ({ratio:.0%} of the base)" if isinstance(ratio, (int, float)) else "")
             + f" on {ev.get('heldout')} held-out pairs"
             + (f", better on {ev['improved']}/{ev.get('heldout')}" if ev.get("improved")
                is not None else ""),
             f"  persona-vs-generic LLR gain {_fmt_num(ev.get('llr_gain'))} nats/token"
             + (f" (95% interval {ci[0]:+.3f} to {ci[1]:+.3f})" if ci else "")
             + f", positive on {ev.get('llr_positive')}/{ev.get('llr_count')} prompts"]
    lines += [f"  - {reason}" for reason in ev.get("reasons") or []]
    for s in (ev.get("samples") or [])[:3]:
        lines.append(f"\n  Q: {_one_line(s.get('prompt'))}\n  yours:   {_one_line(s.get('reference'))}"
                     f"\n  base:    {_one_line(s.get('base'))}\n  adapter: {_one_line(s.get('adapter'))}")
    return lines


def _one_line(text, width: int = 110) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= width else text[:width - 1] + "…"


@adapter_app.command("activate")
def adapter_activate(date: str = typer.Argument(...),
                     force: bool = typer.Option(False, "--force",
                                                help="Activate even if evaluation is missing/failed (audited)."),
                     as_json: bool = typer.Option(False, "--json")) -> None:
    """Load the merged GGUF into Ollama and make it the active model."""
    from metahuman_core.training.activate import activate

    rec = activate(common.profile(), date, force=force, actor="cli")
    if as_json:
        return common.emit_json(rec)
    common.echo(f"active model: {rec['model']} ({rec['template']} template)"
                + ("  [FORCED past the evaluation gate]" if rec["forced"] else ""))
    common.echo("rollback: mh adapter deactivate (or rm persona/overrides/active-adapter.json)")


@adapter_app.command("deactivate")
def adapter_deactivate() -> None:
    """Back to the base model at the next LLM call."""
    from metahuman_core.training.activate import deactivate

    prof = common.profile()
    prev = deactivate(prof, actor="cli")
    base = prof.config.get("agent").model
    if prev is None:
        common.echo(f"no adapter was active; the base model {base} answers")
    else:
        common.echo(f"deactivated {prev.get('model') or '?'}; the base model {base} answers now")


# ------------------------------------------------------------------------------ mh train
@train_app.command("local")
def train_local(base_model: str | None = typer.Argument(
                    None, help="Hub id, local model folder or .gguf (default: etc/training.json)."),
                date: str | None = typer.Option(None, "--date",
                                                   help="Approved dataset to train (default: newest approved)."),
                detach: bool = typer.Option(False, "--detach", help="Start and return at once."),
                as_json: bool = typer.Option(False, "--json", help="Print the final run status as JSON.")) -> None:
    """Train on this machine. Runs detached: closing the terminal does not stop it."""
    from metahuman_core.training.local import start_local

    prof = common.profile()
    run = start_local(prof, date, base_model, actor="cli")
    common.echo(f"run: {run.label}  ({run.dir})", err=as_json)
    if detach:
        common.echo(f"training in the background; watch: mh train status {run.label} --follow",
                    err=as_json)
        return
    _watch(run, as_json)


@train_app.command("status")
def train_status(run: str | None = typer.Argument(None, help="Run label (default: all runs)."),
                 follow_: bool = typer.Option(False, "--follow", "-f", help="Stream progress until done."),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Training runs and their stage, or one run's progress."""
    from metahuman_core.training import runs
    from metahuman_core.training.local import run_status

    prof = common.profile()
    if run is None:
        rows = [run_status(r) for r in reversed(runs.list_runs(prof))]
        if as_json:
            return common.emit_json(rows)
        if not rows:
            common.echo("No training runs yet.")
            return
        common.echo(common.table([[r["run"], r.get("date"), r.get("mode"), r["status"],
                                   r.get("stage") or "-", _fmt_num(r.get("pct"), 0),
                                   _fmt_num(r.get("loss"), 4)] for r in rows],
                                 ["RUN", "DATASET", "MODE", "STATUS", "STAGE", "PCT", "LOSS"]))
        return
    found = runs.open_run(prof, run)
    if follow_:
        return _watch(found, as_json)
    st = run_status(found)
    if as_json:
        return common.emit_json(st)
    common.echo(f"run {st['run']} (dataset {st.get('date')}, {st.get('mode')}): {st['status']}")
    common.echo(f"  stage {st.get('stage') or '-'} {_fmt_num(st.get('pct'), 0)}%  "
                f"loss {_fmt_num(st.get('loss'), 4)}  {st.get('message') or ''}")
    for key in ("base_model", "backend", "samples_used", "heldout", "gguf_path", "error"):
        if st.get(key) is not None:
            common.echo(f"  {key}: {st[key]}")
    recipe = st.get("recipe") if isinstance(st.get("recipe"), dict) else {}
    for key, why in (recipe.get("reasons") or {}).items():
        common.echo(f"  recipe {key} = {(recipe.get('values') or {}).get(key)}: {why}")
    if st.get("verdict"):
        common.echo(f"  verdict: {st['verdict']}")


@train_app.command("stop")
def train_stop(run: str = typer.Argument(...)) -> None:
    """Stop a running local training run (recorded as cancelled)."""
    from metahuman_core.training.local import stop_run

    pid = stop_run(common.profile(), run, actor="cli")
    common.echo(f"sent SIGTERM to the supervisor of {run} (pid {pid})")


def _watch(run, as_json: bool) -> None:
    from metahuman_core.training.local import follow

    def show(line: dict) -> None:
        common.echo(_progress_line(line), err=as_json)

    try:
        st = follow(run, show)
    except KeyboardInterrupt:
        common.echo(f"\nstopped watching; training continues. mh train status {run.label} --follow",
                    err=True)
        raise typer.Exit(130)
    if as_json:
        common.emit_json(st)
    elif st["status"] == "completed":
        common.echo(f"completed: {st.get('gguf_path')}  (eval passed: {st.get('eval_passed')})")
        if st.get("verdict"):
            common.echo(f"verdict: {st['verdict']}")
        common.echo(f"next: mh adapter eval {st.get('date')} | mh adapter activate {st.get('date')}")
    else:
        common.echo(f"{st['status']}: {st.get('error') or ''}  log: {run.log_path}", err=True)
    raise typer.Exit(0 if st["status"] == "completed" else 1)
