"""One MCP connection: who the client is, what it may see, at which trust, and its audit trail.

Why a class of its own: the rules of a session (actor `mcp:<client>`, the tools etc/mcp.json
allows, the trust cap) must be the same for tools and resources, and known before the first
call. Nothing here imports the MCP SDK; `server.py` turns what this returns into MCP types.

An MCP client is not the person: every call goes through the gate with the full trust × risk
table (policy.py treats every actor other than "human" so), and a client's caps only ever
lower the profile's trust, never raise it.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from metahuman_core import events
from metahuman_core.identity import trust_rank
from metahuman_core.profile import Profile

from .results import STATUS_TOOL, Shaped, approval_error, approval_view, refused_by_config, shape

ACTOR_PREFIX = "mcp"
APPROVAL_PREFIX = "approval://"
STATUS_SPEC: dict[str, Any] = {
    "name": STATUS_TOOL,
    "description": (
        "What became of one of your own calls that returned \"queued\" (waiting for the "
        "person's approval): pending, executed (with the skill's result), rejected (with the "
        "person's reason), expired or failed. Use it after the person says they decided, or "
        "once when you pick the task up again; do not poll it in a tight loop. Only shows "
        "requests this client made."),
    "input_schema": {
        "type": "object", "additionalProperties": False, "required": ["approval_id"],
        "properties": {"approval_id": {
            "type": "string", "description": "the approval_id from the queued call's result, "
                                             "like apr-20251019-160500-1a2b3c4d"}}},
    "annotations": {"title": "approval status", "read_only_hint": True,
                    "destructive_hint": False, "open_world_hint": False},
}
_SLUG_RE = re.compile(r"[^a-z0-9._-]+")


def client_slug(name: Any) -> str | None:
    """A client name as an actor suffix: "Claude Desktop" -> "claude-desktop" (≤ 40 chars)."""
    if not isinstance(name, str):
        return None
    slug = _SLUG_RE.sub("-", name.strip().lower()).strip("-.")[:40].strip("-.")
    return slug or None


class CappedProfile(Profile):
    """The profile as one client sees it: same home, services and audit chain, but `trust()`
    never above the cap. The gate reads `profile.trust()` on every call, so the cap applies to
    the decision and is what the audit lines record."""

    def __init__(self, base: Profile, cap: str | None):
        super().__init__(base.home)
        for name in ("config", "persona", "audit"):  # share, never reopen (one audit writer)
            self.__dict__[name] = getattr(base, name)
        self.base, self.cap = base, cap

    def trust(self) -> str:
        level = self.base.trust()
        if self.cap is not None and trust_rank(self.cap) < trust_rank(level):
            return self.cap
        return level


@dataclass(frozen=True)
class Rules:
    allowed: tuple[str, ...]  # skill ids this client may see and call, in registry order
    cap: str | None           # the lowest of the global and the client's trustCap


def rules_for(cfg: Any, client: str | None) -> Rules:
    """A client's settings only narrow the global ones (tools: intersection; cap: the lower)."""
    from metahuman_core.skills import list_skills

    every = [s.id for s in list_skills()]

    def pick(names: list[str] | None) -> set[str]:
        return set(every) if names is None or "*" in names else set(names)

    per = cfg.clients.get(client) if client else None
    allowed = pick(cfg.allowedTools) & pick(per.allowedTools if per else None)
    caps = [c for c in (cfg.trustCap, per.trustCap if per else None) if c]
    cap = min(caps, key=trust_rank) if caps else None
    return Rules(tuple(s for s in every if s in allowed), cap)


