"""The real `mh` in subprocesses: capture, search, memory, index, ingest, task, persona."""

from __future__ import annotations

import json

NOW = {"MH_FAKE_NOW": "2025-10-19T16:00:00+02:00"}


def test_capture_search_memory_and_index(mh, home):
    r = mh("capture", "Met with Sarah", "--tag", "work", "--entity", "Sarah", env=NOW)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Captured to: memory/episodic/2025/evt-20251019-160000-met-with-sarah.json"
    r = mh("capture", "-", "--type", "journal", "--json", env=NOW, input="Quiet evening reading\n")
    rec = json.loads(r.stdout)
    assert rec["type"] == "journal" and rec["id"] == "evt-20251019-160000-quiet-evening-reading"
    assert mh("capture", "x", "--importance", "3").returncode == 2

    r = mh("search", "sarah")
    assert r.returncode == 0 and "evt-20251019-160000-met-with-sarah" in r.stdout and "[Sarah]" in r.stdout
    hits = json.loads(mh("search", "evening", "--type", "journal", "--json").stdout)
    assert [h["id"] for h in hits] == [rec["id"]]
    r = mh("search", "zebra")
    assert r.returncode == 0 and r.stdout.strip() == "nothing found"
    assert json.loads(mh("search", "zebra", "--json").stdout) == []
    assert mh("search", "x", "--after", "someday").returncode == 2

    listed = json.loads(mh("memory", "list", "--tag", "work", "--json").stdout)
    assert [m["id"] for m in listed] == ["evt-20251019-160000-met-with-sarah"]
    r = mh("memory", "tag", "evt-20251019-160000-met-with-sarah", "people")
    assert r.returncode == 0 and "work, people" in r.stdout
    shown = json.loads(mh("memory", "show", "evt-20251019-160000-met-with-sarah", "--json").stdout)
    assert shown["tags"] == ["work", "people"]
    assert mh("memory", "show", "../../etc/agent").returncode == 2
    r = mh("memory", "delete", rec["id"], "--yes")
    assert r.returncode == 0 and not (home / "memory/episodic/2025" / f"{rec['id']}.json").exists()
    assert mh("memory", "show", rec["id"]).returncode == 1

    st = json.loads(mh("index", "rebuild", "--json").stdout)
    assert st["added"] == 1
    status = json.loads(mh("index", "status", "--json").stdout)
    assert status["memories"] == 1 and status["corrupt"] == []


def test_ingest_now(mh, home, tmp_path):
    (tmp_path / "notes.md").write_text("First paragraph.\n\nSecond paragraph.")
    (tmp_path / "bad.bin").write_bytes(b"\x00\x01")
    r = mh("ingest", str(tmp_path / "notes.md"), str(tmp_path / "bad.bin"), "--now", "--json")
    assert r.returncode == 1, r.stderr   # one file failed: exit 1 (issue 17)
    out = json.loads(r.stdout)
    assert out["queued"] == ["memory/inbox/notes.md", "memory/inbox/bad.bin"]
    assert (out["files"], out["memories"], out["failed"]) == (1, 1, 1)
    assert (home / "memory/inbox/_failed/bad.bin.error.txt").is_file()
    r = mh("ingest", str(tmp_path / "missing.txt"))
    assert r.returncode == 2 and "missing.txt" in r.stderr


def test_tasks(mh, home):
    r = mh("task", "add", "Call", "the", "bank", "--priority", "P1", "--due", "2025-10-20", env=NOW)
    assert r.returncode == 0 and "task-20251019-160000" in r.stdout
    mh("task", "add", "Fix roof", "-p", "P0", "--tag", "home", env=NOW)
    r = mh("task")
    lines = r.stdout.splitlines()
    assert "Fix roof" in lines[2] and "Call the bank" in lines[3]
    active = json.loads(mh("task", "--json").stdout)
    assert [t["priority"] for t in active] == ["P0", "P1"]
    assert mh("task", "start", "task-20251019-160000").returncode == 0
    r = mh("task", "done", "task-20251019-160000", "--json")
    assert json.loads(r.stdout)["status"] == "done"
    assert (home / "memory/tasks/completed/task-20251019-160000.json").is_file()
    assert [t["title"] for t in json.loads(mh("task", "find", "roof", "--json").stdout)] == ["Fix roof"]
    for bad in ("../../persona/core", "task-20251019-160000/../../x", "/etc/passwd"):
        r = mh("task", "done", bad)
        assert r.returncode == 2 and "invalid task id" in r.stderr
    assert mh("task", "show", "task-20991231-000000").returncode == 1
    r = mh("task", "edit", "task-20251019-160000-2", "--priority", "P9")
    assert r.returncode == 2 and "priority" in r.stderr


def test_persona(mh, home):
    assert mh("persona", "set", "identity.name", "Greg").returncode == 0
    assert json.loads(mh("persona", "show", "--json").stdout)["name"] == "Greg"
    assert "name:        Greg" in mh("persona", "show").stdout
    r = mh("persona", "set", "decision-rules.trustLevel", "godmode")
    assert r.returncode == 2 and "trust level" in r.stderr
    r = mh("persona", "set", "identity", "flat")
    assert r.returncode == 2 and "identity" in r.stderr
    log = (home / "logs/audit").glob("*.ndjson")
    assert any('"persona_changed"' in p.read_text() for p in log)


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "logs" not in p.parts and "index" not in p.parts}


def test_qa_bad_input_is_refused_cleanly(mh, home):
    """QA pass: huge limits, empty queries, typo'd persona sections and empty names are exit 2
    with a one-line error, never a traceback, and nothing changes on disk."""
    before = _tree(home)
    for args in (("memory", "list", "--limit", "99999999999999999999"),
                 ("search", "x", "--limit", "99999999999999999999"),
                 ("search", ""),
                 ("persona", "set", "identiy.name", "Greg"),
                 ("persona", "set", "identity.name", " ")):
        r = mh(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
    assert "no section 'identiy'" in mh("persona", "set", "identiy.name", "G").stderr
    assert _tree(home) == before
    r = mh("task", "show", "task-20991231-000000")
    assert r.returncode == 1 and "mh task list --all" in r.stderr


def test_qa_corrupt_memory_is_reported_and_deletable(mh, home):
    bad = home / "memory/episodic/2025/evt-20250101-000000-bad.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"content": ')
    mh("capture", "fine", env=NOW)
    r = mh("memory", "list")
    assert r.returncode == 0 and "fine" in r.stdout
    assert "1 unreadable memory file(s)" in r.stderr and "evt-20250101-000000-bad" in r.stderr
    r = mh("memory", "delete", "evt-20250101-000000-bad", "--yes")
    assert r.returncode == 0, r.stderr
    assert not bad.exists()
    assert "unreadable" not in mh("memory", "list").stderr
    from metahuman_core.profile import Profile
    from metahuman_core.search import index_for

    idx = index_for(Profile(home))
    assert not idx.conn.execute("SELECT count(*) FROM bad").fetchone()[0]  # no stale entry
