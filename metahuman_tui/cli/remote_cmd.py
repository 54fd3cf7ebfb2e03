"""`mh train remote|reap|runs`: persona training on a rented RunPod GPU, and keeping it honest.

Added to the `train` group that train_cmd owns; core imports stay inside the commands so that
`mh --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from . import common


def remote(
    date: str | None = typer.Argument(None, help="Dataset YYYY-MM-DD[-N] (default: the newest "
                                         "approved dataset without an adapter)."),
    gpu: str | None = typer.Option(None, "--gpu", help="GPU type id, e.g. 'NVIDIA GeForce RTX 4090' "
                                      "(default: remote.gpuTypes in etc/training.json, tried in order)."),
    max_hours: float | None = typer.Option(None, "--max-hours", help="Terminate the pod after H hours."),
    max_usd: float | None = typer.Option(None, "--max-usd", help="Terminate the pod once it cost X dollars."),
    json_out: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines."),
    trainer_dir: str | None = typer.Option(None, "--trainer-dir", hidden=True,
                                              help="Upload this trainer package instead of the repo's."),
) -> None:
    """Train on a RunPod pod: upload, train, download the GGUF, always terminate the pod.

    Needs RUNPOD_API_KEY and SSH_KEY_PATH. Re-running the same date resumes an unfinished run.
    """
    from metahuman_core.errors import MHError
    from metahuman_core.training.cancel import Cancelled
    from metahuman_core.training.remote import RemoteOptions, run_remote

    try:
        prof = common.profile()
        opts = RemoteOptions(date=date, gpu=gpu, max_hours=max_hours, max_usd=max_usd,
                             trainer_dir=Path(trainer_dir) if trainer_dir else None,
                             on_event=None if quiet else (lambda m: common.echo(m, err=True)))
        summary = run_remote(prof, opts)
    except Cancelled as exc:
        common.echo(f"cancelled ({exc}); the pod was terminated", err=True)
        raise typer.Exit(128 + exc.signum)
    except MHError as exc:
        common.handle(exc)
    if json_out:
        common.emit_json(summary)
        return
    common.echo(f"run {summary.get('run')}: {summary.get('status')}; GGUF {summary.get('gguf_path')}; "
                f"cost ${summary.get('cost_usd') or 0:.2f}; pod {summary.get('pod_id')} terminated")


def reap(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list the pods that would be terminated."),
    json_out: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Terminate pods left by runs that stopped without terminating them (kill -9, crash)."""
    from metahuman_core.errors import MHError
    from metahuman_core.training.reaper import reap as do_reap

    try:
        results = do_reap(common.profile(), dry_run=dry_run)
    except MHError as exc:
        common.handle(exc)
    if json_out:
        common.emit_json(results)
    elif not results:
        common.echo("no pod to reap: every run's pods are terminated")
    else:
        common.echo(common.table([[r["run"], r.get("pod", ""), r["action"], r.get("reason", "")]
                                  for r in results], ["run", "pod", "action", "reason"]))
    if any(r["action"] == "failed" for r in results):
        raise typer.Exit(1)


def runs(json_out: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """List training runs with their state, pod and cost."""
    from metahuman_core.errors import MHError
    from metahuman_core.training.reaper import list_runs

    try:
        rows = list_runs(common.profile())
    except MHError as exc:
        common.handle(exc)
    if json_out:
        common.emit_json(rows)
        return
    if not rows:
        common.echo("no training runs yet")
        return
    common.echo(common.table(
        [[r["run"], r.get("mode", ""), r["state"], r.get("pod_id") or "-",
          "" if r.get("cost_usd") is None else f"${r['cost_usd']:.2f}", r.get("samples_used") or ""]
         for r in rows], ["run", "mode", "state", "pod", "cost", "samples"]))


def register(app: typer.Typer) -> None:
    """Add remote/reap/runs to the `train` group that train_cmd registers."""
    from .train_cmd import train_app

    train_app.command("remote")(remote)
    train_app.command("reap")(reap)
    train_app.command("runs")(runs)

