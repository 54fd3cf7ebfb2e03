"""`mh train runs` and `mh train reap`: see every run, and kill any pod that may still be billing.

The cycle terminates its pod in `finally` and on signals, but a `kill -9`, a power cut or a
failed terminate call can still leave one running (the original lost pods that way). Every pod a
run creates is written to its run-summary.json before anything else, so the summaries are the
list to reconcile: a run that is not running now (its lock is free) and whose summary does not
say "terminated" has its pods terminated and verified gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import clock, events
from ..errors import AlreadyRunning, CorruptFile, MHError
from ..storage import PidLock
from . import remote_state as state
from . import runs as runs_mod
from .runpod import RunPodClient, api_url, load_api_key

if TYPE_CHECKING:
    from ..profile import Profile


def _runs(profile: Profile) -> list[runs_mod.Run]:
    return [r for r in runs_mod.list_runs(profile) if r.summary_path.exists()]


def run_rows(profile: Profile) -> list[dict[str, Any]]:
    """One row per run (the core's RunStatus, in date-and-number order): label, mode, state,
    pod, cost, and whether a pod may be alive."""
    rows = []
    for st in runs_mod.run_statuses(profile):
        if not (st.dir / "run-summary.json").exists():
            continue
        row: dict[str, Any] = {"run": st.run, "path": str(st.dir)}
        if st.status == "corrupt":
            rows.append({**row, "state": "corrupt", "error": st.error})
            continue
        s = st.summary
        at_risk = state.may_have_live_pod(s)
        running = st.alive
        stat = "running" if running else st.status
        if stat in ("created", "starting", "running") and not running:
            stat = "lost"  # stopped without recording an end (kill -9, reboot)
        if at_risk and not running:
            stat = f"{stat} (pod may be alive)"
        row.update(date=s.get("date"), mode=s.get("mode", "local"), state=stat,
                   pod_id=s.get("pod_id"), gpu_type=s.get("gpu_type"), cost_usd=s.get("cost_usd"),
                   terminated=s.get("terminated"), training_success=s.get("training_success"),
                   samples_used=s.get("samples_used"), finished_at=s.get("finished_at"),
                   pods_at_risk=[] if running else at_risk, error=s.get("error"))
        rows.append(row)
    return rows


list_runs = run_rows  # the old name, still imported by metahuman_tui/cli/remote_cmd.py


def reap(profile: Profile, *, dry_run: bool = False, client: RunPodClient | None = None,
         actor: str = "cli") -> list[dict[str, Any]]:
    """Terminate every pod of every idle run whose summary says it may still exist."""
    results = []
    for run in _runs(profile):
        try:
            summary = run.summary()
        except CorruptFile as exc:
            results.append({"run": run.label, "action": "skipped", "reason": f"corrupt summary: {exc.reason}"})
            continue
        targets = state.may_have_live_pod(summary)
        if not targets:
            continue
        if dry_run:
            results += [{"run": run.label, "pod": t, "action": "would terminate"} for t in targets]
            continue
        try:
            lock = PidLock(run.lock_path, f"remote training {run.label}").acquire()
        except AlreadyRunning as exc:
            results.append({"run": run.label, "action": "skipped", "reason": exc.message})
            continue
        try:
            if client is None:
                client = RunPodClient(load_api_key(profile.home.secrets_dir), api_url())
            summary = run.summary() or summary  # re-read under the lock
            results += _reap_run(profile, run, summary, client, actor)
        finally:
            lock.release()
    return results


def _reap_run(profile: Profile, run: runs_mod.Run, summary: dict, client: RunPodClient,
              actor: str) -> list[dict[str, Any]]:
    results = []
    state.find_requested_pod(client, summary)
    for pod_id in state.may_have_live_pod(summary):
        entry = {"run": run.label, "pod": pod_id}
        if pod_id.startswith("name:"):
            entry.update(action="none", reason="no pod with that name exists")
            results.append(entry)
            continue
        try:
            gone = client.terminate_and_verify(pod_id)
        except MHError as exc:
            entry.update(action="failed", reason=exc.message)
            results.append(entry)
            profile.audit.append(events.POD_TERMINATE_FAILED, actor=actor, level="critical",
                                 category="action", details={"pod_id": pod_id, "run": run.label,
                                                             "error": exc.message})
            continue
        if not gone:
            entry.update(action="failed", reason="pod still listed after podTerminate")
            results.append(entry)
            continue
        state.pod_ended(summary, clock.now(), terminated=True, pod_id=pod_id)
        summary.setdefault("reaped", []).append({"pod_id": pod_id, "at": clock.now().isoformat()})
        if summary.get("status") not in state.ENDED:
            summary["status"] = "lost"
            summary["training_success"] = False
            summary.setdefault("error", "the remote cycle stopped without terminating its pod (killed?)")
        entry.update(action="terminated")
        results.append(entry)
        profile.audit.append(events.POD_REAPED, actor=actor, category="action",
                             details={"pod_id": pod_id, "run": run.label,
                                      "cost_usd": summary.get("cost_usd")})
    state.save(run, summary)
    return results
