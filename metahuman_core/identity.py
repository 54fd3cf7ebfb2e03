"""Persona files (persona/*.json) and the trust level, which lives in decision-rules.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import clock
from .errors import ConfigError, CorruptFile, ValidationFailed
from .storage import atomic_write_json, read_json

PERSONA_FILES = ("core", "relationships", "routines", "decision-rules")
TRUST_LEVELS = ("observe", "suggest", "supervised_auto", "bounded_auto", "adaptive_auto")
DEFAULT_TRUST = "supervised_auto"


def trust_rank(level: str) -> int:
    return TRUST_LEVELS.index(level)


def validate_trust(level: str) -> str:
    if level not in TRUST_LEVELS:
        raise ValidationFailed(f"invalid trust level {level!r}",
                               hint="one of: " + ", ".join(TRUST_LEVELS))
    return level


class PersonaStore:
    def __init__(self, persona_dir: Path):
        self.dir = Path(persona_dir)

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
        validate_trust(level)
        rules = self.load("decision-rules")
        old = rules.get("trustLevel") or rules.get("trust_level") or DEFAULT_TRUST
        rules.pop("trust_level", None)
        rules["trustLevel"] = level
        self.save("decision-rules", rules)
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
        """`mh persona set identity.name "Greg"`: FILE is core unless the key names another file."""
        parts = [p for p in dotted.split(".") if p]
        if not parts or ".." in dotted:
            raise ValidationFailed(f"invalid persona key {dotted!r}", hint="e.g. identity.name")
        name = "core"
        if parts[0] in PERSONA_FILES and len(parts) > 1:
            name, parts = parts[0], parts[1:]
        data = self.load(name)
        node: Any = data
        for depth, key in enumerate(parts[:-1]):
            child = node.get(key) if isinstance(node, dict) else None
            if child is None:  # a typo (`identiy.name`) would create a section nobody reads
                where = ".".join(parts[:depth + 1])
                raise ValidationFailed(
                    f"{self.path(name)}: no section '{where}'",
                    hint=f"existing: {', '.join(k for k, v in node.items() if isinstance(v, dict))}"
                         f" (see: mh persona show --file {name})")
            if not isinstance(child, dict):
                raise ValidationFailed(f"{self.path(name)}: field '{key}' is not an object")
            node = child
        old = node.get(parts[-1]) if isinstance(node, dict) else None
        if old is not None and isinstance(old, (dict, list)) and not isinstance(value, type(old)):
            raise ValidationFailed(
                f"{self.path(name)}: field '{dotted}' holds a {type(old).__name__}; "
                f"refusing to replace it with a {type(value).__name__}")
        if name == "decision-rules" and parts[-1] in ("trustLevel", "trust_level"):
            validate_trust(value)
        if name == "core" and parts in (["identity", "name"], ["identity", "humanName"]) \
                and (not isinstance(value, str) or not value.strip()):
            raise ValidationFailed(f"{self.path(name)}: field '{dotted}' needs a non-empty name")
        node[parts[-1]] = value
        self.save(name, data)
        return name, old
