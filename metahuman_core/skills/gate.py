"""The one gate every skill call goes through (DESIGN §7): validate → decide → run / queue / deny.

There is deliberately no parameter that skips it (no auto-approve): the only way from "ask" to
"run" is a person — either making the request directly (actor "human") or approving the queued
item (`ApprovalQueue.approve`, which comes back through `prepare_approved` + `invoke`).
Every decision and every execution lands in the audit log with the trust level and the YOLO flag;
results never do (a per-skill summary instead, and `content` is redacted to size + sha256).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .. import events
from ..errors import MHError, NotFound, ValidationFailed
from ..policy import decide
from ..sandbox import SandboxViolation
from .deadline import Deadline, DeadlineExceeded, call_under
from .registry import Skill, get_skill

if TYPE_CHECKING:
    from ..profile import Profile


@dataclass
class Outcome:
    status: str  # ok | error | queued | denied
    skill: str
    args: dict
    decision: str  # run | ask | deny
    reason: str
    result: Any = None
    error: str | None = None
    approval_id: str | None = None
    error_type: str | None = None  # bad_args | unknown_skill | failed | deadline (status "error")
    trust: str = ""
    yolo: bool = False
    # Why a call did not run, as fields the faces map (never the message text):
    # denied_by: "policy" (trust level), "sandbox" (path rules), "validation" (bad arguments or
    # an unknown skill); None when the call was not refused. hint: what the person can do.
    denied_by: str | None = None
    hint: str | None = None
    exception: str | None = None  # the type of an unexpected exception (a bug or an OS error)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _audit(profile: Profile, event: str, actor: str, details: dict, *, category: str = "action",
           level: str = "info") -> None:
    profile.audit.append(event, level=level, category=category, actor=actor, details=details)


POLICY_HINT = "raise it with `mh trust <level>` if you mean to allow this"
SANDBOX_HINT = "skills may only touch the sandbox's paths (see docs/security.md)"


def _deny(profile: Profile, skill_id: str, args: dict, actor: str, trust: str, yolo: bool,
          reason: str, *, sandbox: bool = False, extra: dict | None = None,
          hint: str | None = None) -> Outcome:
    details = {"skill": skill_id, "trust": trust, "yolo": yolo, "reason": reason,
               "denied_by": "sandbox" if sandbox else "policy", **(extra or {})}
    if sandbox:
        _audit(profile, events.SANDBOX_VIOLATION, actor, {**details, "args": args},
               category="security", level="warn")
    _audit(profile, events.SKILL_DENIED, actor, details, category="security", level="warn")
    return Outcome("denied", skill_id, args, "deny", reason, error=reason, trust=trust, yolo=yolo,
                   denied_by="sandbox" if sandbox else "policy",
                   hint=hint or (SANDBOX_HINT if sandbox else POLICY_HINT))


def _fail_early(profile: Profile, skill_id: str, args: Any, actor: str, trust: str, yolo: bool,
                message: str, error_type: str, hint: str | None = None) -> Outcome:
    _audit(profile, events.SKILL_FAILED, actor,
           {"skill": skill_id, "trust": trust, "yolo": yolo, "stage": error_type,
            "error": message,
            "args": args if isinstance(args, dict) else f"<{type(args).__name__}>"},
           level="warn")
    return Outcome("error", str(skill_id), args if isinstance(args, dict) else {}, "deny",
                   message, error=message, error_type=error_type, trust=trust, yolo=yolo,
                   denied_by="validation", hint=hint)


def execute(profile: Profile, skill_id: str, args: dict, *, actor: str, yolo: bool = False,
            origin: dict | None = None, deadline: Deadline | None = None) -> Outcome:
    """Run one skill call through the gate. Never raises for the call's own problems.
    `deadline`: the caller's time budget; waiting skills get min(their timeout, the time left)
    (skills/deadline.py). A call that is queued instead runs later, on the person's approval,
    without it."""
    if not isinstance(actor, str) or not actor.strip():
        raise ValidationFailed("execute(): actor is required (\"human\", \"operator\", an agent name)")
    yolo = bool(yolo)
    origin = dict(origin or {})
    trust = profile.trust()  # read fresh on every call: a trust change takes effect at once
    try:
        skill = get_skill(skill_id)
    except NotFound as exc:
        return _fail_early(profile, skill_id, args, actor, trust, yolo, str(exc), "unknown_skill",
                           hint=exc.hint)
    try:
        model = skill.parse_args(args)
    except ValidationFailed as exc:
        return _fail_early(profile, skill.id, args, actor, trust, yolo, exc.message, "bad_args",
                           hint=exc.hint)
    clean = model.model_dump(mode="json")
    verdict = decide(skill, trust, actor=actor, yolo=yolo, args=clean, origin=origin)
    decision, reason, sandbox_refused = verdict.decision, verdict.reason, False
    hint: str | None = None
    if decision != "deny" and skill.precheck is not None:
        try:
            skill.precheck(profile, model)
        except SandboxViolation as exc:
            decision, reason, sandbox_refused, hint = "deny", exc.message, True, exc.hint
    _audit(profile, events.SKILL_DECISION, actor,
           {"skill": skill.id, "args": clean, "risk": skill.risk, "trust": trust, "yolo": yolo,
            "row": verdict.row, "decision": decision, "reason": reason, "origin": origin},
           category="decision")
    if decision == "deny":
        return _deny(profile, skill.id, clean, actor, trust, yolo, reason, sandbox=sandbox_refused,
                     hint=hint)
    if decision == "ask":
        from ..approvals import ApprovalQueue

        item = ApprovalQueue(profile).enqueue(skill, clean, requested_by=actor, trust=trust,
                                              yolo=yolo, origin=origin, reason=reason)
        return Outcome("queued", skill.id, clean, "ask", reason, approval_id=item["id"],
                       trust=trust, yolo=yolo)
    return invoke(profile, skill, model, actor=actor, trust=trust, yolo=yolo,
                  decision="run", reason=reason, deadline=deadline)


def invoke(profile: Profile, skill: Skill, model: BaseModel, *, actor: str, trust: str, yolo: bool,
           decision: str, reason: str, approval_id: str | None = None,
           approved_by: str | None = None, deadline: Deadline | None = None) -> Outcome:
    """Run a call the gate has already allowed, and audit how it went."""
    clean = model.model_dump(mode="json")
    base = {"skill": skill.id, "trust": trust, "yolo": yolo}
    if approval_id:
        base.update(approval_id=approval_id, approved_by=approved_by)
    started = time.perf_counter()
    try:
        result = call_under(deadline, skill.id, lambda: skill.fn(profile, model, actor))
    except SandboxViolation as exc:
        return _deny(profile, skill.id, clean, actor, trust, yolo, exc.message, sandbox=True,
                     extra={"approval_id": approval_id} if approval_id else None, hint=exc.hint)
    except MHError as exc:
        # ValidationFailed from inside the skill (a due date of 2025-02-30) is still bad input
        kind = ("bad_args" if isinstance(exc, ValidationFailed) else
                "deadline" if isinstance(exc, DeadlineExceeded) else "failed")
        _audit(profile, events.SKILL_FAILED, actor,
               {**base, "error": exc.message, "stage": kind}, level="warn")
        return Outcome("error", skill.id, clean, decision, reason, error=str(exc),
                       approval_id=approval_id, error_type=kind, trust=trust, yolo=yolo,
                       denied_by="validation" if kind == "bad_args" else None, hint=exc.hint)
    except Exception as exc:  # a bug or an OS error: report it honestly, never as success
        message = f"{skill.id} failed: {type(exc).__name__}: {exc}"
        _audit(profile, events.SKILL_FAILED, actor, {**base, "error": message}, level="error")
        return Outcome("error", skill.id, clean, decision, reason, error=message,
                       approval_id=approval_id, error_type="failed", trust=trust, yolo=yolo,
                       exception=type(exc).__name__)
    took = round((time.perf_counter() - started) * 1000, 1)
    _audit(profile, events.SKILL_EXECUTED, actor,
           {**base, "duration_ms": took, "result": skill.audit_summary(result)})
    return Outcome("ok", skill.id, clean, decision, reason, result=result,
                   approval_id=approval_id, trust=trust, yolo=yolo)


def prepare_approved(profile: Profile, item: dict) -> tuple[Skill, BaseModel, str] | Outcome:
    """Re-check a queued call at approval time: it must still validate, and policy and sandbox
    must still allow it at the *current* trust. Returns (skill, args model, trust) or a denial."""
    actor = str(item.get("requested_by") or "agent")
    yolo = bool(item.get("yolo"))
    trust = profile.trust()
    try:
        skill = get_skill(str(item.get("skill")))
        model = skill.parse_args(item.get("args"))
    except (NotFound, ValidationFailed) as exc:
        return _fail_early(profile, str(item.get("skill")), item.get("args"), actor, trust, yolo,
                           exc.message, "bad_args", hint=exc.hint)
    clean = model.model_dump(mode="json")
    verdict = decide(skill, trust, actor=actor, yolo=yolo, args=clean,
                     origin=item.get("origin") or {})
    if verdict.decision == "deny":
        return _deny(profile, skill.id, clean, actor, trust, yolo,
                     f"denied at approval time: {verdict.reason}",
                     extra={"approval_id": item.get("id")})
    if skill.precheck is not None:
        try:
            skill.precheck(profile, model)
        except SandboxViolation as exc:
            return _deny(profile, skill.id, clean, actor, trust, yolo, exc.message, sandbox=True,
                         extra={"approval_id": item.get("id")}, hint=exc.hint)
    return skill, model, trust
