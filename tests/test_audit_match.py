"""One audit filter predicate in the core, used by `mh audit`, the API and the TUI viewer."""

from __future__ import annotations

from metahuman_core.audit_match import actor_matches, entry_matches
from metahuman_tui.widgets.audit_filter import parse_filter

ENTRIES = [
    {"level": "info", "category": "action", "event": "skill_executed", "actor": "mcp:cursor"},
    {"level": "warn", "category": "security", "event": "trust_level_changed", "actor": "cli"},
    {"level": "info", "category": "data", "event": "data_create", "actor": "mcp"},
]


def test_actor_prefix_and_exact():
    assert actor_matches("mcp*", "mcp:cursor") and actor_matches("mcp*", "mcp")
    assert actor_matches("cli", "cli") and not actor_matches("cli", "clix")


def test_core_query_takes_the_actor_prefix(profile):
    for e in ENTRIES:
        profile.audit.append(e["event"], level=e["level"], category=e["category"], actor=e["actor"])
    got = profile.audit.query(actor="mcp*")
    assert [e["actor"] for e in got] == ["mcp:cursor", "mcp"]


def test_tui_filter_and_core_agree_on_every_field():
    for query in ("actor:mcp*", "level:warn", "cat:data", "event:skill", "actor:cli level:warn"):
        f = parse_filter(query)
        core = [entry_matches(e, level=f.level, category=f.category, event=f.event, actor=f.actor)
                for e in ENTRIES]
        tui = [f.matches(b"x", e) for e in ENTRIES]
        assert core == tui, query
