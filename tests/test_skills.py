"""Each skill through the gate, on real files, real git and a real (fake) SearXNG server; and what
the audit log keeps of it (trust and YOLO always, file contents never)."""

from __future__ import annotations

import json
import subprocess

import pytest

from metahuman_core import events
from metahuman_core.skills import execute, get_skill
from tests.fakes.searxng import FakeSearxng

MARK = "CONTENT-MARK-7f3a"


@pytest.fixture
def docs(home):
    (home / "docs").mkdir()
    for name in ("b.md", "a.md", "notes.txt"):
        (home / "docs" / name).write_text(f"# {name}\n")
    (home / "docs" / "deep").mkdir()
    (home / "docs" / "deep" / "c.md").write_text("# c\n")
    (home / "README.md").write_text("MetaHuman readme\n")
    return home


def run(profile, skill, args=None, actor="human", **kw):
    return execute(profile, skill, args or {}, actor=actor, **kw)


def test_fs_list_returns_home_relative_sorted_paths(profile, docs):
    out = run(profile, "fs_list", {"path": "docs", "pattern": "*.md"}, actor="operator")
    assert out.status == "ok" and out.decision == "run"
    assert [e["path"] for e in out.result["entries"]] == ["docs/a.md", "docs/b.md"]
    deep = run(profile, "fs_list", {"path": "docs", "pattern": "*.md", "recursive": True})
    assert [e["path"] for e in deep.result["entries"]] == ["docs/a.md", "docs/b.md", "docs/deep/c.md"]
    star = run(profile, "fs_list", {"path": "docs", "pattern": "**/*.md"})
    assert star.result["count"] == 3
    assert run(profile, "fs_list", {"path": "nope"}).status == "error"


def test_fs_read(profile, docs, home):
    out = run(profile, "fs_read", {"path": "README.md"}, actor="operator")
    assert out.result == {"path": "README.md", "content": "MetaHuman readme\n", "size": 17}
    (home / "docs" / "bin.dat").write_bytes(b"\x00\x01\x02")
    assert "binary" in run(profile, "fs_read", {"path": "docs/bin.dat"}).error
    assert "folder" in run(profile, "fs_read", {"path": "docs"}).error
    assert "no such file" in run(profile, "fs_read", {"path": "docs/missing.md"}).error
    (home / "docs" / "big.txt").write_bytes(b"x" * (2 * 1024 * 1024 + 1))
    assert "too large" in run(profile, "fs_read", {"path": "docs/big.txt"}).error


def test_fs_write_and_delete(profile, home):
    out = run(profile, "fs_write", {"path": "out/test.txt", "content": "MetaHuman Operator Test"})
    assert out.status == "ok" and out.result == {"path": "out/test.txt", "size": 23, "created": True}
    assert (home / "out" / "test.txt").read_text() == "MetaHuman Operator Test"
    again = run(profile, "fs_write", {"path": "test.txt", "content": "other"})  # relative to out/
    assert again.status == "error" and "already exists" in again.error
    replaced = run(profile, "fs_write", {"path": "test.txt", "content": "new", "overwrite": True})
    assert replaced.result == {"path": "out/test.txt", "size": 3, "created": False}
    assert run(profile, "fs_delete", {"path": "out/test.txt"}).result["deleted"] is True
    assert not (home / "out" / "test.txt").exists()
    gone = run(profile, "fs_delete", {"path": "out/test.txt"})
    assert gone.status == "error" and "no such file" in gone.error
    assert sorted(p.name for p in (home / "out").iterdir()) == [".gitkeep", "adapters",
                                                                 "approval-queue"]


def test_bad_arguments_name_the_argument_and_run_nothing(profile, home):
    out = run(profile, "fs_write", {"path": "out/x.txt", "contents": "typo"})
    assert out.status == "error" and out.error_type == "bad_args"
    assert "'content' is required" in out.error and "unknown argument 'contents'" in out.error
    assert not (home / "out" / "x.txt").exists()
    bad = run(profile, "web_search", {"query": "x", "max_results": 999})
    assert bad.error_type == "bad_args" and "max_results" in bad.error
    assert run(profile, "no_such_skill").error_type == "unknown_skill"
    assert run(profile, "fs_read", ["README.md"]).error_type == "bad_args"
    tid = run(profile, "task_update_status", {"task_id": "../../etc/x", "status": "done"})
    assert tid.error_type == "bad_args" and "task_id" in tid.error


