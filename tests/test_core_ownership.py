"""Issue 15: the core decides, audits and locks; faces only ask. Each test names the defect it
guards (they failed on the tree before the fix)."""

from __future__ import annotations

import json
import os

import pytest

from metahuman_core import events
from metahuman_core.errors import CorruptFile, ValidationFailed
from metahuman_core.skills import execute


def _audit(profile, event: str) -> list[dict]:
    return [e for e in profile.audit.query() if e.get("event") == event]


def _core(home) -> dict:
    return json.loads((home / "persona/core.json").read_text())


# ------------------------------------------------------------------ persona edits
def test_persona_set_trust_level_is_routed_through_safeguards(mh, home, profile):
    r = mh("persona", "set", "trustLevel", "adaptive_auto")
    assert r.returncode == 0, r.stderr
    assert profile.trust() == "adaptive_auto"  # the real trust level changed
    assert "trustLevel" not in _core(home)  # no stray key in core.json
    changed = _audit(profile, events.TRUST_CHANGED)
    assert changed and changed[-1]["category"] == "security" and changed[-1]["level"] == "warn"
    assert changed[-1]["details"]["via"] == "persona set"
    assert not _audit(profile, events.PERSONA_CHANGED)


def test_persona_set_decision_rules_trust_is_a_security_event(mh, profile):
    assert mh("persona", "set", "decision-rules.trustLevel", "bounded_auto").returncode == 0
    e = _audit(profile, events.TRUST_CHANGED)[-1]
    assert (e["category"], e["level"], e["details"]["to"]) == ("security", "warn", "bounded_auto")
    assert any(x["category"] == "security" for x in profile.audit.security_report())


def test_persona_set_bogus_trust_changes_nothing(mh, home, profile):
    before = (home / "persona/core.json").read_bytes(), (home / "persona/decision-rules.json").read_bytes()
    r = mh("persona", "set", "trustLevel", "bogus")
    assert r.returncode == 2 and "invalid trust level" in r.stderr and "Traceback" not in r.stderr
    assert ((home / "persona/core.json").read_bytes(),
            (home / "persona/decision-rules.json").read_bytes()) == before
    assert profile.trust() == "supervised_auto"


def test_persona_unknown_key_refused_with_valid_keys(mh, home):
    before = (home / "persona/core.json").read_bytes()
    r = mh("persona", "set", "identity.nope", "x")
    assert r.returncode == 2
    assert "unknown field 'identity.nope'" in r.stderr
    assert "name" in r.stderr and "aliases" in r.stderr  # the valid ones are listed
    assert (home / "persona/core.json").read_bytes() == before


def test_persona_aliases_is_a_list_of_names(mh, home):
    r = mh("persona", "set", "identity.aliases", '["Gregory", "G"]', "--json")
    assert r.returncode == 0, r.stderr
    assert _core(home)["identity"]["aliases"] == ["Gregory", "G"]
    r = mh("persona", "set", "identity.aliases", '[1, 2]', "--json")
    assert r.returncode == 2 and "identity.aliases" in r.stderr
    assert _core(home)["identity"]["aliases"] == ["Gregory", "G"]


def test_persona_store_refuses_trust_as_plain_field(profile):
    with pytest.raises(ValidationFailed, match="trust"):
        profile.persona.set_field("decision-rules.trustLevel", "adaptive_auto")


def test_invalid_utf8_in_persona_file_is_a_clean_error(mh, home):
    (home / "persona/core.json").write_bytes(b'{"identity": {"name": "\xff\xfe"}}')
    for args in (("persona", "show"), ("status",)):
        r = mh(*args)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (args, r.stderr)
    r = mh("persona", "show")
    assert r.returncode != 0 and "persona/core.json" in r.stderr


# ------------------------------------------------------------------ config edits
def test_config_set_without_field_hints_a_real_key(mh):
    r = mh("config", "set", "agent", "1")
    assert r.returncode == 2
    assert "agent.level" not in r.stderr
    assert "agent.backend" in r.stderr and "model" in r.stderr


@pytest.mark.parametrize("name", ["agent", "boredom", "training", "tui"])
def test_invalid_utf8_in_etc_json_is_a_clean_error(mh, home, name):
    (home / f"etc/{name}.json").write_bytes(b'{"x": "\xff"}')
    for args in (("config", "check"), ("config", "show", name), ("status",)):
        r = mh(*args)
        assert "internal error" not in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    r = mh("config", "check")
    assert r.returncode == 1 and f"etc/{name}.json" in r.stderr and "UTF-8" in r.stderr


