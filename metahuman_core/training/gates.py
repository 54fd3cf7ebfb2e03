"""The LoRA gates: built → approved → trained → evaluated → activated (DESIGN §10.3).

Each gate is a file in out/adapters/<LABEL>/ (approved.json, rejected.json / auto-rejected.json,
adapter/ + GGUF, eval.json) and the active one is persona/overrides/active-adapter.json, so the
state is plain files a person can read and the CLI, TUI and agents all see the same thing.

Auto-approval fixes the original's maths (original.md §7.2 ⚠: missing the pair minimum still
scored 70 = approve, and 0 pairs gave NaN = approve): too few pairs, zero pairs or no held-out
pairs is always a rejection, whatever the score. `enabled: false` in etc/auto-approval.json
disables all automation; `dryRun: true` decides and audits but writes nothing.
"""

from __future__ import annotations

import os
from typing import Any

from .. import clock, events
from ..errors import CorruptFile, MHError, NotFound, ValidationFailed
from ..storage import atomic_write_json, holder_pid, read_json_or
from . import runs

APPROVE_AT = 70


class GateError(MHError):
    """A gate is closed (not approved, rejected, not evaluated…); the hint says what to do."""


def dataset_state(profile, label: str) -> dict[str, Any]:
    """Everything `mh adapter list/review` and the TUI show about one dataset."""
    path = runs.dataset_dir(profile, label)
    problems: list[str] = []

    def load(p, default):
        try:
            value = read_json_or(p, default)
        except CorruptFile as exc:  # reported, never crashes a listing
            problems.append(str(exc))
            return default
        return value if isinstance(value, dict) or value is default else default

    meta = load(path / "metadata.json", {})
    approved = load(path / "approved.json", None)
    rejected = load(path / "rejected.json", None) or load(path / "auto-rejected.json", None)
    evaluation = load(path / "eval.json", None)
    gguf = runs.published_gguf(profile, label)
    trained = gguf is not None or (path / "adapter" / "adapter_model.safetensors").is_file()
    active = load(profile.home.active_adapter, None)
    is_active = isinstance(active, dict) and active.get("date") == label
    running = [r.label for r in runs.list_runs(profile, label) if holder_pid(r.lock_path)]
    if is_active:
        status = "active"
    elif rejected:
        status = "rejected"
    elif evaluation:
        status = "evaluated"
    elif trained:
        status = "trained"
    elif running:
        status = "training"
    elif approved:
        status = "approved"
    else:
        status = "pending"
    return {"date": label, "status": status, "pairs": meta.get("pairCount"),
            "train": meta.get("trainCount"), "heldout": meta.get("heldOutCount"),
            "approved": approved, "rejected": rejected, "trained": trained,
            "gguf": str(gguf) if gguf else None, "eval": evaluation,
            "evalPassed": _still_passes(profile, evaluation),
            "active": is_active, "running": running, "path": str(path), "problems": problems}


def _still_passes(profile, evaluation: dict[str, Any] | None) -> bool:
    """eval.json says passed, and it still does under today's gate (an older one had no CI)."""
    if not (evaluation and evaluation.get("passed")):
        return False
    from .evaluation import thresholds, verdict

    try:
        return verdict(evaluation, *thresholds(profile))[0]
    except MHError:  # an invalid etc/training.json: not passed until it is fixed
        return False


def list_datasets(profile) -> list[dict[str, Any]]:
    return [dataset_state(profile, label) for label in reversed(runs.dataset_labels(profile))]


# ------------------------------------------------------------------------------ manual gates
def approve(profile, label: str, *, notes: str | None = None, actor: str = "cli") -> dict:
    state = dataset_state(profile, label)
    if state["rejected"]:
        raise GateError(f"dataset {label} was rejected; it cannot be approved",
                        hint="build a new one: mh adapter build")
    if not state["pairs"]:
        raise GateError(f"dataset {label} has no pairs; nothing to approve")
    record = {"approvedAt": clock.iso(), "approvedBy": os.environ.get("USER") or actor,
              "actor": actor, "pairCount": state["pairs"], "notes": notes or "",
              "autoApproved": False}
    atomic_write_json(runs.dataset_dir(profile, label) / "approved.json", record)
    profile.audit.append(events.LORA_DATASET_APPROVED, category="decision", actor=actor,
                         details={"date": label, "pairs": state["pairs"], "notes": notes or ""})
    return record


def reject(profile, label: str, *, reason: str, actor: str = "cli") -> dict:
    if not reason or not reason.strip():
        raise ValidationFailed("a rejection needs a reason (--reason is empty)",
                               hint='mh adapter reject DATE --reason "…"')
    state = dataset_state(profile, label)
    if state["status"] in ("trained", "evaluated", "active"):
        raise GateError(f"dataset {label} is already {state['status']}; rejecting it now would "
                        "orphan its adapter", hint="mh adapter deactivate, then build anew")
    record = {"rejectedAt": clock.iso(), "rejectedBy": os.environ.get("USER") or actor,
              "actor": actor, "reason": reason.strip()}
    path = runs.dataset_dir(profile, label)
    atomic_write_json(path / "rejected.json", record)
    try:
        (path / "approved.json").unlink()
    except FileNotFoundError:
        pass
    profile.audit.append(events.LORA_DATASET_REJECTED, category="decision", actor=actor,
                         details={"date": label, "reason": reason.strip()})
    return record


