"""The skill registry: what each skill is, what it takes, how risky it is (DESIGN §7).

A skill's pydantic argument model is both the validator and, as JSON schema, what the LLM sees
for tool calling. Nothing here decides or runs anything on its own: every call goes through
`metahuman_core.skills.gate.execute`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import NotFound, ValidationFailed
from ..identity import TRUST_LEVELS

if TYPE_CHECKING:
    from ..profile import Profile


class Args(BaseModel):
    """Base of every argument model: unknown arguments are an error naming them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


@dataclass(frozen=True)
class Skill:
    id: str
    description: str
    args: type[BaseModel]
    risk: str  # low | medium | high
    min_trust: str
    fn: Callable[..., Any] = field(repr=False)  # fn(profile, args_model, actor) -> result
    category: str = "general"
    # precheck(profile, args_model): raise SandboxViolation before anything is decided or queued
    precheck: Callable[..., None] | None = field(default=None, repr=False)
    # always_ask(args: dict, origin: dict) -> reason | None (the always-ask class, see policy.py)
    always_ask: Callable[[dict, dict], str | None] | None = field(default=None, repr=False)
    # summary(result) -> small dict for the audit log (never file contents)
    summary: Callable[[Any], dict] | None = field(default=None, repr=False)

    def json_schema(self) -> dict:
        return self.args.model_json_schema()

    def tool_spec(self) -> dict:
        """The Ollama/OpenAI tool-calling shape."""
        return {"type": "function", "function": {
            "name": self.id, "description": self.description, "parameters": self.json_schema()}}

    def parse_args(self, args: Any) -> BaseModel:
        """Validate arguments; ValidationFailed names every bad argument."""
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise ValidationFailed(f"{self.id}: arguments must be a JSON object, got "
                                   f"{type(args).__name__}")
        try:
            return self.args.model_validate(args)
        except ValidationError as exc:
            raise ValidationFailed(f"{self.id}: " + "; ".join(_describe(e) for e in exc.errors()),
                                   hint=f"see: mh skills --json ({self.id} schema)") from None

    def always_ask_reason(self, args: dict, origin: dict) -> str | None:
        return self.always_ask(args, origin) if self.always_ask else None

    def audit_summary(self, result: Any) -> dict:
        if self.summary is not None:
            try:
                return self.summary(result)
            except Exception:  # a summary must never turn a success into a failure
                return {}
        if isinstance(result, dict):
            return {"keys": sorted(result)[:20]}
        if isinstance(result, list):
            return {"count": len(result)}
        return {}

    def run(self, profile: Profile, args: dict | BaseModel, *, actor: str = "agent") -> Any:
        """Run the function directly. Only the gate calls this: it has decided already."""
        model = args if isinstance(args, BaseModel) else self.parse_args(args)
        return self.fn(profile, model, actor)


def _describe(err: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()))
    if err.get("type") == "extra_forbidden":
        return f"unknown argument '{loc}'"
    if err.get("type") == "missing":
        return f"argument '{loc}' is required"
    return f"argument '{loc}': {err.get('msg')}"


_REGISTRY: dict[str, Skill] = {}


def register(skill: Skill) -> Skill:
    if skill.id in _REGISTRY:
        raise ValueError(f"skill {skill.id!r} registered twice")
    if skill.min_trust not in TRUST_LEVELS:
        raise ValueError(f"skill {skill.id}: unknown min_trust {skill.min_trust!r}")
    if skill.risk not in ("low", "medium", "high"):
        raise ValueError(f"skill {skill.id}: unknown risk {skill.risk!r}")
    _REGISTRY[skill.id] = skill
    return skill


def _load() -> None:
    # importing the modules registers their skills (once: modules are cached)
    from . import fs, git, memory, tasks, web  # noqa: F401


ORDER = ("fs_list", "fs_read", "git_status", "memory_search", "task_list", "task_find", "fs_write",
         "fs_mkdir", "web_search", "task_create", "task_update_status", "capture_memory", "fs_delete")


def list_skills() -> list[Skill]:
    """Every skill, in the order of the DESIGN §7 table (extra skills after, by id)."""
    _load()
    rank = {sid: i for i, sid in enumerate(ORDER)}
    return sorted(_REGISTRY.values(), key=lambda s: (rank.get(s.id, len(ORDER)), s.id))


def get_skill(skill_id: str) -> Skill:
    _load()
    try:
        return _REGISTRY[skill_id]
    except (KeyError, TypeError):
        raise NotFound(f"unknown skill {skill_id!r}",
                       hint="known skills: " + ", ".join(_REGISTRY)) from None
