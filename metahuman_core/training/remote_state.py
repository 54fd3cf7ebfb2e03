"""The remote run's bookkeeping: which run to resume, its run-summary.json, pods and money.

A remote run is an ordinary run of `runs.py` (metahuman-runs/<LABEL>[-N]/ with the cleaned
dataset, config.json, run-summary.json, progress.ndjson) made with mode "remote". On top of the
seed's summary fields (date, samples_used, base_model, pod_id, pod_ip, adapter_path, terminated,
training_success) it records every pod the run ever created, the steps completed (for resume),
costs, timings and the pinned host key, so `mh train reap` can find any pod that may still bill.
The trainer's outputs come home into the run folder and are published by `local.finalize`, the
same gate the local path uses. Extra files: remote.log, known_hosts, trainer.log.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import clock
from ..errors import AlreadyRunning, MHError
from ..redact import redact, scrub_string
from ..storage import atomic_write_json, holder_pid
from . import gates, runs
from .run_inputs import GENERIC_FILE, prepare
from .runpod import Pod, RunPodClient

ENDED = ("completed", "failed", "cancelled", "lost")
_KEEP_LOCAL = {"run-summary.json", "config.json", "unsloth_dataset.jsonl", "eval_dataset.jsonl",
               "known_hosts", "remote.log", "run.lock", "trainer.log"}


def save(run: runs.Run, summary: dict[str, Any]) -> None:
    atomic_write_json(run.summary_path, redact(summary))


def log(run: runs.Run, message: str) -> None:
    with open(run.dir / "remote.log", "a", encoding="utf-8") as fh:
        fh.write(f"{clock.iso()} {scrub_string(message)}\n")


def remote_dir(run: runs.Run, workdir: str) -> str:
    return f"{workdir.rstrip('/')}/metahuman-{run.label}"


def inputs(run: runs.Run) -> list[Path]:
    names = (runs.DATASET_FILE, runs.EVAL_FILE, "config.json", GENERIC_FILE)
    return [run.dir / n for n in names if (run.dir / n).is_file()]


def open_run(profile, label: str | None) -> tuple[runs.Run, bool]:
    """(run, resumed): the dataset's unfinished remote run, else a new one past the gates."""
    label = runs.validate_label(label) if label else gates.find_trainable(profile)
    gates.require_approved(profile, label)
    existing = runs.list_runs(profile, label)
    if existing:
        newest = existing[-1]
        summary = newest.summary()
        if summary.get("mode") == "remote" and summary.get("status") != "completed":
            pid = holder_pid(newest.lock_path)
            if pid:
                raise AlreadyRunning(f"remote run {newest.label} is already running (pid {pid})",
                                     hint="mh train runs")
            return newest, True
    if gates.dataset_state(profile, label)["trained"]:
        raise gates.GateError(f"dataset {label} already has a trained adapter",
                              hint="build a new dataset (mh adapter build) to train again")
    run = runs.create_run(profile, label, mode="remote")
    prepare(profile, run)  # the persona's own system prompt; the dataset's generic answers
    return run, False


def begin_attempt(summary: dict[str, Any], run: runs.Run, resumed: bool, max_hours: float,
                  max_usd: float) -> dict[str, Any]:
    summary = dict(summary)
    if resumed:
        summary["attempts"] = int(summary.get("attempts") or 1) + 1
        for key in ("error", "stop_reason", "terminate_error", "finished_at"):
            summary.pop(key, None)
    else:
        summary.update(attempts=1, pods=[], steps_completed=["dataset", "config"], pod_id=None,
                       pod_ip=None, terminated=False, adapter_path=None, cost_usd=0.0, timings={})
    summary.update(status="starting", phase="starting", training_success=False,
                   started_at=summary.get("started_at") or clock.iso(), attempt_started_at=clock.iso(),
                   caps={"max_hours": max_hours, "max_usd": max_usd})
    summary.setdefault("pods", [])
    return summary


# ------------------------------------------------------------------ pods and money
def pod_started(summary: dict, pod: Pod, now: datetime) -> None:
    summary["pods"].append({"pod_id": pod.id, "name": pod.name, "gpu_type": pod.gpu_type,
                            "cost_per_hr": pod.cost_per_hr, "created_at": now.isoformat(),
                            "ended_at": None, "terminated": False})
    summary.update(pod_id=pod.id, gpu_type=pod.gpu_type, cost_per_hr=pod.cost_per_hr,
                   pod_ip=None, ssh_port=None, terminated=False, host_key_fingerprint=None,
                   remote_pid=None)


def set_cost(summary: dict, cost_per_hr: float) -> None:
    summary["cost_per_hr"] = cost_per_hr
    if summary.get("pods"):
        summary["pods"][-1]["cost_per_hr"] = cost_per_hr


