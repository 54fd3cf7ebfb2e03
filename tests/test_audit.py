"""The audit chain: concurrent appends stay valid; any edit, deletion, insertion, reordering or
truncation is detected and the first broken line is named."""

import json
import multiprocessing

import pytest

from metahuman_core import audit as audit_mod
from metahuman_core.audit import AuditLog
from metahuman_core.profile import Profile
from tests.conftest import run_mh


def _append_many(args):
    root, worker, n = args
    log = Profile(root).audit
    for i in range(n):
        log.append("bench_event", actor=f"w{worker}", details={"i": i, "worker": worker})
    return n


@pytest.fixture
def filled(fixed_clock, home):
    """4 processes × 5,000 appends through the core helper."""
    with multiprocessing.get_context("fork").Pool(4) as pool:
        assert sum(pool.map(_append_many, [(home, w, 5000) for w in range(4)])) == 20000
    return home


def _day_file(home):
    files = sorted((home / "logs" / "audit").glob("*.ndjson"))
    assert len(files) == 1
    return files[0]


def test_concurrent_appends_verify(filled):
    lines = _day_file(filled).read_text().splitlines()
    assert len(lines) == 20001  # + system_init
    seqs = [json.loads(l)["seq"] for l in lines]
    assert seqs == list(range(1, 20002))
    r = run_mh("audit", "verify", "--all", home=filled)
    assert r.returncode == 0, r.stderr
    assert "20001 entries" in r.stdout


def _mutate_and_verify(home, mutate):
    path = _day_file(home)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(mutate(lines)))
    return run_mh("audit", "verify", "--all", home=home)


@pytest.mark.parametrize("name,mutate,line,fragment", [
    ("edit", lambda L: L[:99] + [L[99].replace('"i":', '"i":1')] + L[100:], 100, "edited"),
    ("delete", lambda L: L[:99] + L[100:], 100, "deleted"),
    ("insert", lambda L: L[:50] + [L[10]] + L[50:], 51, "inserted"),
    ("swap", lambda L: L[:20] + [L[21], L[20]] + L[22:], 22, "reordered"),
    ("truncate", lambda L: L[:-3], 19998, "missing from the end"),
    ("torn", lambda L: L[:-1] + [L[-1][:40]], 20001, "incomplete"),
])
def test_tampering_is_detected(filled, name, mutate, line, fragment):
    r = _mutate_and_verify(filled, mutate)
    assert r.returncode == 1, (name, r.stdout, r.stderr)
    assert f".ndjson:{line}:" in r.stderr, (name, r.stderr)
    assert fragment in r.stderr, (name, r.stderr)


def test_a_forked_child_does_not_share_the_parents_lock(home):
    """AuditLog objects used before a fork keep working in both processes without a torn chain."""
    log = Profile(home).audit
    log.append("before_fork")
    ctx = multiprocessing.get_context("fork")

    def child():
        for i in range(300):
            log.append("child", details={"i": i})

    procs = [ctx.Process(target=child) for _ in range(3)]
    for p in procs:
        p.start()
    for i in range(300):
        log.append("parent", details={"i": i})
    for p in procs:
        p.join()
        assert p.exitcode == 0
    res = log.verify(all_days=True)
    assert res.ok, res.first_problem()
    assert res.checked == 1 + 1 + 4 * 300  # system_init + before_fork + appends


def test_cross_day_chain_and_verify_all(home, fixed_clock):
    log = Profile(home).audit
    for day in range(3):
        for i in range(5):
            log.append("e", details={"d": day, "i": i})
        fixed_clock.advance(86400)
    assert len(log.dates()) >= 3
    assert log.verify(all_days=True).ok
    # deleting a whole middle day leaves a gap in seq order, and the head record names the file
    middle = log.dates()[1]
    log.day_path(middle).unlink()
    res = log.verify(all_days=True)
    texts = [f"{p['file']}:{p['line']}: {p['problem']}" for p in res.problems]
    assert not res.ok and any(f"{middle}.ndjson:0: day file missing" in t for t in texts), texts
    assert any("missing" in t and f"{middle}.ndjson)" in t for t in texts), texts


