"""The policy table of DESIGN §7, cell by cell: every skill × trust level × YOLO × actor."""

from __future__ import annotations

import pytest

from metahuman_core.errors import ValidationFailed
from metahuman_core.policy import decide
from metahuman_core.skills import execute, get_skill, list_skills

LEVELS = ["observe", "suggest", "supervised_auto", "bounded_auto", "adaptive_auto"]

# DESIGN §7 skill table, copied by hand: id -> (risk, min_trust, argument JSON names)
SKILLS = {
    "fs_list": ("low", "observe", {"path", "pattern", "recursive"}),
    "fs_read": ("low", "observe", {"path"}),
    "git_status": ("low", "observe", set()),
    "memory_search": ("low", "observe", {"query", "limit"}),
    "task_list": ("low", "observe", {"status"}),
    "task_find": ("low", "observe", {"query"}),
    "fs_write": ("medium", "suggest", {"path", "content", "overwrite"}),
    "web_search": ("low", "supervised_auto", {"query", "max_results"}),
    "task_create": ("low", "supervised_auto", {"title", "description", "priority", "due", "tags"}),
    "task_update_status": ("low", "supervised_auto", {"task_id", "status"}),
    "capture_memory": ("low", "supervised_auto", {"content", "type", "tags"}),
    "fs_delete": ("high", "supervised_auto", {"path"}),
    # beyond the table ("more allowed"): creating a folder under out/ for the REST API
    "fs_mkdir": ("low", "suggest", {"path"}),
}

# DESIGN §7 trust × risk table, copied by hand
TABLE = {
    "observe": ("run", "ask", "ask"),
    "suggest": ("run", "ask", "ask"),
    "supervised_auto": ("run", "ask", "ask"),
    "bounded_auto": ("run", "run", "ask"),
    "adaptive_auto": ("run", "run", "run"),
}
RISK_COLUMN = {"low": 0, "medium": 1, "high": 2}


def expected(skill_id: str, trust: str, yolo: bool, actor: str) -> str:
    risk, min_trust, _ = SKILLS[skill_id]
    if LEVELS.index(trust) < LEVELS.index(min_trust):
        return "deny"  # neither YOLO nor the person lifts this
    row = LEVELS[min(LEVELS.index(trust) + 1, len(LEVELS) - 1)] if yolo else trust
    verdict = TABLE[row][RISK_COLUMN[risk]]
    return "run" if verdict == "ask" and actor == "human" else verdict


def test_registry_matches_the_design_table():
    skills = {s.id: s for s in list_skills()}
    assert set(skills) == set(SKILLS)
    for sid, (risk, min_trust, arg_names) in SKILLS.items():
        skill = skills[sid]
        assert (skill.risk, skill.min_trust) == (risk, min_trust), sid
        schema = skill.json_schema()
        assert set(schema.get("properties", {})) == arg_names, sid
        assert schema["type"] == "object"
        assert skill.tool_spec()["function"]["name"] == sid


@pytest.mark.parametrize("actor", ["human", "agent", "operator"])
@pytest.mark.parametrize("yolo", [False, True], ids=["strict", "yolo"])
@pytest.mark.parametrize("trust", LEVELS)
@pytest.mark.parametrize("skill_id", list(SKILLS))
def test_every_cell(skill_id, trust, yolo, actor):
    got = decide(get_skill(skill_id), trust, actor=actor, yolo=yolo)
    assert got.decision == expected(skill_id, trust, yolo, actor)
    assert got.trust == trust and got.yolo is yolo
    assert got.reason


@pytest.mark.parametrize("skill_id, trust, yolo, actor, want", [
    ("fs_delete", "supervised_auto", False, "agent", "ask"),
    ("fs_delete", "supervised_auto", True, "agent", "ask"),   # YOLO reads bounded_auto: high asks
    ("fs_delete", "bounded_auto", True, "agent", "run"),      # YOLO reads adaptive_auto
    ("fs_delete", "adaptive_auto", True, "agent", "run"),     # never past the top
    ("fs_delete", "suggest", True, "agent", "deny"),          # YOLO never enables above trust
    ("fs_delete", "suggest", True, "human", "deny"),          # nor does the person's request
    ("fs_write", "observe", True, "human", "deny"),
    ("fs_write", "suggest", False, "agent", "ask"),
    ("fs_write", "supervised_auto", True, "agent", "run"),
    ("fs_write", "supervised_auto", False, "human", "run"),   # the direct request is consent
    ("web_search", "suggest", True, "agent", "deny"),
    ("fs_read", "observe", False, "agent", "run"),
])
def test_hand_checked_cells(skill_id, trust, yolo, actor, want):
    assert decide(skill_id, trust, actor=actor, yolo=yolo).decision == want


@pytest.mark.parametrize("trust", LEVELS)
@pytest.mark.parametrize("yolo", [False, True])
def test_web_search_carrying_memory_text_always_asks(trust, yolo):
    origin = {"carries_memory_text": True}
    agent = decide("web_search", trust, actor="operator", yolo=yolo, origin=origin)
    human = decide("web_search", trust, actor="human", yolo=yolo, origin=origin)
    if LEVELS.index(trust) < LEVELS.index("supervised_auto"):
        assert agent.decision == human.decision == "deny"
    else:
        assert agent.decision == "ask" and agent.always_ask
        assert human.decision == "run"  # the person typed it themselves
    plain = decide("web_search", "adaptive_auto", actor="operator", yolo=yolo,
                   origin={"carries_memory_text": "yes"})  # only an explicit true counts
    assert plain.decision == "run"


def test_invalid_trust_is_refused():
    with pytest.raises(ValidationFailed):
        decide("fs_read", "god_mode", actor="agent")


@pytest.mark.parametrize("trust", LEVELS)
@pytest.mark.parametrize("yolo", [False, True])
def test_the_gate_applies_the_table(profile, trust, yolo):
    """Through execute(): run → ok, ask → queued, deny → denied, for the write/delete skills."""
    profile.persona.set_trust_level(trust)
    (profile.home.out / "victim.txt").write_text("x")
    write = execute(profile, "fs_write", {"path": f"out/w-{trust}-{yolo}.txt", "content": "hi"},
                    actor="agent", yolo=yolo)
    delete = execute(profile, "fs_delete", {"path": "out/victim.txt"}, actor="agent", yolo=yolo)
    status = {"run": "ok", "ask": "queued", "deny": "denied"}
    assert write.status == status[expected("fs_write", trust, yolo, "agent")]
    assert delete.status == status[expected("fs_delete", trust, yolo, "agent")]
    assert (profile.home.out / "victim.txt").exists() == (delete.status != "ok")
    assert write.trust == trust and write.yolo is yolo


def test_trust_change_takes_effect_at_once(profile):
    args = {"path": "out/a.txt", "content": "a"}
    assert execute(profile, "fs_write", args, actor="human").status == "ok"
    profile.persona.set_trust_level("observe")
    out = execute(profile, "fs_write", {**args, "overwrite": True}, actor="human")
    assert out.status == "denied" and "suggest" in out.reason
