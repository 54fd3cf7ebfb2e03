"""What in persona/core.json the person actually wrote, as opposed to the shipped template.

Why: `mh init` copies a template persona ("Alex, Software engineer", honesty/privacy/craft…). A
person who never edits it would otherwise train every adapter to say "I'm Alex, software
engineer" and carry Alex's name in the system prompt (issue 21). Here every value that still
equals the template's value at the same place counts as not written by the person: it gives no
anchor pair and no name. Also the one place that builds the training system prompt, so training
and the activated model use the same words.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from .shapes import as_dict

_UNSET = object()


def shipped_core() -> dict[str, Any]:
    """The template persona as shipped (package data via profile.TEMPLATE_ROOT)."""
    from ..profile import TEMPLATE_ROOT

    try:
        data = json.loads((TEMPLATE_ROOT / "persona" / "core.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _strip(value: Any, template: Any) -> Any:
    """`value` without what equals `template` (dicts per key, lists per item)."""
    if template is _UNSET:
        return value
    if isinstance(value, dict) and isinstance(template, dict):
        out = {}
        for key, item in value.items():
            kept = _strip(item, template.get(key, _UNSET))
            if kept is not _UNSET:
                out[key] = kept
        return out if out else _UNSET
    if isinstance(value, list) and isinstance(template, list):
        kept_items = [item for item in value if item not in template]
        return kept_items if kept_items else _UNSET
    return _UNSET if value == template else value


def personal_core(core: dict[str, Any], template: dict[str, Any] | None = None) -> dict[str, Any]:
    """core.json with every value the person left as shipped removed."""
    template = shipped_core() if template is None else template
    kept = _strip(core if isinstance(core, dict) else {}, template or _UNSET)
    return kept if isinstance(kept, dict) else {}


def person_name(profile, speaker: str | None = None) -> str | None:
    """The person's name: core.json's if they set it, else the speaker name of their imported
    chats (issue 20), else None (never the template's)."""
    ident = as_dict(personal_core(profile.persona.core()).get("identity"))
    for key in ("name", "humanName"):
        if isinstance(ident.get(key), str) and ident[key].strip():
            return ident[key].strip()
    return speaker.strip() if isinstance(speaker, str) and speaker.strip() else None


def main_speaker(pairs: list[dict[str, Any]]) -> str | None:
    """The person's most frequent name in imported chat exports (meta.speaker), if any."""
    names = Counter(p["meta"]["speaker"] for p in pairs
                    if isinstance(p.get("meta"), dict) and isinstance(p["meta"].get("speaker"), str)
                    and p["meta"]["speaker"].strip())
    return names.most_common(1)[0][0] if names else None


def training_system_prompt(profile, speaker: str | None = None) -> str:
    """The system prompt for training and for the activated model: only what the person wrote."""
    core = personal_core(profile.persona.core())
    ident = as_dict(core.get("identity"))
    style = as_dict(as_dict(core.get("personality")).get("communicationStyle"))
    name = person_name(profile, speaker)
    if name:
        text = f"You are {name}"
        role = ident.get("role")
        if isinstance(role, str) and role.strip():
            text += f", {role.strip()}"
        text += f". Speak as {name}, in the first person."
    else:
        text = "Speak in the first person, as yourself, in your own words."
    tone = style.get("tone")
    candidates = [", ".join(t for t in tone if isinstance(t, str)) if isinstance(tone, list)
                  else tone, style.get("formality"), style.get("verbosity")]
    traits = [t for t in candidates if isinstance(t, str) and t.strip()]
    if traits:
        text += " Style: " + "; ".join(traits) + "."
    return text
