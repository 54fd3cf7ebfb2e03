"""Persona files (persona/*.json) and the trust level, which lives in decision-rules.json.

Every read-modify-write of a persona file holds an fcntl lock for its whole length (DESIGN §1.4):
two writers never lose each other's change, and an emergency `mh trust observe` is never undone by
a concurrent persona edit that read the file before it. Edits are checked against the persona
models (persona_schema); a trust change always goes through safeguards.set_trust (audited as a
security event), never as a plain persona field."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from . import clock
from .errors import ConfigError, CorruptFile, ValidationFailed
from .storage import atomic_write_json, file_lock, read_json

if TYPE_CHECKING:
    from .profile import Profile

PERSONA_FILES = ("core", "relationships", "routines", "decision-rules")
TRUST_LEVELS = ("observe", "suggest", "supervised_auto", "bounded_auto", "adaptive_auto")
DEFAULT_TRUST = "supervised_auto"
TRUST_KEYS = ("trustLevel", "trust_level")


def trust_rank(level: str) -> int:
    return TRUST_LEVELS.index(level)


def validate_trust(level: Any) -> str:
    if not isinstance(level, str) or level not in TRUST_LEVELS:
        raise ValidationFailed(f"invalid trust level {level!r}",
                               hint="one of: " + ", ".join(TRUST_LEVELS))
    return level


def split_persona_key(dotted: str) -> tuple[str, list[str]]:
    """`identity.name` -> ("core", ["identity", "name"]); `routines.sleep` -> ("routines", …)."""
    parts = [p for p in dotted.split(".") if p] if isinstance(dotted, str) else []
    if not parts or ".." in dotted or dotted.startswith(".") or dotted.endswith("."):
        raise ValidationFailed(f"invalid persona key {dotted!r}", hint="e.g. identity.name")
    if parts[0] in PERSONA_FILES and len(parts) > 1:
        return parts[0], parts[1:]
    return "core", parts


def is_trust_key(name: str, parts: list[str]) -> bool:
    """`trustLevel`, `decision-rules.trustLevel` (and the snake_case spelling)."""
    return len(parts) == 1 and parts[0] in TRUST_KEYS and name in ("core", "decision-rules")


class PersonaStore:
    def __init__(self, persona_dir: Path, lock_dir: Path | None = None):
        self.dir = Path(persona_dir)
        # locks live with the profile's other locks (logs/run/), not beside the persona files
        self.lock_dir = Path(lock_dir) if lock_dir else self.dir.parent / "logs" / "run"

    def lock(self, name: str) -> contextlib.AbstractContextManager[int]:
        """The write lock of persona/<name>.json (held across a whole read-modify-write)."""
        self.path(name)
        return file_lock(self.lock_dir / f"persona-{name}.lock")

    @contextlib.contextmanager
    def editing(self, name: str) -> Iterator[dict[str, Any]]:
        """Lock, read, let the caller change the dict, write (only if the block succeeds)."""
        with self.lock(name):
            data = self.load(name)
            yield data
            self.save(name, data)

    def path(self, name: str) -> Path:
        if name not in PERSONA_FILES:
            raise ValidationFailed(f"unknown persona file {name!r}",
                                   hint="one of: " + ", ".join(PERSONA_FILES))
        return self.dir / f"{name}.json"

    def load(self, name: str) -> dict[str, Any]:
        path = self.path(name)
        try:
            data = read_json(path)
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a JSON object at the top level")
        return data

    def save(self, name: str, data: dict[str, Any]) -> Path:
        data = dict(data)
        data["lastUpdated"] = clock.iso()
        path = self.path(name)
        atomic_write_json(path, data)
        return path

    def core(self) -> dict[str, Any]:
        return self.load("core")

    # ---- trust ---------------------------------------------------------------------------
    def trust_level(self) -> str:
        try:
            rules = self.load("decision-rules")
        except CorruptFile:
            return "observe"  # fail closed
        level = rules.get("trustLevel") or rules.get("trust_level") or DEFAULT_TRUST
        return level if level in TRUST_LEVELS else "observe"

    def set_trust_level(self, level: str) -> str:
        """Store the level (under the file's lock). Callers that change trust on someone's
        behalf use safeguards.set_trust, which also audits it."""
        validate_trust(level)
        with self.editing("decision-rules") as rules:
            old = rules.get("trustLevel") or rules.get("trust_level") or DEFAULT_TRUST
            rules.pop("trust_level", None)
            rules["trustLevel"] = level
        return old

    # ---- summary ---------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        core = self.core()
        ident = core.get("identity", {}) if isinstance(core.get("identity"), dict) else {}
        values = core.get("values", {}) if isinstance(core.get("values"), dict) else {}
        goals = core.get("goals", {}) if isinstance(core.get("goals"), dict) else {}
        return {
            "name": ident.get("name", ""),
            "role": ident.get("role", ""),
            "trustLevel": self.trust_level(),
            "coreValues": [v.get("value", "") if isinstance(v, dict) else str(v)
                           for v in values.get("core", [])],
            "shortTermGoals": [
                {"goal": g.get("goal", ""), "status": g.get("status", "")} if isinstance(g, dict)
                else {"goal": str(g), "status": ""} for g in goals.get("shortTerm", [])],
            "lastUpdated": core.get("lastUpdated"),
        }

    def set_field(self, dotted: str, value: Any) -> tuple[str, Any]:
        """`mh persona set identity.name "Greg"`: FILE is core unless the key names another file.
        Validated against the persona models and written under the file's lock. The trust level
        is refused here: use set_persona_field (routes it to safeguards) or `mh trust`."""
        from .persona_schema import apply_field

        name, parts = split_persona_key(dotted)
        if is_trust_key(name, parts):
            raise ValidationFailed("the trust level is not a plain persona field",
                                   hint="mh trust LEVEL (audited as a security change)")
        with self.editing(name) as data:
            old = apply_field(self.path(name), name, data, parts, value)
        return name, old


def set_persona_field(profile: Profile, dotted: str, value: Any, *, actor: str) -> dict[str, Any]:
    """The one way a face edits the persona: validated, locked, audited. A trust key is routed
    through safeguards.set_trust (security/warn when loosened). Returns {file, key, old, new,
    changed}."""
    from . import events
    from .safeguards import set_trust

    name, parts = split_persona_key(dotted)
    if is_trust_key(name, parts):
        old = set_trust(profile, validate_trust(value), actor=actor, via="persona set")
        return {"file": "persona/decision-rules.json", "key": "decision-rules.trustLevel",
                "old": old, "new": value, "changed": old != value}
    name, old = profile.persona.set_field(dotted, value)
    changed = old != value
    profile.audit.append(events.PERSONA_CHANGED, actor=actor,
                         details={"file": f"persona/{name}.json", "key": dotted,
                                  "changed": changed})
    return {"file": f"persona/{name}.json", "key": dotted, "old": old, "new": value,
            "changed": changed}