def _git(home, *argv):
    subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *argv],
                   cwd=home, check=True, capture_output=True)


def test_git_status_with_real_git(profile, home):
    out = run(profile, "git_status")
    assert out.status == "error" and "not a git repository" in out.error
    _git(home, "init", "-q", "-b", "main")
    (home / "tracked.txt").write_text("v1")
    _git(home, "add", "tracked.txt")
    _git(home, "commit", "-q", "-m", "first")
    (home / "tracked.txt").write_text("v2")
    out = run(profile, "git_status", actor="operator")
    assert out.status == "ok", out.error
    res = out.result
    assert res["branch"] == "main" and res["clean"] is False
    assert {"status": " M", "path": "tracked.txt"} in res["entries"]
    assert any(e["status"] == "??" for e in res["entries"])
    assert res["last_commit"].endswith("first") and "tracked.txt" in res["text"]


def test_git_status_refuses_a_home_inside_another_repo(tmp_path):
    from metahuman_core.profile import Profile, init_profile

    _git(tmp_path, "init", "-q")
    init_profile(tmp_path / "inner")
    out = run(Profile(tmp_path / "inner"), "git_status")
    assert out.status == "error" and "not a git repository of its own" in out.error


def test_web_search_through_fake_searxng(profile):
    with FakeSearxng() as fake:
        fake.add("AI agent architectures", ("ReAct", "https://example.org/react", "Reason + act"),
                 ("Toolformer", "https://example.org/tf", "Tools"))
        profile.config.update("network", {"provider": "searxng", "searxngUrl": fake.url})
        out = run(profile, "web_search", {"query": "AI agent architectures", "max_results": 1},
                  actor="operator")
        assert out.status == "ok", out.error
        assert out.result["results"] == [{"title": "ReAct", "url": "https://example.org/react",
                                          "snippet": "Reason + act", "engine": "fake"}]
        assert fake.requests[-1]["params"] == {"q": "AI agent architectures", "format": "json"}
        empty = run(profile, "web_search", {"query": "nothing at all"})
        assert empty.status == "ok" and empty.result["results"] == []
        assert "no web results" in empty.result["message"]
        fake.json_enabled = False
        refused = run(profile, "web_search", {"query": "x"})
        assert refused.status == "error" and "403" in refused.error
        fake.fail_status.append(500)
        assert "HTTP 500" in run(profile, "web_search", {"query": "x"}).error
        url = fake.url
    profile.config.update("network", {"searxngUrl": url})  # server gone
    assert "cannot reach SearXNG" in run(profile, "web_search", {"query": "x"}).error
    profile.config.update("network", {"provider": "none"})
    assert "web search is off" in run(profile, "web_search", {"query": "x"}).error


def test_memory_text_in_a_web_query_waits_for_a_person(profile):
    origin = {"carries_memory_text": True}
    profile.persona.set_trust_level("adaptive_auto")
    out = execute(profile, "web_search", {"query": "Sarah's diagnosis"}, actor="operator",
                  yolo=True, origin=origin)
    assert out.status == "queued" and "memories" in out.reason


def test_every_decision_is_audited_with_trust_and_yolo_and_no_contents(profile, docs, home):
    (home / "docs" / "secret-note.md").write_text(MARK)
    run(profile, "fs_read", {"path": "docs/secret-note.md"}, actor="operator", yolo=True)
    run(profile, "fs_write", {"path": "out/m.txt", "content": MARK}, actor="operator")
    run(profile, "fs_write", {"path": "out/h.txt", "content": MARK}, actor="human")
    run(profile, "fs_write", {"path": "persona/x.json", "content": MARK}, actor="operator")
    decisions = profile.audit.query(event=events.SKILL_DECISION)
    assert len(decisions) == 4
    for entry in decisions:
        assert entry["details"]["trust"] == "supervised_auto"
        assert isinstance(entry["details"]["yolo"], bool)
    assert decisions[0]["details"]["yolo"] is True
    assert [d["details"]["decision"] for d in decisions] == ["run", "ask", "run", "deny"]
    for name in (events.SKILL_EXECUTED, events.APPROVAL_QUEUED, events.SKILL_DENIED):
        assert all("yolo" in e["details"] and "trust" in e["details"]
                   for e in profile.audit.query(event=name)), name
    read = profile.audit.query(event=events.SKILL_EXECUTED)[0]["details"]["result"]
    assert read["size"] == len(MARK) and len(read["sha256"]) == 64
    raw = "".join(p.read_text() for p in (home / "logs" / "audit").glob("*.ndjson"))
    assert MARK not in raw