def require_approved(profile, label: str) -> dict:
    state = dataset_state(profile, label)
    if state["rejected"]:
        raise GateError(f"dataset {label} was rejected: {state['rejected'].get('reason')}")
    if not state["approved"]:
        raise GateError(f"dataset {label} is not approved; training refused",
                        hint=f"review it (mh adapter review {label}), then mh adapter approve {label}")
    return state


# ------------------------------------------------------------------------------ automation
def lora_pipeline_allowed(profile) -> tuple[bool, str]:
    """The seed's control `etc/sleep.json adapters.lora: false` stops dataset generation."""
    sleep = profile.config.get("sleep")
    if not sleep.adapters.lora:
        return False, "etc/sleep.json adapters.lora is false"
    return True, "etc/sleep.json adapters.lora is true"


def automation_allowed(profile) -> tuple[bool, str]:
    """The seed's control `etc/auto-approval.json enabled: false` disables automation."""
    if not profile.config.get("auto-approval").enabled:
        return False, "etc/auto-approval.json enabled is false"
    return True, "etc/auto-approval.json enabled is true"


def score_dataset(meta: dict[str, Any], thresholds) -> tuple[int, list[str], list[str]]:
    """(score 0..100, hard failures, soft penalties). Any hard failure means reject."""
    n = int(meta.get("pairCount") or 0)
    hard, soft = [], []
    if n == 0:
        hard.append("dataset has 0 pairs")
    elif n < thresholds.minPairs:
        hard.append(f"{n} pairs is below the minimum of {thresholds.minPairs}")
    if n and not meta.get("heldOutCount"):
        hard.append("no held-out pairs: the adapter could not be evaluated")
    score = 100
    if n:
        conf = meta.get("byConfidence") or {}
        high, low = conf.get("high", 0) / n, conf.get("low", 0) / n
        if high < thresholds.minHighConfidence:
            score -= 25
            soft.append(f"own-words share {high:.0%} below {thresholds.minHighConfidence:.0%}")
        if low > thresholds.maxLowConfidence:
            score -= 25
            soft.append(f"model-generated share {low:.0%} above {thresholds.maxLowConfidence:.0%}")
        if float(meta.get("avgOutputLength") or 0) < thresholds.minReplyLength:
            score -= 20
            soft.append(f"average reply {meta.get('avgOutputLength')} chars below "
                        f"{thresholds.minReplyLength}")
    else:
        score = 0
    return score, hard, soft


def auto_approve(profile, label: str, *, actor: str = "auto-approver") -> dict[str, Any]:
    """Score a dataset and approve/reject it (or, in dryRun, only say what it would do)."""
    cfg = profile.config.get("auto-approval")
    allowed, why = automation_allowed(profile)
    if not allowed:
        return {"date": label, "decision": "disabled", "reason": why}
    state = dataset_state(profile, label)
    if state["approved"] or state["rejected"]:
        return {"date": label, "decision": "already", "status": state["status"]}
    meta = read_json_or(runs.dataset_dir(profile, label) / "metadata.json", {})
    score, hard, soft = score_dataset(meta, cfg.thresholds)
    approve_it = not hard and score >= APPROVE_AT
    reasons = hard + soft
    details = {"date": label, "score": score, "pairs": meta.get("pairCount", 0),
               "reasons": reasons, "dryRun": cfg.dryRun, "threshold": APPROVE_AT}
    event = events.LORA_DATASET_AUTO_APPROVED if approve_it else events.LORA_DATASET_AUTO_REJECTED
    if not cfg.dryRun:
        path = runs.dataset_dir(profile, label)
        if approve_it:
            atomic_write_json(path / "approved.json", {
                "approvedAt": clock.iso(), "approvedBy": "auto-approver", "actor": actor,
                "pairCount": meta.get("pairCount", 0), "notes": "; ".join(soft),
                "autoApproved": True, "qualityScore": score, "dryRun": False})
        else:
            atomic_write_json(path / "auto-rejected.json", {
                "rejectedAt": clock.iso(), "rejectedBy": "auto-approver", "autoRejected": True,
                "score": score, "reasons": reasons, "reason": "; ".join(reasons)})
    profile.audit.append(event, level="info" if approve_it else "warn", category="decision",
                         actor=actor, details=details)
    return {**details, "decision": "approved" if approve_it else "rejected"}


# ------------------------------------------------------------------------------ evaluation gate
def require_eval_passed(profile, label: str) -> dict[str, Any]:
    """The evaluated gate in front of activation; raises GateError with the reasons."""
    state = dataset_state(profile, label)
    if not state["trained"]:
        raise GateError(f"dataset {label} has no trained adapter yet",
                        hint=f"mh train local --date {label}")
    ev = state["eval"]
    if not ev:
        raise GateError(f"adapter {label} has not been evaluated; activation refused",
                        hint=f"mh adapter eval {label} (or --force, which is audited)")
    from .evaluation import thresholds, verdict

    ok, reasons = verdict(ev, *thresholds(profile))  # re-checked: an older eval.json had no CI
    if not (ev.get("passed") and ok):
        why = "; ".join(reasons or ev.get("reasons") or []) or "evaluation failed"
        raise GateError(f"adapter {label} failed evaluation ({why}); activation refused",
                        hint="train on more of your own words, or --force (audited)")
    return ev


def find_trainable(profile) -> str:
    """The newest approved dataset that has no adapter yet (the default for `mh train local`)."""
    for state in list_datasets(profile):
        if state["status"] == "approved":
            return state["date"]
    raise NotFound("no approved dataset waiting for training",
                   hint="mh adapter build, mh adapter review DATE, mh adapter approve DATE")
