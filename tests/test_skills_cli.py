"""`mh skills`, `mh skill run`, `mh trust`, `mh approvals` as real subprocesses."""

from __future__ import annotations

import json


def test_skills_listing(mh):
    res = mh("skills", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["trust"] == "supervised_auto" and len(data["skills"]) == 13
    by_id = {s["id"]: s for s in data["skills"]}
    assert by_id["fs_write"]["decision"] == "ask" and by_id["fs_write"]["human_decision"] == "run"
    assert by_id["fs_write"]["schema"]["properties"]["content"]["type"] == "string"
    yolo = {s["id"]: s for s in json.loads(mh("skills", "--json", "--yolo").stdout)["skills"]}
    assert yolo["fs_write"]["decision"] == "run" and yolo["fs_delete"]["decision"] == "ask"
    plain = mh("skills")
    assert "fs_delete" in plain.stdout and "trust: supervised_auto" in plain.stdout


def test_skill_run_exit_codes(mh, home):
    (home / "README.md").write_text("hello readme")
    ok = mh("skill", "run", "fs_read", "--args", '{"path": "README.md"}')
    assert ok.returncode == 0 and json.loads(ok.stdout)["content"] == "hello readme"
    human = mh("skill", "run", "fs_write", "--args", '{"path": "out/h.txt", "content": "h"}')
    assert human.returncode == 0 and (home / "out" / "h.txt").read_text() == "h"
    queued = mh("skill", "run", "fs_write", "--args", '{"path": "out/a.txt", "content": "a"}',
                "--actor", "agent")
    assert queued.returncode == 3 and queued.stdout.startswith("queued for approval: apr-")
    denied = mh("skill", "run", "fs_write", "--args", '{"path": "persona/x", "content": "x"}')
    assert denied.returncode == 4 and "only under out/" in denied.stderr
    assert mh("skill", "run", "fs_read", "--args", '{"path": "nope.md"}').returncode == 1
    assert mh("skill", "run", "fs_read", "--args", '{"paht": "x"}').returncode == 2
    assert mh("skill", "run", "fs_read", "--args", "{not json").returncode == 2
    assert mh("skill", "run", "fs_read", "--args", '["x"]').returncode == 2
    assert mh("skill", "run", "bogus").returncode == 2
    assert mh("skill", "run", "fs_read", "--actor", "root").returncode == 2
    bad_due = mh("skill", "run", "task_create", "--args", '{"title": "t", "due": "2025-02-30"}')
    assert bad_due.returncode == 2 and "2025-02-30" in bad_due.stderr   # bad input, not a failure
    assert not list((home / "memory/tasks/active").glob("*.json"))
    as_json = mh("skill", "run", "fs_delete", "--args", '{"path": "out/h.txt"}', "--actor", "agent",
                 "--json")
    data = json.loads(as_json.stdout)
    assert as_json.returncode == 3 and data["status"] == "queued" and data["decision"] == "ask"


def test_approvals_cli_round_trip(mh, home):
    first = mh("skill", "run", "fs_write", "--args", '{"path": "out/a.txt", "content": "a"}',
               "--actor", "agent").stdout.split()[-1]
    second = mh("skill", "run", "fs_write", "--args", '{"path": "out/b.txt", "content": "b"}',
                "--actor", "agent").stdout.split()[-1]
    listed = json.loads(mh("approvals", "list", "--json").stdout)
    assert [i["id"] for i in listed] == [first, second]  # oldest first
    assert first in mh("approvals").stdout
    shown = mh("approvals", "show", first)
    assert shown.returncode == 0 and '"content": "a"' in shown.stdout
    approved = mh("approvals", "approve", first)
    assert approved.returncode == 0 and (home / "out" / "a.txt").read_text() == "a"
    again = mh("approvals", "approve", first)
    assert again.returncode == 1 and "already executed" in again.stderr
    rejected = mh("approvals", "reject", second, "--reason", "wrong file", "--json")
    assert rejected.returncode == 0 and json.loads(rejected.stdout)["reason"] == "wrong file"
    assert not (home / "out" / "b.txt").exists()
    everything = json.loads(mh("approvals", "list", "--all", "--json").stdout)
    assert {i["status"] for i in everything} == {"executed", "rejected"}
    assert mh("approvals", "show", "../etc").returncode == 2
    assert mh("approvals", "show", "apr-20250101-000000-abcdef").returncode == 1


def test_trust_show_and_set(mh, home):
    assert "* supervised_auto" in mh("trust").stdout
    res = mh("trust", "observe")
    assert res.returncode == 0 and "supervised_auto -> observe" in res.stdout
    assert json.loads(mh("trust", "--json").stdout)["trust"] == "observe"
    rules = json.loads((home / "persona" / "decision-rules.json").read_text())
    assert rules["trustLevel"] == "observe"
    audit = mh("audit", "--event", "trust_level_changed", "--json")
    entry = json.loads(audit.stdout.splitlines()[-1])
    assert entry["details"] == {"from": "supervised_auto", "to": "observe"}
    denied = mh("skill", "run", "fs_write", "--args", '{"path": "out/x", "content": "x"}')
    assert denied.returncode == 4  # effective at once, for the person too
    assert mh("trust", "god_mode").returncode == 2