class McpSession:
    """Tools and resources for one client, through the gate, audited from start to end."""

    def __init__(self, profile: Profile, *, client: str | None = None, transport: str = "stdio"):
        self.base = profile
        self.config = profile.config.get("mcp")  # a bad etc/mcp.json fails here, at start
        self.transport = transport
        self.forced = client_slug(client)  # `mh mcp --client NAME`: the person's name for it
        self.client = self.forced
        self.reported: dict[str, Any] = {}
        self.started = False
        self.ended = False
        self.counts: Counter[str] = Counter()
        self._t0 = time.monotonic()
        self._apply()

    # ------------------------------------------------------------------ identity
    @property
    def actor(self) -> str:
        return f"{ACTOR_PREFIX}:{self.client}" if self.client else ACTOR_PREFIX

    @property
    def enabled(self) -> bool:
        return bool(self.config.enabled)

    def _apply(self) -> None:
        self.rules = rules_for(self.config, self.client)
        self.profile = CappedProfile(self.base, self.rules.cap)

    def identify(self, name: str | None = None, version: str | None = None,
                 protocol: str | None = None) -> None:
        """First contact (the initialize handshake's clientInfo): fix the actor, audit the start.
        Called on every request; only the first call does anything."""
        if self.started:
            return
        self.started = True
        self.reported = {"name": name, "version": version, "protocol": protocol}
        if self.forced is None:
            self.client = client_slug(name)
            self._apply()
        self._audit(events.MCP_SESSION_STARTED, {
            "client": self.client, "reported_client": name, "client_version": version,
            "protocol": protocol, "transport": self.transport, "pid": os.getpid(),
            "trust": self.base.trust(), "trust_cap": self.rules.cap,
            "effective_trust": self.profile.trust(), "tools": list(self.rules.allowed)})

    def end(self, reason: str = "client closed the connection") -> None:
        if self.ended:
            return
        self.identify()  # a client that never sent a request still gets a start line
        self.ended = True
        self._audit(events.MCP_SESSION_ENDED, {
            "client": self.client, "reason": reason,
            "duration_s": round(time.monotonic() - self._t0, 3),
            "calls": self.counts["calls"], "ok": self.counts["ok"],
            "queued": self.counts["queued"], "denied": self.counts["denied"],
            "errors": self.counts["error"], "resource_reads": self.counts["reads"]})

    def _audit(self, event: str, details: dict, *, category: str = "system",
               level: str = "info") -> None:
        self.base.audit.append(event, level=level, category=category, actor=self.actor,
                               details=details)

    # ------------------------------------------------------------------ tools
    def tool_specs(self) -> list[dict[str, Any]]:
        """name, description, inputSchema (the pydantic model's JSON schema), annotations; then
        approval_status, whatever allowedTools says (it only shows this client's requests)."""
        from metahuman_core.skills import get_skill

        specs = []
        for sid in self.rules.allowed:
            skill = get_skill(sid)
            specs.append({"name": skill.id, "description": skill.description,
                          "input_schema": skill.json_schema(), "annotations": _hints(skill)})
        return [*specs, STATUS_SPEC]

    def call(self, name: str, arguments: dict[str, Any] | None) -> Shaped:
        """One tools/call through the gate (blocking: the server runs it in a worker thread)."""
        from metahuman_core.skills import execute, list_skills

        self.counts["calls"] += 1
        if name == STATUS_TOOL:
            return self.approval_status(arguments)
        if name in {s.id for s in list_skills()} and name not in self.rules.allowed:
            self.counts["denied"] += 1
            reason = f"{name} is not enabled for this client (etc/mcp.json allowedTools)"
            self._audit(events.SKILL_DENIED, {
                "skill": name, "trust": self.profile.trust(), "reason": reason,
                "denied_by": "mcp_config", "origin": self.origin()},
                category="security", level="warn")
            return refused_by_config(name, reason)
        outcome = execute(self.profile, name, arguments if arguments is not None else {},
                          actor=self.actor, origin=self.origin())
        self.counts[outcome.status] += 1
        return shape(self.profile, outcome)

    def origin(self) -> dict[str, Any]:
        return {"via": "mcp", "client": self.client, "transport": self.transport}

    # ------------------------------------------------------------------ approvals
    def approval(self, approval_id: Any) -> dict[str, Any]:
        """The compact view of one of this client's approvals (the core decides who sees what:
        NotFound for anyone else's; ValidationFailed naming approval_id for a bad id)."""
        from metahuman_core.approvals import ApprovalQueue
        from metahuman_core.errors import ValidationFailed

        if not isinstance(approval_id, str):
            raise ValidationFailed(
                "argument 'approval_id' is required (a string)" if approval_id is None else
                f"invalid approval_id: {approval_id!r} is not a string",
                hint="pass the approval_id from the queued call's result")
        return ApprovalQueue(self.base).status_for(approval_id, self.actor)

    def approval_status(self, arguments: dict[str, Any] | None) -> Shaped:
        """The approval_status tool: one audited read of approval://<id>."""
        from metahuman_core.errors import MHError, ValidationFailed

        args = arguments or {}
        approval_id = args.get("approval_id")
        uri = f"{APPROVAL_PREFIX}{'' if approval_id is None else approval_id}"
        try:
            extra = sorted(set(args) - {"approval_id"})
            if extra:
                raise ValidationFailed(f"unknown argument {extra[0]!r}; the only argument is "
                                       "'approval_id'")
            view = self.approval(approval_id)
        except MHError as exc:
            self.counts["error"] += 1
            self.note_read(uri, False, exc.message, via="tool")
            return approval_error(approval_id, exc)
        self.counts["ok"] += 1
        self.note_read(uri, True, via="tool")
        return approval_view(view)

    # ------------------------------------------------------------------ resources
    def note_read(self, uri: str, ok: bool, error: str | None = None, *,
                  via: str = "resource") -> None:
        self.counts["reads"] += 1
        details: dict[str, Any] = {"uri": uri, "ok": ok, "trust": self.profile.trust(),
                                   "via": via}
        if error:
            details["error"] = error
        self._audit(events.MCP_RESOURCE_READ, details, category="action", level="info" if ok else "warn")


def _hints(skill: Any) -> dict[str, Any]:
    """MCP tool annotations from the skill's risk: clients show them next to the tool."""
    reads = skill.risk == "low" and skill.min_trust == "observe"
    return {"title": skill.id.replace("_", " "), "read_only_hint": reads,
            "destructive_hint": skill.risk == "high",
            "open_world_hint": skill.category == "network"}