def test_capture_memory_and_search(profile):
    out = run(profile, "capture_memory", {"content": "Talked with the operator about gardening",
                                          "tags": ["garden"]}, actor="operator")
    assert out.status == "ok", out.error
    assert out.result["id"].startswith("evt-") and out.result["path"].startswith("memory/")
    found = run(profile, "memory_search", {"query": "operator"}, actor="operator")
    assert found.status == "ok" and found.result["count"] == 1
    assert found.result["results"][0]["id"] == out.result["id"]
    none = run(profile, "memory_search", {"query": "zeppelin"})
    assert none.result["results"] == [] and "nothing found" in none.result["message"]
    bad = run(profile, "capture_memory", {"content": "x", "type": "not a type!"})
    assert bad.status == "error"


def test_tool_specs_are_json(profile):
    for sid in ("fs_list", "task_create", "git_status"):
        spec = get_skill(sid).tool_spec()
        assert json.loads(json.dumps(spec))["function"]["parameters"]["type"] == "object"


def test_duckduckgo_without_the_package_says_what_to_install(profile):
    try:
        import ddgs  # noqa: F401
    except ImportError:
        profile.config.update("network", {"provider": "duckduckgo"})
        out = run(profile, "web_search", {"query": "x"})
        assert out.status == "error" and "pip install ddgs" in out.error
    else:
        pytest.skip("ddgs is installed; this checks the message shown when it is not")


def test_task_skills(profile, fixed_clock):
    created = run(profile, "task_create", {"title": "Write the quarterly report", "priority": "P1",
                                           "due": "2025-10-24", "tags": ["work"]}, actor="operator")
    assert created.status == "ok", created.error
    tid = created.result["id"]
    assert created.result["status"] == "todo" and created.result["priority"] == "P1"
    listed = run(profile, "task_list", actor="operator")
    assert [t["id"] for t in listed.result["tasks"]] == [tid]
    found = run(profile, "task_find", {"query": "quarterly"}, actor="operator")
    assert found.result["match"]["id"] == tid and found.result["count"] == 1
    assert run(profile, "task_find", {"query": "zeppelin"}).result["match"] is None
    done = run(profile, "task_update_status", {"task_id": tid, "status": "done"}, actor="operator")
    assert done.status == "ok" and done.result["status"] == "done"
    assert run(profile, "task_list").result["count"] == 0
    assert [t["id"] for t in run(profile, "task_list", {"status": "done"}).result["tasks"]] == [tid]
    missing = run(profile, "task_update_status", {"task_id": "task-20990101-000000", "status": "done"})
    assert missing.status == "error" and missing.error_type == "failed"
    bad = run(profile, "task_create", {"title": "x", "priority": "urgent"})
    assert bad.error_type == "bad_args" and "priority" in bad.error
    executed = profile.audit.query(event=events.SKILL_EXECUTED)
    assert {"id": tid, "status": "done"} in [e["details"]["result"] for e in executed]


def test_fs_mkdir(profile, home):
    made = run(profile, "fs_mkdir", {"path": "projects/2025"}, actor="operator")
    assert made.status == "ok" and made.result == {"path": "out/projects/2025", "created": True}
    assert (home / "out" / "projects" / "2025").is_dir()
    assert run(profile, "fs_mkdir", {"path": "out/projects/2025"}).result["created"] is False
    (home / "out" / "file.txt").write_text("x")
    assert "not a folder" in run(profile, "fs_mkdir", {"path": "out/file.txt"}).error
    assert run(profile, "fs_mkdir", {"path": "persona/new"}).status == "denied"
    assert run(profile, "fs_mkdir", {"path": "out/approval-queue/x"}).status == "denied"
