"""The binding registry: every key the app answers to, by id, for F1 help, remapping and tabs.

Why (harlequin's action registry): help, the footer, the pane tabs and etc/tui.json must agree
on one list. Every Binding we declare has an `id`; etc/tui.json `keys` maps those ids to keys
(e.g. {"keys": {"pane_chat": "f12", "memory.capture": "ctrl+n"}}).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from textual.binding import Binding
from textual.keys import format_key


@dataclass(frozen=True)
class KeyRow:
    scope: str        # "global", a pane name, or a widget/modal name
    id: str
    key: str          # default key(s), comma separated
    description: str
    action: str


def _bindings(cls) -> Iterable[Binding]:
    for b in Binding.make_bindings(getattr(cls, "BINDINGS", [])):
        yield b


def registry(scopes: list[tuple[str, type]]) -> list[KeyRow]:
    """Rows for every Binding with an id, in declaration order, scope by scope. A binding
    declared with several keys ("f2,alt+1") is one row with all its keys."""
    rows: dict[tuple[str, str], KeyRow] = {}
    for scope, cls in scopes:
        for b in _bindings(cls):
            if not b.id:
                continue
            old = rows.get((scope, b.id))
            if old is None:
                rows[(scope, b.id)] = KeyRow(scope, b.id, b.key, b.description, b.action)
            elif b.key not in old.key.split(","):
                rows[(scope, b.id)] = KeyRow(scope, b.id, f"{old.key},{b.key}", old.description,
                                             old.action)
    return list(rows.values())


MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})


def _base_names() -> frozenset[str]:
    from textual.keys import Keys, _character_to_key

    names = {k.value for k in Keys if "+" not in k.value and not k.value.startswith("<")}
    names |= {_character_to_key(chr(c)) for c in range(33, 127)}
    return frozenset(names - {"ctrl-at"})


def key_problem(key: object) -> str | None:
    """Why `key` is not a key Textual can bind ("ctl+x", "F 12", ""), or None if it is one.
    A binding may list several keys: "f12,alt+t"."""
    if not isinstance(key, str) or not key.strip():
        return "an empty key"
    names = _base_names()
    for one in key.split(","):
        *mods, base = one.strip().split("+")
        bad = [m for m in mods if m not in MODIFIERS]
        if bad:
            return f"{one.strip()!r}: unknown modifier {bad[0]!r} (ctrl, shift, alt, super)"
        if base not in names:
            return (f"{one.strip()!r}: unknown key {base!r} (e.g. f12, ctrl+n, alt+3, slash, "
                    "pagedown)")
    return None


def split_keymap(keys: dict[str, str], known: set[str]) -> tuple[dict[str, str], list[str]]:
    """(usable keymap, problems) from the config's `keys` table: unknown ids and invalid key
    names are left out (the default key stays) and each is named in one line."""
    good, bad = {}, []
    for binding_id, key in keys.items():
        if binding_id not in known:
            bad.append(f"{binding_id}: unknown id (F1 lists the ids)")
            continue
        problem = key_problem(key)
        if problem:
            bad.append(f"{binding_id}: {problem}")
        else:
            good[binding_id] = key.strip()
    return good, sorted(bad)


NAMES = {"enter": "Enter", "escape": "Esc", "pageup": "PgUp", "pagedown": "PgDn", "tab": "Tab"}

# Alt+1..6 as most terminals send it over SSH and in tmux is ESC then the digit, and Textual's
# parser reads that as the macOS Option character of the digit (ESC 2 -> "™"): `alt+2` never
# fired, and the chat prompt typed "™" instead. `install_esc_digit_keys` makes ESC+digit Alt+digit;
# a Mac sending the bare Option character (Option not set as Meta) reaches the same binding
# through these names (outside text boxes, which type the character). Help never shows them.
ESC_DIGIT_KEYS = ("inverted_exclamation_mark", "trade_mark_sign", "pound_sign", "cent_sign",
                  "infinity", "section_sign")
HIDDEN_KEYS = frozenset(ESC_DIGIT_KEYS)


def alt_digit(n: int) -> str:
    """The keys for Alt+n (1..6): the modifier form and the bare Option character."""
    return f"alt+{n},{ESC_DIGIT_KEYS[n - 1]}"


@dataclass(frozen=True)
class _KeyName:
    value: str     # what Textual's parser reads from a Keys member


def install_esc_digit_keys() -> bool:
    """ESC+digit parses as Alt+digit in this process. Textual keeps its sequence table in a
    private module; if that ever moves, this returns False and the bindings above still
    catch the Option characters outside text boxes."""
    try:
        from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
    except ImportError:
        return False
    if not isinstance(ANSI_SEQUENCES_KEYS, dict):
        return False
    for digit in "0123456789":
        ANSI_SEQUENCES_KEYS["\x1b" + digit] = (_KeyName(f"alt+{digit}"),)
    return True


def display_key(key: str) -> str:
    """'f2,alt+1' -> 'F2/Alt+1', 'slash' -> '/', 'ctrl+r' -> 'Ctrl+R' for help and tabs."""
    def one(k: str) -> str:
        *mods, base = k.strip().split("+")
        if base in NAMES:
            return "+".join([*(m.capitalize() for m in mods), NAMES[base]])
        shown = format_key(base)
        if len(shown) > 1 or (mods and shown.isalpha()):
            shown = shown.upper() if shown[:1] in "fF" and shown[1:].isdigit() else (
                shown.upper() if len(shown) == 1 else shown.capitalize())
        return "+".join([*(m.capitalize() for m in mods), shown])
    return "/".join(one(k) for k in key.split(",") if k.strip() and k.strip() not in HIDDEN_KEYS)