def test_a_lost_head_is_recorded_not_silently_resynced(home):
    """The head is evidence: losing it is reported, and the next append records that it was lost
    (audit_chain_repaired) instead of quietly re-reading the log's end."""
    log = Profile(home).audit
    log.append("a")
    log.close()
    log.head_path.write_text("")  # head lost
    assert "head record missing" in log.verify().first_problem()
    log2 = AuditLog(home / "logs")
    entry = log2.append("b")
    assert log2.last_repair["event"] == "audit_chain_repaired"
    assert log2.last_repair["seq"] == entry["seq"] - 1 == 3
    assert "head record missing" in log2.last_repair["details"]["found"][0]
    assert log2.damage()["seq"] == 3
    res = log2.verify(all_days=True)
    assert not res.ok and [p["kind"] for p in res.problems] == ["repaired"]
    log2.append("c")  # in step again: no second repair
    assert log2.damage()["seq"] == 3 and len(log2.verify(all_days=True).problems) == 1


def test_redaction_secrets_and_contents(home, monkeypatch):
    monkeypatch.setenv("RUNPOD_API_KEY", "rp_supersecretvalue")
    log = Profile(home).audit
    entry = log.append("x", details={"api_key": "abc123456", "content": "my diary text",
                                     "note": "key is rp_supersecretvalue", "long": "y" * 5000})
    text = _day_file(home).read_text()
    assert "abc123456" not in text and "my diary text" not in text
    assert "rp_supersecretvalue" not in text
    assert entry["details"]["content"]["size"] == len("my diary text")
    assert len(entry["details"]["long"]) < 1100


def test_helpers_have_seed_shapes(profile):
    log = profile.audit
    e = audit_mod.audit_data_change(log, type="create", resource="task", path="/x", actor="human")
    assert e["event"] == "data_create" and e["category"] == "data"
    e = audit_mod.audit_security(log, type="permission_denied", severity="high", description="no")
    assert e["category"] == "security" and e["level"] == "error" and e["event"] == "permission_denied"
    e = audit_mod.audit_decision(log, situation="s", chosen="c", reasoning="r", confidence=0.85)
    assert e["category"] == "decision" and e["details"]["confidence"] == 0.85
    for e in log.query():
        assert e["event"]  # `jq -r .event` never prints null


def test_cli_log_and_filters(mh, home):
    assert mh("audit", "log", "my_script_ran", "--details", '{"ok": true}').returncode == 0
    assert mh("audit", "log", "backup_done", "nightly backup finished").returncode == 0
    r = mh("audit", "--event", "backup_done", "--json")
    assert json.loads(r.stdout)["details"] == {"message": "nightly backup finished"}
    assert mh("audit", "log", "Bad Name").returncode == 2
    assert mh("audit", "log", "x", "--details", "{nope").returncode == 2
    assert mh("audit", "log", "x", "--level", "loud").returncode == 2
    r = mh("audit", "--event", "my_script_ran", "--json")
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["details"] == {"ok": True} and rows[0]["actor"] == "human"
    r = mh("audit", "summary", "--json")
    assert json.loads(r.stdout)["by_event"]["my_script_ran"] == 1
    assert mh("audit", "--date", "2025-02-30").returncode == 2
    assert mh("audit", "verify").returncode == 0


def test_verify_while_the_app_appends_reports_nothing(home, fixed_clock):
    """An agent or the API appending during `verify` is not "entries past the head record"."""
    log = Profile(home).audit
    for i in range(2000):
        log.append("warm", details={"i": i})
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()

    def writer():
        own = AuditLog(home / "logs")
        while not stop.is_set():
            own.append("busy", actor="agent")

    procs = [ctx.Process(target=writer) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        results = [log.verify(all_days=True) for _ in range(5)] + [log.verify() for _ in range(5)]
    finally:
        stop.set()
        for p in procs:
            p.join()
    assert all(r.ok for r in results), [r.problems for r in results if not r.ok][:1]
    assert log.verify(all_days=True).checked > results[0].checked