def test_json_error_wording_has_no_doubled_words(mh, home):
    (home / "etc/agent.json").write_text('{"model": "x",\n  "host": "http://')
    r = mh("config", "check")
    assert r.returncode == 1 and "etc/agent.json" in r.stderr
    assert "at at" not in r.stderr and " at\n" not in r.stderr + "\n"
    assert "line 2 column 11: unterminated string" in r.stderr
    from metahuman_core.storage import read_json  # storage's reader words it the same way

    (home / "x.json").write_text('{"a": "b')
    with pytest.raises(CorruptFile, match="line 1 column 7: unterminated string$"):
        read_json(home / "x.json")


def test_config_changes_are_audited_in_the_core(profile):
    from metahuman_core.config import change

    old = profile.config.get_value("boredom.level")
    change(profile, "boredom.level", "high", actor="tui")
    e = _audit(profile, events.CONFIG_CHANGED)[-1]
    assert e["actor"] == "tui" and e["details"] == {"key": "boredom.level", "old": old,
                                                     "new": "high"}


def test_model_change_is_audited_in_the_core(profile):
    from metahuman_core.active_model import set_base_model

    assert set_base_model(profile, "llama3:8b", actor="tui") == "qwen3:1.7b"
    e = _audit(profile, events.MODEL_CHANGED)[-1]
    assert e["actor"] == "tui" and e["details"] == {"from": "qwen3:1.7b", "to": "llama3:8b"}
    with pytest.raises(ValidationFailed):
        set_base_model(profile, "two words", actor="tui")


def test_index_rebuild_is_audited_in_the_core(profile):
    from metahuman_core.search.engine import index_for

    index_for(profile).rebuild(audit=profile.audit, actor="tui")
    e = _audit(profile, events.INDEX_REBUILT)[-1]
    assert e["actor"] == "tui" and "added" in e["details"]


# ------------------------------------------------------------------ the gate's outcome
def test_gate_outcome_says_who_denied(profile):
    profile.persona.set_trust_level("observe")
    out = execute(profile, "fs_write", {"path": "out/x.txt", "content": "x"}, actor="agent")
    assert (out.status, out.decision, out.denied_by) == ("denied", "deny", "policy")
    assert "mh trust" in out.hint
    out = execute(profile, "fs_read", {"path": "etc/secrets/api-token"}, actor="human")
    assert (out.status, out.denied_by) == ("denied", "sandbox") and out.hint
    out = execute(profile, "fs_read", {"nope": 1}, actor="human")
    assert (out.status, out.denied_by, out.error_type) == ("error", "validation", "bad_args")
    out = execute(profile, "no_such_skill", {}, actor="human")
    assert (out.denied_by, out.error_type) == ("validation", "unknown_skill")
    out = execute(profile, "fs_list", {"path": "."}, actor="human")
    assert out.ok and out.denied_by is None and out.to_dict()["denied_by"] is None


def test_api_maps_denial_fields_not_message_text(profile):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from metahuman_core.api_token import ensure_token
    from metahuman_tui.http.app import create_api

    client = TestClient(create_api(profile), base_url="http://localhost")
    auth = {"Authorization": f"Bearer {ensure_token(profile)}"}
    # a sandbox refusal whose message contains the words "trust level" (the caller's own path)
    r = client.post("/api/file_operations", json={"action": "create",
                                                  "filename": "approval-queue/trust level.txt",
                                                  "content": "x"},
                    headers=auth)
    assert r.status_code == 403
    assert r.json()["error"].startswith("Refused by the sandbox"), r.json()


# ------------------------------------------------------------------ secrets through hard links
def test_fs_read_refuses_hard_links_to_secrets(profile, home):
    token = home / "etc/secrets/api-token"
    from metahuman_core.api_token import ensure_token

    ensure_token(profile)
    (home / "docs").mkdir(exist_ok=True)
    os.link(token, home / "docs/notes.txt")
    out = execute(profile, "fs_read", {"path": "docs/notes.txt"}, actor="human")
    assert out.status == "denied" and out.denied_by == "sandbox"
    assert "etc/secrets/api-token" in out.reason
    (home / ".env").write_text("API_KEY=hunter2\n")
    os.link(home / ".env", home / "memory/env-copy.txt")
    out = execute(profile, "fs_read", {"path": "memory/env-copy.txt"}, actor="human")
    assert out.status == "denied" and ".env" in out.reason
    assert "hunter2" not in json.dumps(profile.audit.query())


def test_fs_read_hard_link_rules_for_other_files(profile, home, tmp_path):
    (home / "docs").mkdir(exist_ok=True)
    (home / "docs/a.txt").write_text("plain")
    os.link(home / "docs/a.txt", home / "docs/b.txt")  # both names in one folder, none secret
    assert execute(profile, "fs_read", {"path": "docs/b.txt"}, actor="human").ok
    os.link(home / "docs/a.txt", home / "memory/c.txt")  # a third name elsewhere: unprovable
    out = execute(profile, "fs_read", {"path": "docs/a.txt"}, actor="human")
    assert out.status == "denied" and "cannot prove" in out.reason
    (home / "docs/server.pem").write_text("-----BEGIN PRIVATE KEY-----")
    os.link(home / "docs/server.pem", home / "docs/readme2.txt")
    out = execute(profile, "fs_read", {"path": "docs/readme2.txt"}, actor="human")
    assert out.status == "denied" and "server.pem" in out.reason
    (home / "docs/single.txt").write_text("one name")
    assert execute(profile, "fs_read", {"path": "docs/single.txt"}, actor="human").ok


