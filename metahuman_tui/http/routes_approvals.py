"""GET|POST /api/approvals: the pending skill calls, and the person's decision on one of them.

Approving goes through `ApprovalQueue.approve`, which re-checks the arguments' hash and the
policy at the current trust level before executing (the original approved blindly ⚠). A
rejection needs a reason: it is carried back to the planner that asked.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from metahuman_core.ids import validate_approval_id

from .deps import ACTOR, get_profile
from .errors import ApiError
from .schemas import ApprovalDecisionRequest, ApprovalDecisionResponse, ApprovalsResponse

router = APIRouter(tags=["approvals"])


def _queue(profile):
    from metahuman_core.approvals import ApprovalQueue

    return ApprovalQueue(profile)


@router.get("/api/approvals", response_model=ApprovalsResponse,
            summary="Skill executions waiting for approval")
def list_approvals(
    status: Literal["pending", "approved", "rejected", "expired", "executed", "failed", "all"]
    = Query("pending", description="Which items (default: pending)."),
    profile=Depends(get_profile),
) -> dict:
    queue = _queue(profile)
    items = queue.list(None if status == "all" else status)
    out = {"approvals": items, "status": status}
    if queue.corrupt:  # unreadable files, named (also listed as status "corrupt" with --all)
        out["problems"] = queue.corrupt
    return out


@router.post("/api/approvals", response_model=ApprovalDecisionResponse,
             responses={404: {"description": "No such approval"},
                        409: {"description": "Already decided, or refused at approval time"}},
             summary="Approve or reject a skill execution")
def decide_approval(body: ApprovalDecisionRequest, profile=Depends(get_profile)) -> dict:
    from metahuman_core.approvals import ApprovalNotPending

    approval_id = validate_approval_id(body.id)
    queue = _queue(profile)
    try:
        if body.action == "approve":
            item = queue.approve(approval_id, by=ACTOR)
        else:
            if not body.reason or not body.reason.strip():
                raise ApiError(400, "A rejection needs a reason",
                               hint='send {"id": "...", "action": "reject", "reason": "why not"}')
            item = queue.reject(approval_id, by=ACTOR, reason=body.reason)
    except ApprovalNotPending as exc:
        raise ApiError(409, exc.message, hint=exc.hint) from None
    if body.action == "approve" and item.get("status") != "executed":
        raise ApiError(409, f"Approval {approval_id} ended as {item.get('status')}: "
                            f"{item.get('error') or item.get('reason') or 'not executed'}",
                       approval=item)
    out = {"success": True, "approval": item}
    if body.action == "approve":
        out["result"] = item.get("result")
    return out
