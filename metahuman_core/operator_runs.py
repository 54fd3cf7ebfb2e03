"""Operator run records and results: what a run leaves behind and how to find it again.

A run is one JSON file, logs/operator/<run-id>.json, rewritten atomically at every step: goal,
status, steps, the conversation so far, and (while paused) the pending approval. It is what lets
`mh op --resume RUN`, or re-running the same goal, continue from the person's decision.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import MHError, NotFound, ValidationFailed
from .storage import read_json

RUN_ID_RE = re.compile(r"^op-\d{8}-\d{6}(-\d{1,6})?$")
FINISHED = ("done", "failed", "loop_detected", "step_budget", "time_budget", "cancelled")


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """What a person reads: the answer, or why there is none."""
        if self.status == "done":
            return self.answer or "(done, no answer)"
        if self.status == "waiting_approval":
            pending = self.steps[-1] if self.steps else {}
            return (f"waiting for approval {self.approval_id} ({pending.get('skill')} "
                    f"{json.dumps(pending.get('args', {}), ensure_ascii=False)[:120]}). Approve: "
                    f"mh approvals approve {self.approval_id}, then mh op --resume {self.run_id}")
        labels = {"loop_detected": "stopped: the same call kept repeating",
                  "step_budget": "stopped: step budget used up",
                  "time_budget": "stopped: time budget used up",
                  "cancelled": "cancelled", "failed": f"failed: {self.error}"}
        done = ", ".join(f"{s['skill']} {s['status']}" for s in self.steps) or "no steps"
        return f"{labels.get(self.status, self.status)} ({done})"


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