# ------------------------------------------------------------------ corrupt files
def _task_file(home, name: str, text: str) -> None:
    (home / "memory/tasks/active").mkdir(parents=True, exist_ok=True)
    (home / "memory/tasks/active" / name).write_text(text)


def test_bad_task_file_is_named_and_the_rest_shown(mh, home):
    assert mh("task", "add", "Good one").returncode == 0
    _task_file(home, "task-20251019-120000.json", '{"title": "trunc')
    r = mh("task")
    assert r.returncode == 0 and "Good one" in r.stdout
    assert "task-20251019-120000.json" in r.stderr
    r = mh("task", "list", "--json")
    assert len(json.loads(r.stdout)) == 1 and "task-20251019-120000.json" in r.stderr
    r = mh("task", "show", "task-20251019-120000")
    assert r.returncode == 1 and "not found" not in r.stderr
    assert "task-20251019-120000.json" in r.stderr and "corrupt" in r.stderr


def test_task_store_reports_corrupt_on_get(profile, home):
    from metahuman_core.tasks import TaskStore

    _task_file(home, "task-20251019-120000.json", "[1, 2]")
    with pytest.raises(CorruptFile):
        TaskStore(profile).get("task-20251019-120000")


def test_approval_file_holding_an_array(mh, home):
    queue = home / "out/approval-queue"
    queue.mkdir(parents=True, exist_ok=True)
    (queue / "apr-20251019-160000-deadbeef.json").write_text("[1, 2, 3]")
    for args in (("approvals",), ("approvals", "list", "--all"),
                 ("approvals", "show", "apr-20251019-160000-deadbeef"),
                 ("approvals", "approve", "apr-20251019-160000-deadbeef"),
                 ("approvals", "reject", "apr-20251019-160000-deadbeef", "--reason", "no")):
        r = mh(*args)
        assert "AttributeError" not in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert "internal error" not in r.stderr, (args, r.stderr)
    r = mh("approvals", "list", "--all")
    assert r.returncode == 0 and "apr-20251019-160000-deadbeef" in r.stderr
    r = mh("approvals", "show", "apr-20251019-160000-deadbeef")
    assert r.returncode == 1 and "expected a JSON object" in r.stderr


def test_truncated_agent_json_fails_the_cycle_with_one_clear_line(mh, home):
    text = (home / "etc/agent.json").read_text()
    (home / "etc/agent.json").write_text(text[: len(text) // 2])
    r = mh("agent", "run", "organizer", "--once", timeout=120)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "| " not in out
    errors = [ln for ln in out.splitlines() if "etc/agent.json" in ln]
    assert len(errors) == 1, out


def test_corrupt_agent_records_are_reported(mh, home):
    agents = home / "logs/agents"
    agents.mkdir(parents=True, exist_ok=True)
    (agents / "organizer.runs.json").write_text('{"runs": {"1": tr')
    r = mh("agent", "status", "organizer")
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert "organizer.runs.json" in r.stderr and "moved aside" in r.stderr
    assert list(agents.glob("organizer.runs.json.corrupt-*"))  # kept, not deleted


def test_api_listings_name_unreadable_files(profile, home):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from metahuman_core.api_token import ensure_token
    from metahuman_tui.http.app import create_api

    _task_file(home, "task-20251019-120000.json", "{broken")
    queue = home / "out/approval-queue"
    queue.mkdir(parents=True, exist_ok=True)
    (queue / "apr-20251019-160000-deadbeef.json").write_text("[]")
    client = TestClient(create_api(profile), base_url="http://localhost")
    auth = {"Authorization": f"Bearer {ensure_token(profile)}"}
    r = client.get("/api/tasks", headers=auth)
    assert r.status_code == 200 and "task-20251019-120000.json" in r.json()["problems"][0]
    r = client.get("/api/approvals?status=all", headers=auth)
    assert r.status_code == 200 and "apr-20251019-160000-deadbeef.json" in r.json()["problems"][0]


@pytest.mark.parametrize("agent,config", [("sleep-service", "sleep"), ("boredom-service", "boredom")])
def test_once_agent_on_broken_config_exits_non_zero(mh, home, agent, config):
    (home / f"etc/{config}.json").write_bytes(b"\xff\xfe{")
    r = mh("agent", "run", agent, "--once", timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "Traceback" not in out
    assert len([ln for ln in out.splitlines() if f"etc/{config}.json" in ln]) == 1, out
