"""Which model answers right now. Read at every call, never cached (DESIGN §8):
persona/overrides/active-adapter.json when present, valid and naming a model; else etc/agent.json.
Deleting the file is the seed's emergency rollback and takes effect at the next LLM call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import CorruptFile
from .storage import read_json

if TYPE_CHECKING:
    from .profile import Profile


def active_model(profile: Profile) -> dict[str, Any]:
    agent = profile.config.get("agent")
    base = {"model": agent.model, "source": "base", "backend": agent.backend, "adapter": None,
            "problem": None}
    path = profile.home.active_adapter
    try:
        data = read_json(path)
    except FileNotFoundError:
        return base
    except CorruptFile as exc:
        return {**base, "problem": f"{exc}; using the base model"}
    model = data.get("model") or data.get("modelName") if isinstance(data, dict) else None
    if not isinstance(model, str) or not model.strip():
        return {**base, "problem": f"{path}: no 'model' field; using the base model"}
    return {"model": model, "source": "adapter", "backend": agent.backend, "adapter": data,
            "problem": None}


def set_base_model(profile: Profile, name: str, *, actor: str) -> str:
    """Make `name` the base model (etc/agent.json `model`), audited as model_changed in the
    core so every face (CLI, chat /model, TUI, API) records it the same way. Returns the old
    name. Whether the server has the model is the caller's question (it may warn or refuse)."""
    from . import events
    from .config import validate_model_name

    validate_model_name(name)
    old = profile.config.get("agent").model
    profile.config.set_value("agent.model", name)
    profile.audit.append(events.MODEL_CHANGED, actor=actor, details={"from": old, "to": name})
    return old
