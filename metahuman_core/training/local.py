"""`mh train local`: run the trainer on this machine, detached from the terminal (DESIGN §10.5).

start_local() checks the approval gate, claims a run directory and spawns a *supervisor* in its
own session (`python -m metahuman_core.training.local --run RUN`): closing the terminal, the SSH
session or the TUI never kills training. The supervisor holds the run's lock, runs
`python -m trainer --input RUN --output RUN` (the trainer writes progress.ndjson there), then
finalises: publishes the adapter + GGUF into out/adapters/<DATE>/, writes run-summary.json,
records the evaluation and audits lora_training_completed/failed. Watchers (CLI, TUI) only read
the run directory.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import clock, events
from ..errors import AlreadyRunning, MHError
from ..storage import PidLock, holder_pid, read_json_or
from . import gates, runs

FINAL = ("completed", "failed", "cancelled", "lost")
HUMAN_ACTORS = ("cli", "tui", "api", "human")
START_GRACE_S = 60.0
_children: dict[str, subprocess.Popen] = {}


def trainer_python(profile=None) -> str:
    """$MH_TRAIN_PYTHON, else etc/training.json `localPython`, else this interpreter."""
    env = os.environ.get("MH_TRAIN_PYTHON")
    if env:
        return env
    if profile is not None:
        extra = profile.config.get("training").model_dump(mode="json").get("localPython")
        if isinstance(extra, str) and extra.strip():
            return os.path.expanduser(extra)
    return sys.executable


def trainer_env() -> dict[str, str]:
    """The environment of a trainer subprocess: `trainer` importable, output unbuffered."""
    env = dict(os.environ)
    spec = importlib.util.find_spec("trainer")
    if spec and spec.origin:
        root = str(Path(spec.origin).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.update(PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false",
               HF_HUB_DISABLE_PROGRESS_BARS="1", TRANSFORMERS_VERBOSITY="error")
    return env


TRAIN_MODULES = ("torch", "transformers", "peft", "gguf")


def require_train_extra(profile) -> None:
    """Refuse before any run is created when this interpreter lacks the train extra (issue 17):
    one line with the install command instead of a failed run and a traceback. A separately
    configured trainer interpreter ($MH_TRAIN_PYTHON, localPython) is trusted as it is."""
    if os.path.realpath(trainer_python(profile)) != os.path.realpath(sys.executable):
        return
    from ..extras import require  # one table of extras and install commands (issue 17)

    require(*TRAIN_MODULES, extra="train", what="mh train local")


def start_local(profile, label: str | None = None, base_model: str | None = None, *,
                actor: str = "cli") -> runs.Run:
    """Gate-check, claim metahuman-runs/<DATE>[-N]/ and start the detached supervisor."""
    label = runs.validate_label(label) if label else gates.find_trainable(profile)
    state = gates.require_approved(profile, label)
    if state["trained"]:
        raise gates.GateError(f"dataset {label} already has a trained adapter",
                              hint="build a new dataset (mh adapter build) to train again")
    for other in runs.list_runs(profile, label):
        if run_status(other)["alive"]:
            raise AlreadyRunning(f"run {other.label} of dataset {label} is already in progress",
                                 hint=f"mh train status {other.label} --follow")
    busy = holder_pid(profile.home.lock_file("train-local"))
    if busy:
        raise AlreadyRunning(f"a local training run is already in progress (pid {busy})",
                             hint="mh train status")
    require_train_extra(profile)
    if base_model and Path(base_model).expanduser().exists():
        base_model = str(Path(base_model).expanduser().resolve())  # relative to the caller's cwd
    run = runs.create_run(profile, label, base_model=base_model, mode="local")
    from .run_inputs import prepare

    try:
        prepare(profile, run)
    except BaseException:
        run.update(status="failed", training_success=False, error="preparing the run failed")
        raise
    summary = run.update(status="starting")  # the supervisor owns run-summary.json from here on
    cmd = [sys.executable, "-m", "metahuman_core.training.local", "--home", str(profile.root),
           "--run", run.label, "--actor", actor]
    with open(run.dir / "supervisor.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=profile.root, env=trainer_env(), start_new_session=True,
                                close_fds=True)
    _children[run.label] = proc
    profile.audit.append(events.LORA_TRAINING_STARTED, category="action", actor=actor, details={
        "date": label, "run": run.label, "mode": "local", "base_model": summary.get("base_model"),
        "samples_used": summary.get("samples_used"), "pid": proc.pid})
    return run


def run_status(run: runs.Run) -> dict[str, Any]:
    """The `mh train status` row of one run: the core's one RunStatus (runs.run_status), told
    whether the supervisor this process spawned is still alive (a fresh one may not hold its
    lock yet)."""
    child = _children.get(run.label)
    child_alive = None
    if child is not None:
        child.poll()  # reap our own child so a finished supervisor is not a zombie
        child_alive = child.returncode is None
    return runs.run_status(run, child_alive=child_alive).to_dict()


def follow(run: runs.Run, on_line: Callable[[dict], None], *, poll: float = 0.5,
           timeout: float | None = None) -> dict[str, Any]:
    """Call on_line for every progress line until the run is final; returns run_status."""
    import json

    offset, deadline = 0, (time.monotonic() + timeout) if timeout else None
    while True:
        status = run_status(run)
        try:
            with open(run.progress_path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
        except FileNotFoundError:
            chunk = b""
        end = chunk.rfind(b"\n") + 1
        for raw in chunk[:end].splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict):
                on_line(line)
        offset += end
        if status["status"] in FINAL and not status["alive"]:
            return run_status(run)
        if deadline and time.monotonic() > deadline:
            return status
        time.sleep(poll)


def stop_run(profile, label: str, *, actor: str = "cli") -> int:
    """SIGTERM the run's supervisor (it stops the trainer and records 'cancelled')."""
    run = runs.open_run(profile, label)
    pid = holder_pid(run.lock_path)
    if not pid:
        raise MHError(f"run {label} is not running")
    os.kill(pid, signal.SIGTERM)
    profile.audit.append(events.LORA_TRAINING_FAILED, level="warn", category="action", actor=actor,
                         details={"run": label, "reason": "stopped by request", "pid": pid})
    return pid


