"""Persona anchor pairs: who the person is, from persona/core.json, in their own phrasing.

A handful of pairs ("Who are you?", "What matters most to you?") keep the adapter's identity
stable even when the memories are few. They are built only from fields the person filled in,
never from values still as shipped in the template persona (persona_template.personal_core: an
untouched "Alex, Software engineer" gives no anchors), always go to the training split (never
held out), and are labelled kind "anchor".
"""

from __future__ import annotations

from typing import Any

from .shapes import as_dict, as_list, as_text

# core.json is edited by hand: every value is read through the shapes helpers, so a string
# where a list belongs, or a number among words, gives a sensible value instead of a crash.


def _texts(items: Any, key: str) -> list[str]:
    out = []
    for item in as_list(items):
        text = as_text(item.get(key) if isinstance(item, dict) else item)
        if text:
            out.append(text)
    return out


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def anchor_pairs(profile) -> list[dict[str, Any]]:
    from .persona_template import personal_core

    core = personal_core(profile.persona.core())
    ident = as_dict(core.get("identity"))
    style = as_dict(as_dict(core.get("personality")).get("communicationStyle"))
    values = as_dict(core.get("values"))
    goals = as_dict(core.get("goals"))
    context = as_dict(core.get("context"))
    name = as_text(ident.get("name")) or as_text(ident.get("humanName"))
    pairs: list[tuple[str, str]] = []
    if name:
        intro = f"I'm {name}"
        role = as_text(ident.get("role"))
        if role:
            intro += f", {role[0].lower()}{role[1:]}"
        pairs.append(("Who are you?", _sentence(intro)))
        pairs.append(("What's your name?", _sentence(name)))
    core_values = []
    for v in as_list(values.get("core")):
        if isinstance(v, dict) and v.get("value"):
            desc = str(v.get("description") or "").strip()
            core_values.append(f"{str(v['value']).strip().capitalize()}"
                               + (f": {desc[0].lower()}{desc[1:]}" if desc else ""))
    if core_values:
        pairs.append(("What matters most to you?", " ".join(_sentence(v) for v in core_values)))
    tone = style.get("tone")
    tone_text = " and ".join(t for t in map(as_text, tone) if t) if isinstance(tone, list) \
        else as_text(tone)
    bits = [b for b in (tone_text, as_text(style.get("formality")),
                        as_text(style.get("verbosity"))) if b]
    if bits:
        line = ", ".join(bits).capitalize()
        humor = as_text(style.get("humor"))
        if humor:
            line += f". {humor.capitalize()} humour"
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
