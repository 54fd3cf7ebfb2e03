"""Who may run which skill, and when a person must say yes first (DESIGN §7).

One pure function, `decide`, used by the gate at call time *and* again at approval time, so a
lowered trust level takes effect at once. The rules, in order:

1. trust < skill.min_trust → deny. Nothing lifts this: not the actor, not YOLO.
2. The trust × risk table gives run / ask. YOLO reads the table one row up (never past
   adaptive_auto); it never changes rule 1 and never touches the sandbox.
3. The always-ask class asks whatever the row says, YOLO included. Of the skills we ship, only
   one call can fall in it: a `web_search` whose caller marks its origin with
   `{"carries_memory_text": true}` (the query carries text taken from the person's memories, an
   exfiltration channel). The caller knows where its text came from; the gate cannot guess it
   reliably, so it trusts an explicit flag and keeps the rule simple. Deleting outside `out/` is
   impossible in the sandbox and no skill spends money, so those members of the class have no
   skill to guard today.
4. The actor rule: a request the person makes directly (actor "human": a CLI command, a TUI button,
   an API call with their token) is their consent, so "ask" becomes "run". "deny" stays "deny".
   Every other actor (operator, agents, "agent") gets the full table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .identity import TRUST_LEVELS, trust_rank, validate_trust

RISKS = ("low", "medium", "high")
HUMAN = "human"

# trust (table row) -> risk -> decision; the DESIGN §7 table, verbatim.
TABLE: dict[str, dict[str, str]] = {
    "observe": {"low": "run", "medium": "ask", "high": "ask"},
    "suggest": {"low": "run", "medium": "ask", "high": "ask"},
    "supervised_auto": {"low": "run", "medium": "ask", "high": "ask"},
    "bounded_auto": {"low": "run", "medium": "run", "high": "ask"},
    "adaptive_auto": {"low": "run", "medium": "run", "high": "run"},
}


@dataclass(frozen=True)
class Decision:
    decision: str  # run | ask | deny
    reason: str
    trust: str = ""
    row: str = ""  # the table row used (trust, or one up with YOLO)
    yolo: bool = False
    always_ask: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def yolo_row(trust: str) -> str:
    """The row YOLO reads: one level up, capped at the top."""
    return TRUST_LEVELS[min(trust_rank(trust) + 1, len(TRUST_LEVELS) - 1)]


def is_human(actor: str) -> bool:
    return actor == HUMAN


def decide(skill: Any, trust: str, *, actor: str, yolo: bool = False,
           args: dict | None = None, origin: dict | None = None) -> Decision:
    """run / ask / deny for one call of `skill` (a Skill or a skill id) at `trust`."""
    if isinstance(skill, str):
        from .skills.registry import get_skill

        skill = get_skill(skill)
    validate_trust(trust)
    if skill.risk not in RISKS:
        raise ValueError(f"skill {skill.id}: unknown risk {skill.risk!r}")
    yolo = bool(yolo)
    if trust_rank(trust) < trust_rank(skill.min_trust):
        return Decision("deny", f"{skill.id} needs trust level {skill.min_trust} or higher; "
                                f"the current trust level is {trust}"
                                + (" (YOLO never enables a skill above the trust level)"
                                   if yolo else ""), trust=trust, row=trust, yolo=yolo)
    row = yolo_row(trust) if yolo else trust
    verdict = TABLE[row][skill.risk]
    where = f"{skill.risk}-risk skill at {row}" + (" (YOLO: one level up)" if yolo else "")
    reason = f"{where}: {'runs' if verdict == 'run' else 'asks for approval'}"
    always = skill.always_ask_reason(args or {}, origin or {})
    if always:
        verdict = "ask"
        reason = f"always asks: {always}" + (" (YOLO does not lift this)" if yolo else "")
    if verdict == "ask" and is_human(actor):
        return Decision("run", f"{reason}; your direct request is your approval", trust=trust,
                        row=row, yolo=yolo, always_ask=bool(always))
    return Decision(verdict, reason, trust=trust, row=row, yolo=yolo, always_ask=bool(always))
