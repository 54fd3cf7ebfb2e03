"""`mh audit checkpoint` and `mh audit verify --against`: a prefix proof kept elsewhere catches
the one attack the chain cannot — a log rewritten and re-hashed end to end, head record included."""

from __future__ import annotations

import json
import shutil

from metahuman_core import clock
from metahuman_core.audit import AuditLog
from tests.conftest import run_mh

NOW = "2025-10-19T10:00:00+02:00"


def at(home, *args):
    return run_mh(*args, home=home, env={"MH_FAKE_NOW": NOW})


def make(tmp_path):
    home = tmp_path / "home"
    assert run_mh("init", home, env={"MH_FAKE_NOW": NOW}).returncode == 0
    for i in range(3):
        assert at(home, "audit", "log", "note", f"entry {i}").returncode == 0
    return home


def test_checkpoint_then_verify_against_it(tmp_path):
    home = make(tmp_path)
    r = at(home, "audit", "checkpoint")
    assert r.returncode == 0, r.stderr
    token = r.stdout.splitlines()[0]
    assert token.startswith("mhcp:5:2025-10-19:") and len(token.split(":")[3]) == 64
    data = json.loads(at(home, "audit", "checkpoint", "--json").stdout)
    assert data["seq"] == 6 and data["token"].startswith("mhcp:6:") and data["log_ok"] is True
    assert at(home, "audit", "--event", "audit_checkpoint", "--json").stdout.count("\n") == 2
    for i in range(3):
        assert at(home, "audit", "log", "later", str(i)).returncode == 0
    r = at(home, "audit", "verify", "--against", token)
    assert r.returncode == 0, r.stderr
    assert "checkpoint seq 5 (2025-10-19) matches logs/audit/2025-10-19.ndjson:5" in r.stdout
    short = token[: token.rindex(":") + 1 + 16]                 # a paper notebook's worth
    r = at(home, "audit", "verify", "--against", short, "--against", data["token"], "--json")
    assert r.returncode == 0 and all(c["ok"] for c in json.loads(r.stdout)["checkpoints"])


def test_a_rehashed_forged_log_passes_the_chain_but_not_the_checkpoint(tmp_path):
    home = make(tmp_path)
    token = at(home, "audit", "checkpoint").stdout.splitlines()[0]
    # the forger rewrites history: same number of entries, one changed, everything re-hashed,
    # the head record rebuilt — by the log's own code, so the chain is perfect
    entries = [json.loads(l) for l in (home / "logs/audit/2025-10-19.ndjson").read_text().splitlines()]
    shutil.rmtree(home / "logs" / "audit")
    (home / "logs" / "audit-head.json").unlink()
    forged = AuditLog(home / "logs")
    clock.set_clock(clock.FixedClock(clock.parse_iso(NOW)))
    for e in entries:
        if e["details"].get("message") == "entry 1":
            e["details"]["message"] = "I never said that"
        forged.append(e["event"], level=e["level"], category=e["category"], actor=e["actor"],
                      details=e["details"])
    forged.close()
    assert at(home, "audit", "verify", "--all").returncode == 0       # the documented limit
    r = at(home, "audit", "verify", "--against", token)
    assert r.returncode == 1
    assert "checkpoint seq 5 (2025-10-19) does not match" in r.stderr
    assert "rewritten at or before seq 5" in r.stderr
    # a forged log that is shorter than the checkpoint
    shutil.rmtree(home / "logs" / "audit")
    (home / "logs" / "audit-head.json").unlink()
    forged = AuditLog(home / "logs")
    forged.append("system_init")
    forged.close()
    r = at(home, "audit", "verify", "--against", token)
    assert r.returncode == 1 and "no entry with that seq any more" in r.stderr


def test_a_bad_checkpoint_is_a_clear_usage_error(tmp_path):
    home = make(tmp_path)
    for bad in ("nonsense", "mhcp:5:2025-10-19:abc", "mhcp:0:2025-10-19:" + "a" * 64, ""):
        r = at(home, "audit", "verify", "--against", bad)
        assert r.returncode == 2, (bad, r.stderr)
        assert "not an audit checkpoint" in r.stderr or "seq must be" in r.stderr
        assert "Traceback" not in r.stderr