# ------------------------------------------------------------------------------ the supervisor
def supervise(home: str, label: str, actor: str = "cli") -> int:
    from ..profile import Profile

    profile = Profile(home)
    run = runs.open_run(profile, label)
    try:
        with PidLock(run.lock_path, f"training run {label}"), \
                PidLock(profile.home.lock_file("train-local"), "local training"):
            return _train(profile, run, actor)
    except AlreadyRunning as exc:
        run.update(status="failed", training_success=False, error=str(exc),
                   finished_at=clock.iso())
        profile.audit.append(events.LORA_TRAINING_FAILED, level="error", category="action",
                             actor=actor, details={"date": run.dataset, "run": label,
                                                   "error": str(exc)})
        return 1


def _train(profile, run: runs.Run, actor: str) -> int:
    cancelled = []
    run.update(status="running", pid=os.getpid(), started_at=clock.iso())
    with open(run.log_path, "ab") as log:
        child = subprocess.Popen(
            [trainer_python(profile), "-m", "trainer", "--input", str(run.dir), "--output",
             str(run.dir)], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=trainer_env(), cwd=run.dir)

        def on_signal(signum, _frame):
            cancelled.append(signum)
            if child.poll() is None:
                child.terminate()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        rc = child.wait()
    return finalize(profile, run, rc, bool(cancelled), actor)


def finalize(profile, run: runs.Run, rc: int, cancelled: bool, actor: str) -> int:
    """Publish what the trainer produced and record the truth about it."""
    from ..storage import read_json

    result = read_json_or(run.dir / "result.json", {})
    gguf = run.gguf()
    success = rc == 0 and bool(result.get("success")) and gguf is not None \
        and gguf.stat().st_size > 0
    published: dict[str, str] = {}
    error = None if success else (result.get("error") or f"trainer exited with code {rc}"
                                  + ("" if gguf else " and produced no GGUF"))
    if success:
        try:
            published = runs.publish(profile, run)
        except (OSError, MHError) as exc:
            success, error = False, f"publishing failed: {exc}"
    status = "completed" if success else ("cancelled" if cancelled else "failed")
    run.update(status=status, exit_code=rc, finished_at=clock.iso(), training_success=success,
               adapter_path=published.get("adapter"), gguf_path=published.get("gguf"),
               backend=result.get("backend"), eval_passed=result.get("eval_passed"),
               steps=result.get("steps"), best_step=result.get("best_step"), error=error,
               recipe=result.get("recipe"), verdict=result.get("verdict"),
               train_seconds=result.get("train_seconds"), eval_seconds=result.get("eval_seconds"))
    try:
        from .run_inputs import keep_generic_answers

        keep_generic_answers(profile, run)  # computed once per dataset, reused by the next run
    except (OSError, MHError):
        pass
    details = {"date": run.dataset, "run": run.label, "exit_code": rc, "gguf": published.get("gguf")}
    if success:
        profile.audit.append(events.LORA_TRAINING_COMPLETED, category="action", actor=actor,
                             details=details)
        automated = actor not in HUMAN_ACTORS
        auto_eval = profile.config.get("auto-approval").autoEval
        if automated and not auto_eval:
            run.update(eval_skipped="auto-approval.autoEval is false: run `mh adapter eval`")
        elif (run.dir / "eval.json").is_file():
            from .evaluation import record_eval

            try:
                rec = record_eval(profile, run.dataset, read_json(run.dir / "eval.json"),
                                  run=run.label, actor=actor)
                run.update(eval_passed=rec["passed"], verdict=rec.get("verdict"))
            except MHError as exc:
                run.update(eval_error=str(exc))
        if automated and auto_eval:  # started by automation: autoActivate may apply
            from .pipeline import activate_if_allowed

            run.update(auto_activation=activate_if_allowed(profile, run.dataset, actor=actor))
    else:
        profile.audit.append(events.LORA_TRAINING_FAILED, level="error", category="action",
                             actor=actor, details={**details, "error": error,
                                                   "stage": result.get("stage"),
                                                   "cancelled": cancelled})
    return 0 if success else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m metahuman_core.training.local")
    ap.add_argument("--home", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--actor", default="cli")
    args = ap.parse_args(argv)
    return supervise(args.home, runs.validate_label(args.run), args.actor)


if __name__ == "__main__":
    sys.exit(main())
