"""Persona anchor pairs: who the person is, from persona/core.json, in their own phrasing.

A handful of pairs ("Who are you?", "What matters most to you?") keep the adapter's identity
stable even when the memories are few. They are built only from fields the person filled in,
never from values still as shipped in the template persona (persona_template.personal_core: an
untouched "Alex, Software engineer" gives no anchors), always go to the training split (never
held out), and are labelled kind "anchor".
"""

from __future__ import annotations

from typing import Any


def _texts(items: Any, key: str) -> list[str]:
    out = []
    for item in items or []:
        if isinstance(item, dict):
            item = item.get(key)
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
    return out


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def anchor_pairs(profile) -> list[dict[str, Any]]:
    from .persona_template import personal_core

    core = personal_core(profile.persona.core())
    ident = core.get("identity") if isinstance(core.get("identity"), dict) else {}
    pers = core.get("personality") if isinstance(core.get("personality"), dict) else {}
    style = pers.get("communicationStyle") if isinstance(pers.get("communicationStyle"), dict) else {}
    values = core.get("values") if isinstance(core.get("values"), dict) else {}
    goals = core.get("goals") if isinstance(core.get("goals"), dict) else {}
    context = core.get("context") if isinstance(core.get("context"), dict) else {}
    name = str(ident.get("name") or ident.get("humanName") or "").strip()
    pairs: list[tuple[str, str]] = []
    if name:
        intro = f"I'm {name}"
        if isinstance(ident.get("role"), str) and ident["role"].strip():
            intro += f", {ident['role'].strip()[0].lower()}{ident['role'].strip()[1:]}"
        pairs.append(("Who are you?", _sentence(intro)))
        pairs.append(("What's your name?", _sentence(name)))
    core_values = []
    for v in (values.get("core") or []):
        if isinstance(v, dict) and v.get("value"):
            desc = str(v.get("description") or "").strip()
            core_values.append(f"{str(v['value']).strip().capitalize()}"
                               + (f": {desc[0].lower()}{desc[1:]}" if desc else ""))
    if core_values:
        pairs.append(("What matters most to you?", " ".join(_sentence(v) for v in core_values)))
    tone = style.get("tone")
    bits = [" and ".join(tone) if isinstance(tone, list) else tone, style.get("formality"),
            style.get("verbosity")]
    bits = [b.strip() for b in bits if isinstance(b, str) and b.strip()]
    if bits:
        line = ", ".join(bits).capitalize()
        if isinstance(style.get("humor"), str) and style["humor"].strip():
            line += f". {style['humor'].strip().capitalize()} humour"
        pairs.append(("How would you describe the way you talk?", _sentence(line)))
    focus = _texts(goals.get("shortTerm"), "goal") + _texts(context.get("currentFocus"), "name")
    if focus:
        pairs.append(("What are you working on right now?",
                      " ".join(_sentence(f[0].upper() + f[1:]) for f in focus[:5])))
    limits = _texts(values.get("boundaries"), "text")
    if limits:
        pairs.append(("What won't you do?", " ".join(_sentence(b) for b in limits[:5])))
    return [{"instruction": q, "input": "", "output": a,
             "meta": {"source": "persona", "memoryId": None, "type": "anchor", "kind": "anchor",
                      "confidence": "high", "timestamp": None}} for q, a in pairs]
