"""Changing the safeguards: the trust level and the YOLO switch. One place, so every face (CLI,
chat REPL, TUI, API) records the change the same way: security category, `warn` when loosened."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import events
from .identity import trust_rank, validate_trust

if TYPE_CHECKING:
    from .profile import Profile


def set_trust(profile: Profile, level: str, *, actor: str, via: str | None = None) -> str:
    """Store the new trust level (effective at the next gate decision) and audit it.
    Returns the previous level. Raises ValidationFailed for an unknown level."""
    validate_trust(level)
    old = profile.trust()
    if level == old:
        return old
    profile.persona.set_trust_level(level)
    details = {"from": old, "to": level}
    if via:
        details["via"] = via
    profile.audit.append(events.TRUST_CHANGED, category="security", actor=actor,
                         level="warn" if trust_rank(level) > trust_rank(old) else "info",
                         details=details)
    return old


def record_yolo(profile: Profile, on: bool, *, actor: str, via: str | None = None) -> None:
    """YOLO is a per-session switch (never stored); turning it on or off is always audited."""
    details = {"yolo": on, "trust": profile.trust()}
    if via:
        details["via"] = via
    profile.audit.append(events.YOLO_CHANGED, category="security",
                         level="warn" if on else "info", actor=actor, details=details)
