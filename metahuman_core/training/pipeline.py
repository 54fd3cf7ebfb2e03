"""The automated LoRA pipeline the sleep-service runs at night (DESIGN §9, §10).

build dataset → auto-approve → (autoTrain) start local training. Memories unchanged since the
newest dataset (any date) → no new dataset: a still-pending one is scored, a decided one is
skipped with the reason audited (never re-approved or re-trained night after night). Every step
honours the seed's emergency controls: `etc/sleep.json adapters.lora: false` stops it before any
dataset is built, `etc/auto-approval.json enabled: false` stops all automation after the build (a
person can still review and approve by hand), `dryRun: true` decides without approving. Training
is only started for an approved dataset, and activation is never automatic unless `autoActivate`
is set and the evaluation passed (that part runs when the run finishes: `activate_if_allowed`).
"""

from __future__ import annotations

from typing import Any

from .. import events
from ..errors import MHError
from . import gates


def run_pipeline(profile, *, actor: str = "sleep-service", start_training: bool = True
                 ) -> dict[str, Any]:
    """One nightly pass. Returns what happened; never raises for a closed gate."""
    allowed, why = gates.lora_pipeline_allowed(profile)
    if not allowed:
        profile.audit.append(events.LORA_PIPELINE_SKIPPED, category="decision", actor=actor,
                             details={"reason": why})
        return {"ran": False, "reason": why}
    from .dataset import build_dataset

    built = build_dataset(profile, actor=actor, across_dates=True)
    out: dict[str, Any] = {"ran": True, "date": built.label, "pairs": built.pairs}
    if built.unchanged:
        out["unchanged"] = True
        status = gates.dataset_state(profile, built.label)["status"]
        if status != "pending":  # already decided (and maybe trained): nothing new tonight
            why = f"dataset unchanged since {built.label} ({status}): nothing new to build"
            profile.audit.append(events.LORA_PIPELINE_SKIPPED, category="decision", actor=actor,
                                 details={"date": built.label, "reason": why, "step": "dataset",
                                          "status": status})
            return {"ran": False, "reason": why, "date": built.label, "unchanged": True}
    decision = gates.auto_approve(profile, built.label, actor=actor)
    out["approval"] = decision
    if decision.get("decision") == "disabled":
        profile.audit.append(events.LORA_PIPELINE_SKIPPED, category="decision", actor=actor,
                             details={"date": built.label, "reason": decision["reason"],
                                      "step": "auto-approval"})
        return out
    cfg = profile.config.get("auto-approval")
    if decision.get("decision") != "approved" or cfg.dryRun:
        return out
    if not (start_training and cfg.autoTrain):
        out["training"] = "not started (autoTrain is false)"
        return out
    try:
        from .local import start_local

        run = start_local(profile, built.label, actor=actor)
        out["training"] = {"run": run.label, "dir": str(run.dir)}
    except MHError as exc:
        out["training"] = {"error": str(exc)}
    return out


def activate_if_allowed(profile, label: str, *, actor: str = "sleep-service") -> dict[str, Any]:
    """After a run: activate only when automation, autoActivate and the evaluation all say yes."""
    allowed, why = gates.automation_allowed(profile)
    cfg = profile.config.get("auto-approval")
    if not allowed or not cfg.autoActivate:
        return {"activated": False, "reason": why if not allowed else "autoActivate is false"}
    from .activate import activate

    try:
        record = activate(profile, label, actor=actor)  # never forced: the gate decides
    except MHError as exc:
        profile.audit.append(events.LORA_PIPELINE_SKIPPED, level="warn", category="decision",
                             actor=actor, details={"date": label, "step": "activation",
                                                   "reason": exc.message})
        return {"activated": False, "reason": str(exc)}
    return {"activated": True, "model": record["model"]}
