"""MemoryStore: real files, real SQLite index, real subprocesses for concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from metahuman_core.errors import NotFound, ValidationFailed
from metahuman_core.memory import MemoryStore
from metahuman_core.search import index_for, search

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def audit_lines(profile, event):
    out = []
    for date in profile.audit.dates():
        out += [e for e in profile.audit.entries(date) if e.get("event") == event]
    return out


def test_capture_writes_the_seed_path_and_fields(profile, fixed_clock):
    store = MemoryStore(profile)
    rec = store.capture("Met with Sarah", tags=["work"], entities=["Sarah"], importance=0)
    path = profile.root / "memory/episodic/2025/evt-20251019-160000-met-with-sarah.json"
    assert rec["id"] == "evt-20251019-160000-met-with-sarah"
    assert rec["path"] == str(path)
    on_disk = json.loads(path.read_text())
    assert "path" not in on_disk
    assert on_disk["timestamp"] == "2025-10-19T16:00:00+02:00"
    assert on_disk["importance"] == 0.0          # a 0 stays 0 (the original's `||` bug)
    assert on_disk["metadata"] == {"processed": False}
    assert on_disk["tags"] == ["work"] and on_disk["entities"] == ["Sarah"]
    created = audit_lines(profile, "data_create")[-1]
    assert created["details"]["id"] == rec["id"] and created["details"]["resource"] == "memory"
    assert "Sarah" not in json.dumps(created)      # never the memory's text


def test_same_second_captures_get_suffixes(profile, fixed_clock):
    store = MemoryStore(profile)
    ids = [store.capture("Met with Sarah")["id"] for _ in range(3)]
    assert ids == ["evt-20251019-160000-met-with-sarah", "evt-20251019-160000-met-with-sarah-2",
                   "evt-20251019-160000-met-with-sarah-3"]
    assert all(store.get(i)["id"] == i for i in ids)


def test_given_timestamp_decides_folder_and_id(profile):
    store = MemoryStore(profile)
    ts = datetime(2023, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    rec = store.capture("New year's eve", timestamp=ts)
    assert rec["id"].startswith("evt-20231231-233000-")
    assert "/episodic/2023/" in rec["path"]


@pytest.mark.parametrize("kwargs, field", [
    ({"content": "  "}, "content"), ({"content": "x", "type": "Bad Type"}, "type"),
    ({"content": "x", "importance": 1.5}, "importance"), ({"content": "x", "tags": [""]}, "tags"),
    ({"content": "x", "links": [{"type": "file"}]}, "links"),
    ({"content": "x", "extra": {"tags": []}}, "tags"), ({"content": "x", "timestamp": "soon"}, "timestamp"),
])
def test_bad_fields_are_refused_naming_the_field(profile, kwargs, field):
    with pytest.raises(ValidationFailed, match=field):
        MemoryStore(profile).capture(**kwargs)
    assert not list((profile.root / "memory/episodic").rglob("*.json"))


def test_get_validates_ids_and_reports_missing(profile):
    store = MemoryStore(profile)
    for bad in ("../../persona/core", "evt-2025", "evt-20251019-160000-../x", ""):
        with pytest.raises(ValidationFailed):
            store.get(bad)
    with pytest.raises(NotFound, match="evt-20251019-160000-nothing"):
        store.get("evt-20251019-160000-nothing")


def test_update_keeps_unknown_fields_and_reindexes(profile, fixed_clock):
    store = MemoryStore(profile)
    rec = store.capture("Lunch with Bob", extra={"mood": "good"}, metadata={"trainingConsent": True})
    path = store.path_of(rec["id"])
    data = json.loads(path.read_text())
    data["handAdded"] = {"x": 1}
    path.write_text(json.dumps(data))
    new = store.update(rec["id"], {"content": "Dinner with Carol", "metadata": {"processed": True}})
    on_disk = json.loads(path.read_text())
    assert on_disk["handAdded"] == {"x": 1} and on_disk["mood"] == "good"
    assert on_disk["metadata"] == {"processed": False, "trainingConsent": True} | {"processed": True}
    assert new["content"] == "Dinner with Carol"
    assert [h.id for h in search(profile, "carol")] == [rec["id"]]
    assert search(profile, "bob") == []
    assert audit_lines(profile, "data_update")[-1]["details"]["fields"] == ["content", "metadata"]
    with pytest.raises(ValidationFailed, match="id"):
        store.update(rec["id"], {"id": "evt-20251019-160000-other"})


def test_delete_removes_file_and_index_entry(profile, fixed_clock):
    store = MemoryStore(profile)
    rec = store.capture("Forget me please")
    store.delete(rec["id"])
    assert not store.path_of(rec["id"]).exists()
    assert search(profile, "forget") == [] and store.count() == 0
    assert audit_lines(profile, "data_delete")[-1]["details"]["id"] == rec["id"]
    with pytest.raises(NotFound):
        store.delete(rec["id"])


def test_list_filters_and_order(profile):
    store = MemoryStore(profile)
    tz = timezone(timedelta(hours=2))
    for day, kind, tag in ((1, "journal", "a"), (2, "observation", "b"), (3, "journal", "b")):
        store.capture(f"day {day}", type=kind, tags=[tag],
                      timestamp=datetime(2025, 10, day, 12, tzinfo=tz))
    days = lambda recs: [r["content"] for r in recs]  # noqa: E731
    assert days(store.list()) == ["day 3", "day 2", "day 1"]
    assert days(store.list(newest_first=False, limit=2)) == ["day 1", "day 2"]
    assert days(store.list(type="journal")) == ["day 3", "day 1"]
    assert days(store.list(tag="B")) == ["day 3", "day 2"]
    assert days(store.list(after="2025-10-02")) == ["day 3", "day 2"]
    assert days(store.list(before="2025-10-02")) == ["day 1"]
    assert days(store.list(after=datetime(2025, 10, 2, 13, tzinfo=tz))) == ["day 3"]
    assert store.count() == 3
    with pytest.raises(ValidationFailed, match="after"):
        store.list(after="last week")


def test_iter_all_skips_and_reports_corrupt_files(profile, fixed_clock):
    store = MemoryStore(profile)
    store.capture("good one")
    bad = profile.root / "memory/episodic/2025/evt-20251019-160001-broken.json"
    bad.write_text("{not json")
    got = list(store.iter_all())
    assert [r["content"] for r in got] == ["good one"]
    assert store.corrupt and store.corrupt[0][0] == bad
    idx = index_for(profile)
    idx.sync(full=True)
    status = idx.status()
    assert status["corrupt"][0]["path"] == "2025/evt-20251019-160001-broken.json"


CAPTURE_SCRIPT = """
import sys
from metahuman_core.profile import Profile
from metahuman_core.memory import MemoryStore
store = MemoryStore(Profile(sys.argv[1]))
for i in range(int(sys.argv[3])):
    store.capture(f"same second note from worker {sys.argv[2]} number {i}", tags=["w" + sys.argv[2]])
"""


def test_concurrent_captures_in_four_processes(profile):
    env = dict(os.environ, MH_FAKE_NOW="2025-10-19T16:00:00+02:00", PYTHONPATH=REPO)
    per = 12
    procs = [subprocess.Popen([sys.executable, "-c", CAPTURE_SCRIPT, str(profile.root), str(w),
                               str(per)], env=env, stderr=subprocess.PIPE, text=True)
             for w in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    files = sorted((profile.root / "memory/episodic/2025").glob("evt-*.json"))
    assert len(files) == 4 * per
    contents = set()
    for f in files:
        data = json.loads(f.read_text())     # no torn or empty file
        assert data["id"] == f.stem
        contents.add(data["content"])
    assert len(contents) == 4 * per          # nothing lost or overwritten
    idx = index_for(profile)
    assert idx.count() == 4 * per            # index written by the four writers, no sync needed
    assert idx.sync(full=True) == {"added": 0, "updated": 0, "removed": 0, "bad": 0}
    for w in range(4):
        assert len(search(profile, f"tag:w{w}", limit=100)) == per
    assert len(search(profile, "same second note", limit=100)) == 4 * per