def pod_ended(summary: dict, now: datetime, *, terminated: bool, pod_id: str | None = None) -> None:
    """Record the end of `pod_id` (default: the current pod); its cost stops counting."""
    pod_id = pod_id or summary.get("pod_id")
    for pod in summary.get("pods", []):
        if pod["pod_id"] == pod_id and not pod.get("terminated"):
            pod["ended_at"] = pod.get("ended_at") or now.isoformat()
            pod["terminated"] = terminated
    if pod_id == summary.get("pod_id"):
        summary["terminated"] = terminated
    hours, usd = billable(summary, now)
    summary.update(cost_usd=round(usd, 4), billable_hours=round(hours, 4))


def billable(summary: dict, now: datetime) -> tuple[float, float]:
    """(hours, dollars) over every pod of the run: costPerHr × time alive (so far)."""
    hours = usd = 0.0
    for pod in summary.get("pods", []):
        start = datetime.fromisoformat(pod["created_at"])
        end = datetime.fromisoformat(pod["ended_at"]) if pod.get("ended_at") else now
        h = max((end - start).total_seconds(), 0.0) / 3600
        hours += h
        usd += h * float(pod.get("cost_per_hr") or 0.0)
    return hours, usd


def find_requested_pod(client: RunPodClient, summary: dict) -> None:
    """A deploy cut off before its answer arrived: look the pod up by its name."""
    name = summary.get("pod_requested")
    if name and not summary.get("pod_id"):
        found = client.find_pod_by_name(name)
        if found:
            pod_started(summary, Pod(id=str(found["id"]), name=name, gpu_type="?",
                                     cost_per_hr=found.get("costPerHr")), clock.now())
    summary["pod_requested"] = None


def may_have_live_pod(summary: dict) -> list[str]:
    """Pods this run created that are not known to be terminated ("name:…" if the id is unknown)."""
    ids = [p["pod_id"] for p in summary.get("pods", []) if not p.get("terminated")]
    if summary.get("pod_id") and not summary.get("terminated") and summary["pod_id"] not in ids:
        ids.append(summary["pod_id"])
    if summary.get("pod_requested") and not summary.get("pod_id"):
        ids.append("name:" + summary["pod_requested"])
    return ids


# ------------------------------------------------------------------ progress and artifacts
def append_progress(run: runs.Run, chunk: bytes, summary: dict) -> None:
    """Mirror the complete lines of the pod's progress file; remember the latest one."""
    end = chunk.rfind(b"\n")
    if end < 0:
        return
    complete = chunk[:end + 1]
    with open(run.progress_path, "ab") as fh:
        fh.write(complete)
    for line in complete.split(b"\n"):  # not str.splitlines(): U+2028 may sit inside a JSON string
        try:
            item = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(item, dict) and "stage" in item:
            summary["progress"] = {k: item.get(k) for k in ("stage", "pct", "step", "loss", "status", "message")}
            if isinstance(item.get("step"), int):
                summary["training_steps_done"] = max(item["step"], summary.get("training_steps_done") or 0)


def download_plan(run: runs.Run, files: list[str], rdir: str) -> list[tuple[str, Path]]:
    """Which pod output files come home (into the run folder): GGUF, adapter/, eval, result."""
    plan = [(f"{rdir}/train.log", run.log_path)]
    for rel in files:
        remote = f"{rdir}/output/{rel}"
        if rel.startswith("adapter/"):
            plan.append((remote, run.dir / rel))
        elif "/" in rel or rel.endswith((".part", ".tmp")) or rel in _KEEP_LOCAL:
            continue  # merged/ and other scratch stay on the pod
        else:
            plan.append((remote, run.dir / rel))
    if not any(rel.endswith(".gguf") and "/" not in rel for rel in files):
        raise MHError("the trainer exited 0 but left no GGUF in its output folder")
    return plan


def verification(run: runs.Run, done: dict[str, str]) -> dict[str, str]:
    return {str(Path(p).relative_to(run.dir)): h for p, h in done.items()}


def finish(summary: dict, outcome: BaseException | None, terminate_error: BaseException | None,
           now: datetime) -> None:
    from .cancel import Cancelled
    from .remote import CapExceeded

    if outcome is not None:
        summary["training_success"] = False
        if isinstance(outcome, (Cancelled, KeyboardInterrupt)):
            name = getattr(outcome, "signame", "SIGINT")
            summary.update(status="cancelled", stop_reason=name, error=f"interrupted by {name}")
        elif isinstance(outcome, CapExceeded):
            summary.update(status="failed", stop_reason="cap_exceeded", error=outcome.message)
        elif isinstance(outcome, MHError):
            summary.update(status="failed", stop_reason=summary.get("stop_reason") or "error",
                           error=outcome.message)
        else:
            summary.update(status="failed", stop_reason="error",
                           error=f"{type(outcome).__name__}: {outcome}")
    if terminate_error is not None:
        summary["terminate_error"] = getattr(terminate_error, "message", None) or repr(terminate_error)
    hours, usd = billable(summary, now)
    summary.update(cost_usd=round(usd, 4), billable_hours=round(hours, 4), finished_at=now.isoformat(),
                   phase="done" if outcome is None else summary.get("phase"))
