"""TaskStore: real files in memory/tasks/, status moves, audit, and id validation (hypothesis)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from metahuman_core.errors import NotFound, ValidationFailed
from metahuman_core.ids import TASK_ID_RE
from metahuman_core.tasks import PRIORITIES, TASK_STATUSES, TaskStore


def test_create_list_and_priority_order(profile, fixed_clock):
    tasks = TaskStore(profile)
    a = tasks.create("Write report", priority="P2")
    b = tasks.create("Fix the roof", priority="p0", due="2025-10-20", tags=["home"])
    fixed_clock.advance(1)
    c = tasks.create("Call mum", priority="P2")
    assert a["id"] == "task-20251019-160000" and b["id"] == "task-20251019-160000-2"
    assert (profile.root / "memory/tasks/active/task-20251019-160000-2.json").is_file()
    assert [t["title"] for t in tasks.list_active()] == ["Fix the roof", "Write report", "Call mum"]
    assert b["priority"] == "P0" and b["due"] == "2025-10-20" and b["status"] == "todo"
    assert tasks.get(c["id"])["title"] == "Call mum"
    assert set(TASK_STATUSES) == {"todo", "in_progress", "blocked", "done", "cancelled"}
    assert PRIORITIES == ("P0", "P1", "P2", "P3")


def test_status_moves_between_folders_and_reopen(profile, fixed_clock):
    tasks = TaskStore(profile)
    t = tasks.create("Ship it")
    active = profile.root / "memory/tasks/active" / f"{t['id']}.json"
    done = profile.root / "memory/tasks/completed" / f"{t['id']}.json"
    assert tasks.set_status(t["id"], "in_progress")["status"] == "in_progress"
    fixed_clock.advance(60)
    finished = tasks.set_status(t["id"], "done")
    assert done.is_file() and not active.exists() and finished["completed"]
    assert tasks.list_active() == [] and [x["id"] for x in tasks.list_completed()] == [t["id"]]
    fixed_clock.advance(60)
    reopened = tasks.set_status(t["id"], "todo")
    assert active.is_file() and not done.exists() and "completed" not in reopened
    assert tasks.set_status(t["id"], "cancelled")["status"] == "cancelled" and done.is_file()
    with pytest.raises(ValidationFailed, match="status"):
        tasks.set_status(t["id"], "finished")
    events = [e for d in profile.audit.dates() for e in profile.audit.entries(d)
              if e.get("details", {}).get("resource") == "task"]
    assert [e["event"] for e in events] == ["data_create"] + ["data_update"] * 4
    assert events[2]["details"]["from"] == "in_progress" and events[2]["details"]["status"] == "done"


def _task_audits(profile):
    return [e for d in profile.audit.dates() for e in profile.audit.entries(d)
            if e.get("details", {}).get("resource") == "task"]


def test_status_change_to_the_current_status_is_a_no_op(profile, fixed_clock):
    """Reopening an open task (or start/block/done on one already there) writes and audits
    nothing: `updated` keeps meaning "last changed" (QA regression)."""
    tasks = TaskStore(profile)
    t = tasks.create("Already open")
    path = profile.root / "memory/tasks/active" / f"{t['id']}.json"
    before, audits = path.read_bytes(), len(_task_audits(profile))
    for status in ("todo", "in_progress", "blocked", "done"):
        current = tasks.set_status(t["id"], status)
        fixed_clock.advance(60)
        again = tasks.set_status(t["id"], status)
        assert again == current and again["updated"] == current["updated"]
        if status == "todo":
            assert path.read_bytes() == before and len(_task_audits(profile)) == audits
    assert [e["details"]["status"] for e in _task_audits(profile)][1:] == [
        "in_progress", "blocked", "done"]  # one audit per real move, none for the repeats
    done = profile.root / "memory/tasks/completed" / f"{t['id']}.json"
    assert tasks.update(t["id"], {"priority": "P2", "due": None}) == tasks.get(t["id"])
    assert json.loads(done.read_text())["completed"] == current["completed"]
    assert len(_task_audits(profile)) == 4


def test_cli_says_already_and_exits_0(profile, mh):
    t = TaskStore(profile).create("Open one")
    path = profile.root / "memory/tasks/active" / f"{t['id']}.json"
    before = path.read_bytes()
    out = mh("task", "reopen", t["id"])
    assert out.returncode == 0, out.stderr
    assert "already todo" in out.stdout and path.read_bytes() == before
    as_json = mh("task", "reopen", t["id"], "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["updated"] == t["updated"]
    assert len(_task_audits(profile)) == 1  # the create only
    assert "Started" in mh("task", "start", t["id"]).stdout
    again = mh("task", "start", t["id"])
    assert again.returncode == 0 and "already in_progress" in again.stdout
    assert len(_task_audits(profile)) == 2


def test_update_keeps_unknown_fields_and_validates(profile, fixed_clock):
    tasks = TaskStore(profile)
    t = tasks.create("Plan trip", description="to Lisbon")
    path = profile.root / "memory/tasks/active" / f"{t['id']}.json"
    data = json.loads(path.read_text())
    data["estimate"] = "2h"
    path.write_text(json.dumps(data))
    new = tasks.update(t["id"], {"priority": "P1", "due": None, "tags": ["travel"]})
    assert new["estimate"] == "2h" and new["priority"] == "P1" and new["tags"] == ["travel"]
    for bad, field in (({"priority": "P9"}, "priority"), ({"due": "tomorrow"}, "due"),
                       ({"title": ""}, "title"), ({"id": "task-1"}, "id")):
        with pytest.raises(ValidationFailed, match=field):
            tasks.update(t["id"], bad)
    assert json.loads(path.read_text())["priority"] == "P1"


def test_find(profile, fixed_clock):
    tasks = TaskStore(profile)
    tasks.create("Buy oat milk", tags=["shopping"])
    t = tasks.create("Return library books", description="two overdue")
    tasks.set_status(t["id"], "done")
    assert [x["title"] for x in tasks.find("MILK")] == ["Buy oat milk"]
    assert [x["title"] for x in tasks.find("overdue books")] == ["Return library books"]
    assert [x["title"] for x in tasks.find("shopping")] == ["Buy oat milk"]
    assert tasks.find("milk books") == []


def test_crash_mid_move_shows_one_copy(profile, fixed_clock):
    tasks = TaskStore(profile)
    t = tasks.create("Half moved")
    fixed_clock.advance(5)
    done = tasks.set_status(t["id"], "done")
    # put back the old active copy, as if the process died before unlinking it
    stale = dict(t)
    (profile.root / "memory/tasks/active" / f"{t['id']}.json").write_text(json.dumps(stale))
    assert tasks.get(t["id"])["status"] == "done"
    assert tasks.list_active() == [] and len(tasks.list_completed()) == 1
    assert done["updated"] > t["updated"]


def test_corrupt_task_file_is_skipped_and_reported(profile):
    tasks = TaskStore(profile)
    tasks.create("Fine")
    bad = profile.root / "memory/tasks/active/task-20200101-000000.json"
    bad.write_text("{")
    assert [t["title"] for t in tasks.list_active()] == ["Fine"]
    assert tasks.corrupt[0][0] == bad


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=40),
    st.builds(lambda a, b: f"{a}task-20251019-160500{b}",
              st.sampled_from(["", "../", "../../", "/", "active/", "./", "..\\"]),
              st.sampled_from(["", "/../../x", ".json", "-1", "-99999", "\n", "/", "%00"])),
))
def test_crafted_ids_never_leave_the_task_folders(tmp_path_factory, text):
    root = tmp_path_factory.mktemp("t")
    from metahuman_core.profile import Profile

    prof = Profile(root)
    tasks = TaskStore(prof)
    if not TASK_ID_RE.fullmatch(text):
        for call in (lambda: tasks.get(text), lambda: tasks.set_status(text, "done"),
                     lambda: tasks.update(text, {"title": "x"})):
            with pytest.raises(ValidationFailed):
                call()
    else:
        with pytest.raises(NotFound):
            tasks.get(text)
        for folder in (tasks.active_dir, tasks.completed_dir):
            p = (folder / f"{text}.json").resolve()
            assert p.parent == folder.resolve()
    assert not any(p.is_file() for p in Path(root).rglob("*"))   # nothing was written anywhere
