"""Storage primitives: atomic writes, exclusive creates, locks that die with their process."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from metahuman_core import storage
from metahuman_core.errors import AlreadyRunning, CorruptFile
from metahuman_core.ids import slugify, memory_stem, validate_task_id, validate_date
from metahuman_core.errors import ValidationFailed


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "a" / "x.json"
    storage.atomic_write_json(p, {"a": 1})
    storage.atomic_write_json(p, {"b": 2})
    assert json.loads(p.read_text()) == {"b": 2}
    assert [f.name for f in p.parent.iterdir()] == ["x.json"]  # no temp files left behind


def test_exclusive_create_never_overwrites(tmp_path):
    paths = [storage.exclusive_create_json(tmp_path, "evt-1", {"n": i}) for i in range(3)]
    assert [p.name for p in paths] == ["evt-1.json", "evt-1-2.json", "evt-1-3.json"]
    assert [json.loads(p.read_text())["n"] for p in paths] == [0, 1, 2]


def _claim(args):
    directory, n = args
    return [storage.exclusive_create_json(directory, "same", {"pid": os.getpid(), "i": i}).name
            for i in range(n)]


def test_exclusive_create_across_processes(tmp_path):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        names = sum(pool.map(_claim, [(tmp_path, 25)] * 4), [])
    assert len(names) == len(set(names)) == 100
    for p in tmp_path.iterdir():
        json.loads(p.read_text())  # none torn


def test_read_json_reports_corrupt_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(CorruptFile) as exc:
        storage.read_json(p)
    assert str(p) in str(exc.value)
    p.write_text("")
    with pytest.raises(CorruptFile, match="empty"):
        storage.read_json(p)


def test_pid_lock_refuses_second_holder_and_dies_with_process(tmp_path):
    lock_path = tmp_path / "agent.lock"
    code = ("import sys,time; from metahuman_core.storage import PidLock; "
            f"PidLock(r'{lock_path}', 'x').acquire(); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning, match=rf"already running \(pid {proc.pid}\)"):
            storage.PidLock(lock_path, "x").acquire()
        assert storage.holder_pid(lock_path) == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    lock = storage.PidLock(lock_path, "x").acquire()  # a killed holder never blocks the next start
    lock.release()
    assert storage.holder_pid(lock_path) is None


@given(st.text(max_size=200))
def test_slug_is_safe(text):
    slug = slugify(text)
    assert slug and len(slug) <= 40
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in slug)
    assert not slug.startswith("-") and not slug.endswith("-")


def test_memory_stem_matches_seed_example(fixed_clock):
    from datetime import datetime
    assert memory_stem(datetime(2025, 10, 19, 16, 0, 0), "Met with Sarah") == \
        "evt-20251019-160000-met-with-sarah"


@given(st.text(max_size=60))
def test_task_id_validation_rejects_paths(text):
    try:
        validate_task_id(text)
    except ValidationFailed:
        return
    assert "/" not in text and ".." not in text and "\x00" not in text


@pytest.mark.parametrize("bad", ["2025-13-01", "2025-02-30", "../2025-01-01", "2025-1-1", ""])
def test_date_validation(bad):
    with pytest.raises(ValidationFailed):
        validate_date(bad)
