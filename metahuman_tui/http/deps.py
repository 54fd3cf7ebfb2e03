"""What every route needs: the profile, and one way to call a skill through the gate.

Every file and task action of the API is a skill call made as the person (actor "human"): the
guard has checked their token, so the request is their consent for "ask" decisions; a "deny" at
the current trust level stays a denial (403). The gate audits the decision and the execution.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import Request

from .errors import ApiError

ACTOR = "human"
ORIGIN = {"via": "api"}


def get_profile(request: Request):
    return request.app.state.profile


def run_skill(profile, skill_id: str, args: dict[str, Any]):
    """Execute through the gate; returns the Outcome (status ok|error|queued|denied)."""
    from metahuman_core.skills import execute

    return execute(profile, skill_id, args, actor=ACTOR, origin=dict(ORIGIN))


def outcome_error(outcome, *, what: str, diagnose: Callable[[], int | None] | None = None
                  ) -> ApiError:
    """Map a failed Outcome to an HTTP error with the seed's shape.

    Denials map the gate's `denied_by` (policy → "Insufficient trust level", sandbox →
    "Refused by the sandbox", validation → 400) and `hint` fields, never the message text, which
    may contain the caller's own words. The status of a refusal the core explained otherwise
    (an MHError) is found by `diagnose()` — the route looks at the state it asked about (does
    the file exist? is it a folder? does the task exist?). Unexpected exceptions (`exception`)
    are honest 500s."""
    reason = outcome.error or outcome.reason or "failed"
    if outcome.status == "denied":
        if outcome.denied_by == "policy":
            return ApiError(403, f"Insufficient trust level: {reason}", hint=outcome.hint,
                            skill=outcome.skill, trustLevel=outcome.trust)
        return ApiError(403, f"Refused by the sandbox: {reason}", hint=outcome.hint,
                        skill=outcome.skill)
    if outcome.status == "queued":  # not reachable for the human actor; kept honest anyway
        return ApiError(202, f"{what} is waiting for approval {outcome.approval_id}",
                        approvalId=outcome.approval_id)
    if outcome.error_type == "unknown_skill":
        return ApiError(503, f"Skill {outcome.skill} is not available", skill=outcome.skill)
    if outcome.denied_by == "validation":
        return ApiError(400, f"Invalid parameters: {_first_line(reason)}", hint=outcome.hint)
    if outcome.exception:
        detail = reason.removeprefix(f"{outcome.skill} failed: ")
        return ApiError(500, f"{what} failed: file system or internal error: {detail}"[:600])
    status = None
    if diagnose is not None:
        try:
            status = diagnose()
        except Exception:
            status = None
    return ApiError(status or 400, f"{what} failed: {_first_line(reason)}", hint=outcome.hint)


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]
