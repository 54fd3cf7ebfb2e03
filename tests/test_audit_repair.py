"""The audit log under a clock that jumps, a damaged log in a running app, every problem reported,
and old (version 1) head records — through the real `mh` CLI with MH_FAKE_NOW where it matters."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from metahuman_core.audit import AuditLog
from metahuman_core.audit_head import HEAD_SIZE
from tests.conftest import run_mh


def at(home, when, *args, **kw):
    return run_mh(*args, home=home, env={"MH_FAKE_NOW": when}, **kw)


def fresh(tmp_path, when="2025-10-18T09:00:00+02:00") -> Path:
    home = tmp_path / "home"
    r = run_mh("init", home, env={"MH_FAKE_NOW": when})
    assert r.returncode == 0, r.stderr
    return home


def day(home, date) -> Path:
    return home / "logs" / "audit" / f"{date}.ndjson"


def test_a_clock_that_jumps_a_day_ahead_and_back_is_not_tampering(tmp_path):
    home = fresh(tmp_path)
    steps = ["2025-10-18T23:58:00+02:00",   # before midnight
             "2025-10-19T23:59:00+02:00",   # NTP jumps a day ahead …
             "2025-10-19T23:59:30+02:00",
             "2025-10-18T23:59:00+02:00",   # … and comes back
             "2025-10-19T00:00:30+02:00",   # real midnight: the 19th again
             "2025-10-18T12:00:00+02:00",   # a laptop waking with a stale clock
             "2025-10-19T08:00:00+02:00"]
    for i, when in enumerate(steps):
        assert at(home, when, "audit", "log", "tick", str(i)).returncode == 0
    r = at(home, steps[-1], "audit", "verify", "--all")
    assert r.returncode == 0, r.stderr
    assert "8 entries in 2 file(s), chain intact" in r.stdout
    for date in ("2025-10-18", "2025-10-19"):          # each day alone verifies too
        r = at(home, steps[-1], "audit", "verify", "--date", date)
        assert r.returncode == 0, (date, r.stderr)
    seqs = [json.loads(l)["seq"] for l in day(home, "2025-10-19").read_text().splitlines()]
    assert seqs == [3, 4, 6, 8]                           # the gaps live in the other file
    # and real damage after the jumps is still found, with every problem listed
    lines = day(home, "2025-10-18").read_text().splitlines(keepends=True)
    day(home, "2025-10-18").write_text("".join(lines[:2] + lines[3:]))   # drop seq 5
    text = day(home, "2025-10-19").read_text().replace("tick", "tock", 1)
    day(home, "2025-10-19").write_text(text)
    r = at(home, steps[-1], "audit", "verify", "--all", "--json")
    assert r.returncode == 1
    problems = json.loads(r.stdout)["problems"]
    found = {(p["file"], p["line"], p["kind"]) for p in problems}
    assert ("logs/audit/2025-10-19.ndjson", 1, "edited") in found, problems
    assert any(p["kind"] == "missing" and "seq 5 missing" in p["problem"] for p in problems)
    r = at(home, steps[-1], "audit", "verify", "--date", "2025-10-18")
    assert r.returncode == 1 and "seq 5 missing from this file" in r.stderr, r.stderr


def test_a_capture_on_a_damaged_log_is_kept_and_the_damage_is_loud(tmp_path):
    home = fresh(tmp_path)
    now = "2025-10-18T10:00:00+02:00"
    for i in range(3):
        assert at(home, now, "audit", "log", "note", str(i)).returncode == 0
    lines = day(home, "2025-10-18").read_text().splitlines(keepends=True)
    day(home, "2025-10-18").write_text("".join(lines[:-2]))           # erase the last two
    r = at(home, now, "capture", "Met with Sarah about the roof")
    assert r.returncode == 0, r.stderr
    assert "audit log damaged" in r.stderr and "mh audit verify --all" in r.stderr
    assert list((home / "memory" / "episodic").rglob("evt-*.json"))     # the data write happened
    entries = [json.loads(l) for l in day(home, "2025-10-18").read_text().splitlines()]
    repair, created = entries[-2], entries[-1]
    assert repair["event"] == "audit_chain_repaired" and repair["level"] == "critical"
    assert repair["category"] == "security" and repair["seq"] == 5          # head was at seq 4
    assert repair["details"]["head"]["seq"] == 4
    assert any("seq 3–4 missing" in f for f in repair["details"]["found"])
    assert created["event"] == "data_create" and created["prev"] == repair["hash"]
    for _ in range(2):   # forever: the gap and the repair are reported on every later verify
        r = at(home, now, "audit", "verify", "--all")
        assert r.returncode == 1
        assert "seq 3–4 missing" in r.stderr and "audit_chain_repaired" in r.stderr
        assert at(home, now, "audit", "log", "later").returncode == 0
    r = at(home, now, "audit", "--event", "audit_chain_repaired", "--json")   # readers work
    assert json.loads(r.stdout.splitlines()[0])["seq"] == 5


def test_an_open_process_notices_its_day_file_and_head_replaced(home, fixed_clock):
    """A long-running app keeps descriptors open: a deleted day file or a head swapped by `mv`
    must not swallow its appends (into an unlinked inode) or split the lock."""
    log = AuditLog(home / "logs")
    log.append("one")
    path = log.day_path(fixed_clock.now().strftime("%Y-%m-%d"))
    path.unlink()
    log.append("two")
    assert path.exists() and log.last_repair is not None
    assert any("missing" in f for f in log.last_repair["details"]["found"])
    old = log.head_path.read_bytes()
    log.append("three")
    tmp = log.head_path.with_name("h.tmp")
    tmp.write_bytes(old)
    os.replace(tmp, log.head_path)                     # rolled back by rename: a new inode
    log.last_repair = None
    log.append("four")
    assert log.last_repair is not None
    assert any("past the head record" in f for f in log.last_repair["details"]["found"])


def test_verify_json_lists_every_problem_with_file_and_line(tmp_path):
    home = fresh(tmp_path)
    for d in ("2025-10-18", "2025-10-19"):
        for i in range(3):
            assert at(home, f"{d}T1{i}:00:00+02:00", "audit", "log", "n", str(i)).returncode == 0
    a = day(home, "2025-10-18").read_text().splitlines(keepends=True)
    day(home, "2025-10-18").write_text("".join(a[:1] + [a[1].replace('"n"', '"m"')] + a[2:]))
    b = day(home, "2025-10-19").read_text().splitlines(keepends=True)
    day(home, "2025-10-19").write_text("".join(b[:1] + ["junk\n"] + b[2:]))
    r = at(home, "2025-10-19T12:00:00+02:00", "audit", "verify", "--all", "--json")
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert data["ok"] is False and data["checked"] == 6
    got = {(p["file"], p["line"], p["kind"]) for p in data["problems"]}
    assert {("logs/audit/2025-10-18.ndjson", 2, "edited"),
            ("logs/audit/2025-10-19.ndjson", 2, "garbage"),
            ("logs/audit/2025-10-19.ndjson", 3, "missing")} <= got, data["problems"]
    r = at(home, "2025-10-19T12:00:00+02:00", "audit", "verify", "--all")
    assert r.stderr.count("BROKEN: ") == len(data["problems"]) >= 3
    assert "problem(s) in 6 entries" in r.stderr


def test_a_version_1_head_is_migrated_without_a_repair(home, fixed_clock):
    log = AuditLog(home / "logs")
    for i in range(3):
        log.append("old", details={"i": i})
        fixed_clock.advance(86400)
    log.close()
    live = json.loads(log.head_path.read_bytes()[:HEAD_SIZE])
    v1 = json.dumps({k: live[k] for k in ("seq", "hash", "date", "offset")})
    log.head_path.write_bytes(v1.ljust(HEAD_SIZE - 1).encode() + b"\n")   # as the old code wrote it
    assert log.verify(all_days=True).ok
    log2 = AuditLog(home / "logs")
    log2.append("new")
    assert log2.last_repair is None
    res = log2.verify(all_days=True)
    assert res.ok, res.problems
    assert json.loads(log2.head_path.read_bytes()[:HEAD_SIZE])["v"] == 2


def test_a_version_1_head_over_a_damaged_log_is_recorded_not_migrated(home, fixed_clock):
    log = AuditLog(home / "logs")
    for i in range(3):
        log.append("old", details={"i": i})
    log.close()
    live = json.loads(log.head_path.read_bytes()[:HEAD_SIZE])
    v1 = json.dumps({k: live[k] for k in ("seq", "hash", "date", "offset")})
    log.head_path.write_bytes(v1.ljust(HEAD_SIZE - 1).encode() + b"\n")
    path = log.day_path(live["date"])
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))  # cut the last
    fixed_clock.advance(86400)                                                  # and a new day
    log2 = AuditLog(home / "logs")
    log2.append("new")
    assert log2.last_repair is not None
    assert any(f"seq {live['seq']} missing" in f for f in log2.last_repair["details"]["found"])
    res = log2.verify(all_days=True)
    assert {p["kind"] for p in res.problems} == {"missing", "repaired"}, res.problems


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_seeds_jq_recipes_read_a_repaired_log(tmp_path):
    home = fresh(tmp_path)
    now = "2025-10-18T10:00:00+02:00"
    at(home, now, "audit", "log", "lora_dataset_built")
    with day(home, "2025-10-18").open("a") as fh:
        fh.write("garbage\n")
    at(home, now, "audit", "log", "lora_dataset_auto_approved")
    day(home, "2025-10-18").write_text(
        "".join(l for l in day(home, "2025-10-18").read_text().splitlines(keepends=True)
                if l != "garbage\n"))   # jq reads JSON lines; the seed's recipes never saw junk
    events = subprocess.run(["jq", "-r", ".event"], input=day(home, "2025-10-18").read_text(),
                            capture_output=True, text=True, check=True).stdout.split()
    assert events == ["system_init", "lora_dataset_built", "audit_chain_repaired",
                      "lora_dataset_auto_approved"]
    grep = subprocess.run(f'grep "lora_dataset_auto" {day(home, "2025-10-18")} | jq .',
                          shell=True, capture_output=True, text=True, check=True).stdout
    assert json.loads(grep)["event"] == "lora_dataset_auto_approved"
