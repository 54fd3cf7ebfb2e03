"""A gate Outcome as an MCP tool result: text for the assistant to read, structured data for
programs, `is_error` for refusals — and never a secret.

Queued calls are not errors: the assistant should tell the person that the call waits for their
approval, with the id and the exact ways to approve it. Denials and bad arguments are errors
whose text says why and what to do, so the assistant can correct itself or explain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from metahuman_core.config_models import MCP_SERVER_TOOLS
from metahuman_core.profile import Profile

STATUS_TOOL = MCP_SERVER_TOOLS[0]  # the MCP face's own tool (session.py); not a skill


@dataclass
class Shaped:
    text: str
    structured: dict[str, Any] = field(default_factory=dict)
    is_error: bool = False


def _secrets(profile: Profile) -> list[str]:
    """Every secret value this process knows: the profile's etc/secrets/ files (the API token),
    the secret environment variables and registered values (the core's one list)."""
    from metahuman_core import redact

    redact.register_profile_secrets(profile)
    return redact.secret_values()


def scrub(value: Any, secrets: list[str]) -> Any:
    """`value` with every secret replaced by [redacted] (the core's scrubber)."""
    from metahuman_core.redact import scrub_secrets

    return scrub_secrets(value, secrets)


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def shape(profile: Profile, outcome: Any) -> Shaped:
    secrets = _secrets(profile)
    shaped = _shape(profile, outcome)
    shaped.text = scrub(shaped.text, secrets)
    shaped.structured = scrub(_json(shaped.structured), secrets)
    return shaped


def _shape(profile: Profile, outcome: Any) -> Shaped:
    hint = getattr(outcome, "hint", None)
    if outcome.status == "ok":
        result = outcome.result if isinstance(outcome.result, dict) else {"result": outcome.result}
        return Shaped(json.dumps(result, indent=2, ensure_ascii=False, default=str), result)
    if outcome.status == "queued":
        return _queued(profile, outcome)
    if outcome.status == "denied":
        by = getattr(outcome, "denied_by", None) or "policy"
        text = f"Denied ({by}): {outcome.reason}"
        if hint:
            text += f"\nHint for the person: {hint}"
        text += "\nNothing was done."
        return Shaped(text, {"status": "denied", "skill": outcome.skill, "denied_by": by,
                             "reason": outcome.reason, "hint": hint, "trust": outcome.trust},
                      is_error=True)
    kind = outcome.error_type or "failed"
    message = outcome.error or outcome.reason
    if kind == "bad_args":
        text = f"Invalid arguments: {message}"
    elif kind == "unknown_skill":
        text = f"Unknown tool: {message}"
    else:
        text = f"Failed: {message}"
    return Shaped(text, {"status": "error", "error_type": kind, "skill": outcome.skill,
                         "error": message, "hint": hint}, is_error=True)


def _queued(profile: Profile, outcome: Any) -> Shaped:
    approval_id = outcome.approval_id
    expires = None
    try:
        from metahuman_core.approvals import ApprovalQueue

        expires = ApprovalQueue(profile).get(approval_id).get("expires_at")
    except Exception:  # noqa: BLE001 - the id is what matters; the expiry is a courtesy
        expires = None
    approve = f"mh approvals approve {approval_id}"
    reject = f"mh approvals reject {approval_id} --reason \"...\""
    text = (f"Waiting for approval: {outcome.skill} was queued as {approval_id} "
            f"({outcome.reason}). Nothing has been done yet.\n"
            f"Ask the person to approve it in MetaHuman: the TUI's Approvals pane, or run\n"
            f"  {approve}\n"
            f"(or refuse it with: {reject})."
            + (f" The request expires at {expires}." if expires else "")
            + f"\nOnce the person has decided, call {STATUS_TOOL} with approval_id "
              f"\"{approval_id}\" to learn the outcome (the result, or why not). Do not call it "
              "in a loop, and do not call the tool again: that queues a second request.")
    return Shaped(text, {"status": "queued", "skill": outcome.skill, "approval_id": approval_id,
                         "reason": outcome.reason, "trust": outcome.trust, "expires_at": expires,
                         "approve_with": approve, "reject_with": reject,
                         "status_with": {"tool": STATUS_TOOL,
                                         "arguments": {"approval_id": approval_id}}})


def approval_view(view: dict[str, Any]) -> Shaped:
    """An approval's compact view (ApprovalQueue.status_for, already scrubbed) as a result."""
    aid, skill, status = view.get("id"), view.get("skill"), view.get("status")
    by = f" by {view['decided_by']}" if view.get("decided_by") else ""
    when = f" at {view['decided_at']}" if view.get("decided_at") else ""
    why = f": {view['reason']}" if view.get("reason") else ""
    if status == "pending":
        text = (f"{aid} ({skill}) is still waiting for the person's approval; it expires at "
                f"{view.get('expires_at')}. Nothing has been done yet. Remind the person if "
                "needed; do not check again in a loop.")
    elif status == "executed":
        result = json.dumps(view.get("result"), indent=2, ensure_ascii=False, default=str)
        text = f"{aid} ({skill}) was approved{by}{when} and executed. Result:\n{result}"
    elif status == "rejected":
        text = f"{aid} ({skill}) was rejected{by}{when}{why}. Nothing was done."
    elif status == "expired":
        text = (f"{aid} ({skill}) expired without a decision ({view.get('expires_at')}). "
                "Nothing was done; call the tool again if the person still wants it.")
    elif status == "failed":
        error = view.get("error") or view.get("reason")
        text = f"{aid} ({skill}) was approved{by}{when} but failed: {error}"
    else:  # "approved": the run was interrupted and will not be repeated
        text = (f"{aid} ({skill}) was approved{by}{when} but did not finish (interrupted); it "
                "will not run again. Ask the person to check the result.")
    return Shaped(text, dict(view))


def approval_error(approval_id: Any, exc: Any) -> Shaped:
    """A bad or unknown approval id as an error result (ValidationFailed / NotFound / MHError)."""
    from metahuman_core.errors import NotFound, ValidationFailed

    kind = ("bad_args" if isinstance(exc, ValidationFailed)
            else "not_found" if isinstance(exc, NotFound) else "failed")
    label = {"bad_args": "Invalid arguments", "not_found": "Not found"}.get(kind, "Failed")
    text = f"{label}: {STATUS_TOOL}: {exc.message}"
    if exc.hint:
        text += f"\nHint: {exc.hint}"
    return Shaped(text, {"status": "error", "error_type": kind, "skill": STATUS_TOOL,
                         "approval_id": approval_id if isinstance(approval_id, str) else None,
                         "error": exc.message, "hint": exc.hint}, is_error=True)


def refused_by_config(name: str, reason: str) -> Shaped:
    text = (f"Denied (mcp_config): {reason}. Nothing was done.\nHint for the person: enable it "
            f"with `mh config set mcp.allowedTools '[\"*\"]'` (or list {name}) if you mean to.")
    return Shaped(text, {"status": "denied", "skill": name, "denied_by": "mcp_config",
                         "reason": reason}, is_error=True)
