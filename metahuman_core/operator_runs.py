"""Operator run records and results: what a run leaves behind and how to find it again.

A run is one JSON file, logs/operator/<run-id>.json, rewritten atomically at every step: goal,
status, steps, the conversation so far, and (while paused) the pending approval. It is what lets
`mh op --resume RUN`, or re-running the same goal, continue from the person's decision.

Honest ends: a run records the pid and start time of the process running it, so a run left
"running" by a process that died (kill -9, power cut) is found and marked "interrupted" by the
next run (`reconcile_stale`). `final_status` decides what an answer is worth: "done" needs a step
that worked; every step denied is "denied"; steps that all failed is "failed". Exit codes for the
faces are in EXIT_CODES (0 answered, 1 failed/budget/no useful step, 3 waiting, 4 denied).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import MHError, NotFound, ValidationFailed
from .storage import read_json

RUN_ID_RE = re.compile(r"^op-\d{8}-\d{6}(-\d{1,6})?$")
FINISHED = ("done", "failed", "loop_detected", "step_budget", "time_budget", "cancelled",
            "interrupted", "denied", "unverified")
EXIT_CODES = {"done": 0, "waiting_approval": 3, "denied": 4}  # everything else: 1
UNVERIFIED = "the model answered without using a tool; its answer is unverified"
STALE_SCAN = 50  # newest run files checked for dead "running" runs at each start


def exit_code(status: str) -> int:
    return EXIT_CODES.get(status, 1)


@dataclass
class OperatorEvent:
    kind: str  # started resumed tool_call observation approval_pending approval_decided answer finished
    step: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class OperatorResult:
    run_id: str
    goal: str
    status: str  # done waiting_approval failed loop_detected step_budget time_budget cancelled
    answer: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    yolo: bool = False
    approval_id: str | None = None
    error: str | None = None
    hint: str | None = None
    error_kind: str | None = None  # unavailable | model_missing | llm (status "failed")
    warning: str | None = None     # e.g. UNVERIFIED: shown next to the answer

    @property
    def exit_code(self) -> int:
        return exit_code(self.status)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """What a person reads: the answer, or why there is none."""
        if self.status == "done":
            return self.answer or "(done, no answer)"
        if self.status == "unverified":
            return f"{self.answer}\n\n({UNVERIFIED})".strip()
        if self.status == "waiting_approval":
            pending = self.steps[-1] if self.steps else {}
            return (f"waiting for approval {self.approval_id} ({pending.get('skill')} "
                    f"{json.dumps(pending.get('args', {}), ensure_ascii=False)[:120]}). Approve: "
                    f"mh approvals approve {self.approval_id}, then mh op --resume {self.run_id}")
        labels = {"loop_detected": "stopped: the same call kept repeating",
                  "step_budget": "stopped: step budget used up",
                  "time_budget": "stopped: time budget used up"
                                 + (f" ({self.error})" if self.error else ""),
                  "cancelled": "cancelled", "interrupted": "interrupted",
                  "denied": "every step was denied", "failed": f"failed: {self.error}"}
        done = ", ".join(f"{s['skill']} {s['status']}" for s in self.steps) or "no steps"
        return f"{labels.get(self.status, self.status)} ({done})"


def final_status(steps: list[dict[str, Any]]) -> tuple[str, str | None]:
    """(status, error) for a run the model ended with an answer after these steps."""
    real = [s for s in steps if s.get("status") not in ("repeated", "loop")]
    if not real or any(s.get("status") == "ok" for s in real):
        return "done", None
    if all(s.get("status") in ("denied", "rejected") for s in real):
        return "denied", "every step was denied: " + ", ".join(
            f"{s['skill']} {s['status']}" for s in real)
    return "failed", "no step succeeded: " + "; ".join(
        f"{s['skill']} {s['status']}" + (f" ({s['observation'][:160]})" if s.get("observation")
                                         else "") for s in real)


# ---------------------------------------------------------------------------- stale runs
def process_identity() -> dict[str, Any]:
    return {"pid": os.getpid(), "proc_start": _proc_start(os.getpid())}


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: Any, start: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # unknown: never guess a run dead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return start is None or _proc_start(pid) in (None, start)


def reconcile_stale(profile, *, audit=None) -> list[str]:
    """Mark runs left "running" by a dead process as "interrupted"; returns their ids."""
    from .clock import iso
    from .storage import atomic_write_json

    fixed = []
    for path in sorted(runs_dir(profile).glob("op-*.json"), reverse=True)[:STALE_SCAN]:
        try:
            if b'"status": "running"' not in path.read_bytes()[:4096]:
                continue
            rec = read_json(path)
        except (MHError, OSError):
            continue
        if rec.get("status") != "running" or _alive(rec.get("pid"), rec.get("proc_start")):
            continue
        rec.update(status="interrupted", updated_at=iso(),
                   error=f"the process running it (pid {rec.get('pid')}) ended without finishing")
        atomic_write_json(path, rec)
        fixed.append(rec.get("id") or path.stem)
        if audit is not None:
            audit(rec.get("id") or path.stem, rec["error"])
    return fixed


def runs_dir(profile):
    return profile.home.logs / "operator"


def validate_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise ValidationFailed(f"invalid operator run id {run_id!r}",
                               hint="e.g. op-20251019-160000 (see logs/operator/)")
    return run_id


def load_run(profile, run_id: str) -> dict[str, Any]:
    if run_id == "last":
        runs = sorted(runs_dir(profile).glob("op-*.json"))
        if not runs:
            raise NotFound("no operator runs yet", hint='mh op "your goal"')
        run_id = runs[-1].stem
    path = runs_dir(profile) / f"{validate_run_id(run_id)}.json"
    try:
        return read_json(path)
    except FileNotFoundError:
        raise NotFound(f"no operator run {run_id} ({path})") from None


def find_paused(profile, goal: str) -> str | None:
    """Newest run paused on an approval for exactly this goal, if any."""
    for path in sorted(runs_dir(profile).glob("op-*.json"), reverse=True)[:50]:
        try:
            rec = read_json(path)
        except (MHError, OSError):
            continue
        if rec.get("status") == "waiting_approval" and rec.get("goal") == goal.strip():
            return rec["id"]
    return None
