"""The shape of persona/*.json, as pydantic models: what `mh persona set` may create and what a
value must look like. Unknown keys already in a file are kept (extra="allow"; people add their
own), but a key the schema does not know is never *created* (a typo would be kept and ignored
forever), exactly like `mh config set`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TrustLevel = Literal["observe", "suggest", "supervised_auto", "bounded_auto", "adaptive_auto"]


class _P(BaseModel):
    model_config = ConfigDict(extra="allow")


class Identity(_P):
    name: str = ""
    role: str = ""
    purpose: str = ""
    humanName: str = ""
    aliases: list[str] = Field(default_factory=list)  # other names the person goes by (imports)

    @field_validator("name", "humanName")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("needs a non-empty name")
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        if any(not a.strip() for a in value):
            raise ValueError("aliases must be non-empty names")
        return value


class CommunicationStyle(_P):
    tone: list[str] | str = Field(default_factory=list)
    humor: str = ""
    formality: str = ""
    verbosity: str = ""


class Traits(_P):
    openness: float | None = Field(default=None, ge=0, le=1)
    conscientiousness: float | None = Field(default=None, ge=0, le=1)
    extraversion: float | None = Field(default=None, ge=0, le=1)
    agreeableness: float | None = Field(default=None, ge=0, le=1)
    neuroticism: float | None = Field(default=None, ge=0, le=1)


class WorkStyle(_P):
    approach: list[str] = Field(default_factory=list)
    preferences: list[str] = Field(default_factory=list)
    energyPeaks: list[str] = Field(default_factory=list)
    focusLength: str = ""


class Personality(_P):
    communicationStyle: CommunicationStyle = Field(default_factory=CommunicationStyle)
    traits: Traits = Field(default_factory=Traits)
    workStyle: WorkStyle = Field(default_factory=WorkStyle)


class Values(_P):
    core: list[dict[str, Any] | str] = Field(default_factory=list)
    boundaries: list[str] = Field(default_factory=list)


class Goals(_P):
    shortTerm: list[dict[str, Any] | str] = Field(default_factory=list)
    midTerm: list[dict[str, Any] | str] = Field(default_factory=list)
    longTerm: list[dict[str, Any] | str] = Field(default_factory=list)


class Context(_P):
    domains: list[str] = Field(default_factory=list)
    projects: list[Any] = Field(default_factory=list)
    currentFocus: list[Any] = Field(default_factory=list)


class PersonaCore(_P):
    version: str = "1.0"
    lastUpdated: str | None = None
    notes: str = ""
    identity: Identity = Field(default_factory=Identity)
    personality: Personality = Field(default_factory=Personality)
    values: Values = Field(default_factory=Values)
    goals: Goals = Field(default_factory=Goals)
    context: Context = Field(default_factory=Context)


class Relationships(_P):
    version: str = "1.0"
    lastUpdated: str | None = None
    relationships: list[Any] = Field(default_factory=list)
    contacts: list[Any] = Field(default_factory=list)
    socialCircles: list[Any] = Field(default_factory=list)


class Routines(_P):
    version: str = "1.0"
    lastUpdated: str | None = None
    sleep: dict[str, Any] = Field(default_factory=dict)
    work: dict[str, Any] = Field(default_factory=dict)
    energy: dict[str, Any] = Field(default_factory=dict)
    habits: list[Any] = Field(default_factory=list)


class DecisionRules(_P):
    version: str = "1.0"
    lastUpdated: str | None = None
    trustLevel: TrustLevel = "supervised_auto"
    availableModes: list[str] = Field(default_factory=list)
    modeDescription: dict[str, str] = Field(default_factory=dict)


PERSONA_MODELS: dict[str, type[_P]] = {
    "core": PersonaCore,
    "relationships": Relationships,
    "routines": Routines,
    "decision-rules": DecisionRules,
}
TRUST_KEYS = ("trustLevel", "trust_level")


def apply_field(path: Path, name: str, data: dict[str, Any], parts: list[str], value: Any) -> Any:
    """Set data[parts…] = value in persona/<name>.json's dict after checking it against the
    model; returns the old value. Refuses (ValidationFailed naming file and field, nothing
    changed): an unknown key (the valid ones listed), a list/object replaced by a scalar, a
    value of the wrong type. Fields elsewhere in the file are not re-judged."""
    from .errors import ValidationFailed

    model = PERSONA_MODELS[name]
    _check_known(model, parts, data, path)
    node: Any = data
    for depth, key in enumerate(parts[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}  # a section the schema knows (checked above)
        if not isinstance(child, dict):
            raise ValidationFailed(f"{path}: field '{'.'.join(parts[:depth + 1])}' is not an object")
        node = child
    old = node.get(parts[-1])
    dotted = ".".join(parts)
    if isinstance(old, (dict, list)) and not isinstance(value, type(old)):
        raise ValidationFailed(
            f"{path}: field '{dotted}' holds a {'list' if isinstance(old, list) else 'object'}; "
            f"refusing to replace it with {type(value).__name__} (use --json for a JSON value)")
    node[parts[-1]] = value
    try:
        model.model_validate(data)
    except ValidationError as exc:
        mine = [e for e in exc.errors()
                if [str(p) for p in e.get("loc", ())][:len(parts)] == parts
                or parts[:len(e.get("loc", ()))] == [str(p) for p in e.get("loc", ())]]
        if mine:
            if old is None:
                node.pop(parts[-1], None)
            else:
                node[parts[-1]] = old
            loc = ".".join(str(p) for p in mine[0].get("loc", ())) or dotted
            raise ValidationFailed(f"{path}: field '{loc}': {mine[0].get('msg')}") from None
    return old


def _check_known(model: type[BaseModel], parts: list[str], raw: Any, path: Path) -> None:
    """Refuse to create a key the schema does not know; keys already in the file are fine."""
    from .config import _model_of
    from .errors import ValidationFailed

    node: type[BaseModel] | None = model
    for depth, key in enumerate(parts):
        raw = raw.get(key) if isinstance(raw, dict) else None
        if node is None:
            continue
        field = node.model_fields.get(key)
        if field is None and raw is None:
            where = ".".join(parts[:depth + 1])
            what = "no section" if depth < len(parts) - 1 else "unknown field"
            raise ValidationFailed(f"{path}: {what} '{where}'",
                                   hint="valid here: " + ", ".join(node.model_fields))
        node = _model_of(field.annotation) if field is not None else None
