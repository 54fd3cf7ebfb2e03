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

from metahuman_core.profile import Profile


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
            + (f" The request expires at {expires}." if expires else ""))
    return Shaped(text, {"status": "queued", "skill": outcome.skill, "approval_id": approval_id,
                         "reason": outcome.reason, "trust": outcome.trust, "expires_at": expires,
                         "approve_with": approve, "reject_with": reject})


def refused_by_config(name: str, reason: str) -> Shaped:
    text = (f"Denied (mcp_config): {reason}. Nothing was done.\nHint for the person: enable it "
            f"with `mh config set mcp.allowedTools '[\"*\"]'` (or list {name}) if you mean to.")
    return Shaped(text, {"status": "denied", "skill": name, "denied_by": "mcp_config",
                         "reason": reason}, is_error=True)
