"""Tamper evidence through the real `mh` CLI (issue 16, DESIGN §5).

A log of three days (oldest, middle, newest) is written by `mh` itself under MH_FAKE_NOW. Each
tamper class must be reported by `mh audit verify --all` (exit 1, file:line, what) — and still be
reported after one more ordinary append, which must itself succeed (the app keeps working; the
append records the damage it finds instead of re-chaining over it). A clock that jumps a day
ahead and comes back is not tampering.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from metahuman_core.audit import build_line
from tests.conftest import run_mh

D1, D2, D3 = "2025-10-17", "2025-10-18", "2025-10-19"
NOW3 = f"{D3}T18:00:00+02:00"


def mh_at(home, when, *args):
    return run_mh(*args, home=home, env={"MH_FAKE_NOW": when})


def day(home, date) -> Path:
    return Path(home) / "logs" / "audit" / f"{date}.ndjson"


def lines(home, date) -> list[str]:
    return day(home, date).read_text().splitlines(keepends=True)


def all_entries(home) -> list[dict]:
    out = []
    for path in (Path(home) / "logs" / "audit").glob("*.ndjson"):
        for text in path.read_text().splitlines():
            try:
                out.append(json.loads(text))
            except ValueError:
                continue
    return [e for e in out if isinstance(e, dict) and "seq" in e]


def put(home, date, new_lines) -> None:
    day(home, date).write_text("".join(new_lines))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """init on D1, then 4 `mh audit log` entries on each of D1, D2, D3 (13 entries in all)."""
    root = tmp_path_factory.mktemp("audit-tamper") / "home"
    r = run_mh("init", root, env={"MH_FAKE_NOW": f"{D1}T08:00:00+02:00"})
    assert r.returncode == 0, r.stderr
    for d in (D1, D2, D3):
        for i in range(4):
            r = mh_at(root, f"{d}T1{i}:00:00+02:00", "audit", "log", "note", f"{d} entry {i}")
            assert r.returncode == 0, r.stderr
        if d == D2:  # a head record as it was at the end of D2 (for the rollback class)
            shutil.copy(root / "logs" / "audit-head.json", root.parent / "head-after-d2.json")
    r = mh_at(root, NOW3, "audit", "verify", "--all")
    assert r.returncode == 0 and "13 entries" in r.stdout, (r.stdout, r.stderr)
    return root


@pytest.fixture
def log_home(template, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(template, home)
    shutil.copy(template.parent / "head-after-d2.json", tmp_path / "head-after-d2.json")
    return home


def rehash(line: str, **changes) -> str:
    """A hand-made entry with a *valid* hash (an attacker who knows the format)."""
    entry = {**json.loads(line), **changes}
    return build_line(entry["seq"], entry["prev"], entry["timestamp"], entry["level"],
                      entry["category"], entry["event"], entry["actor"], entry["details"])[0]


def forged_next(home, date) -> str:
    last = json.loads(lines(home, date)[-1])
    return rehash(lines(home, date)[-1], seq=last["seq"] + 1, prev=last["hash"],
                  details={"message": "I was never here"})


# name -> (tamper(home), file the report names, fragment of the report)
TAMPER = {
    "edit": (lambda h: put(h, D2, [l.replace("entry 1", "entry 9") for l in lines(h, D2)]),
             f"{D2}.ndjson:2:", "hash mismatch"),
    "edit_rehashed": (lambda h: put(h, D2, [rehash(l, actor="evil") if "entry 1" in l else l
                                            for l in lines(h, D2)]),
                      f"{D2}.ndjson:3:", "chain broken"),
    "delete_first_oldest": (lambda h: put(h, D1, lines(h, D1)[2:]),
                            f"{D1}.ndjson:1:", "seq 1–2 missing from the start"),
    "delete_middle": (lambda h: put(h, D2, lines(h, D2)[:1] + lines(h, D2)[2:]),
                      f"{D2}.ndjson:2:", "seq 7 missing"),
    "delete_last_middle_day": (lambda h: put(h, D2, lines(h, D2)[:-1]),
                               f"{D3}.ndjson:1:", "seq 9 missing"),
    "delete_last_newest": (lambda h: put(h, D3, lines(h, D3)[:-2]),
                           f"{D3}.ndjson:", "seq 12–13 missing"),
    "insert_copy": (lambda h: put(h, D2, lines(h, D2)[:3] + [lines(h, D1)[1]] + lines(h, D2)[3:]),
                    f"{D2}.ndjson:4:", "seq 2 comes after seq 8"),
    "insert_forged_at_end": (lambda h: put(h, D3, lines(h, D3) + [forged_next(h, D3)]),
                             f"{D3}.ndjson:", "seq 14 is past the head record"),
    "reorder": (lambda h: put(h, D2, [lines(h, D2)[1], lines(h, D2)[0]] + lines(h, D2)[2:]),
                f"{D2}.ndjson:2:", "seq 6 comes after seq 7"),
    "move_between_days": (lambda h: (put(h, D2, [lines(h, D1)[-1]] + lines(h, D2)),
                                     put(h, D1, lines(h, D1)[:-1])),
                          f"{D2}.ndjson:1:", f"dated {D1}, not {D2}"),
    "empty_oldest": (lambda h: put(h, D1, []), f"{D1}.ndjson:0:", "day file emptied"),
    "empty_middle": (lambda h: put(h, D2, []), f"{D2}.ndjson:0:", "day file emptied"),
    "empty_newest": (lambda h: put(h, D3, []), f"{D3}.ndjson:", "seq 10–13 missing"),
    "delete_oldest_file": (lambda h: day(h, D1).unlink(), f"{D1}.ndjson:0:", "day file missing"),
    "delete_middle_file": (lambda h: day(h, D2).unlink(), f"{D2}.ndjson:0:", "day file missing"),
    "delete_newest_file": (lambda h: day(h, D3).unlink(), f"{D2}.ndjson:", "seq 10–13 missing"),
    "rename_oldest": (lambda h: day(h, D1).rename(day(h, "2025-10-10")),
                      "2025-10-10.ndjson:1:", f"dated {D1}, not 2025-10-10"),
    "rename_middle": (lambda h: day(h, D2).rename(day(h, "2025-10-16")),
                      "2025-10-16.ndjson:1:", f"dated {D2}, not 2025-10-16"),
    "rename_newest": (lambda h: day(h, D3).rename(day(h, "2025-10-20")),
                      "2025-10-20.ndjson:1:", f"dated {D3}, not 2025-10-20"),
    "copy_day_file": (lambda h: shutil.copy(day(h, D2), day(h, "2025-10-15")),
                      "2025-10-15.ndjson:1:", "written twice"),
    "garbage_line": (lambda h: put(h, D3, lines(h, D3) + ["rm -rf / # oops\n"]),
                     f"{D3}.ndjson:5:", "not an audit entry"),
    "garbage_middle": (lambda h: put(h, D2, lines(h, D2)[:2] + ["{}\n"] + lines(h, D2)[2:]),
                       f"{D2}.ndjson:3:", "not an audit entry"),
    "torn_last_line": (lambda h: put(h, D3, lines(h, D3)[:-1] + [lines(h, D3)[-1][:50]]),
                       f"{D3}.ndjson:4:", "incomplete"),
    "head_deleted": (lambda h: (h / "logs" / "audit-head.json").unlink(),
                     "audit-head.json", "head record missing"),
    "head_deleted_and_last_line": (lambda h: ((h / "logs" / "audit-head.json").unlink(),
                                              put(h, D3, lines(h, D3)[:-1])),
                                   "audit-head.json", "head record missing"),
    "head_garbage": (lambda h: (h / "logs" / "audit-head.json").write_text(
        '{"seq": 13, "hash": "x", "date": "../../etc/passwd", "offset": 1}'),
                     "audit-head.json:1:", "head record unreadable"),
    "head_rolled_back": (lambda h: shutil.copy(h.parent / "head-after-d2.json",
                                               h / "logs" / "audit-head.json"),
                         f"{D3}.ndjson:", "seq 10–13 are past the head record"),
}


@pytest.mark.parametrize("name", sorted(TAMPER))
def test_tamper_is_reported_also_after_the_next_append(log_home, name):
    tamper, where, fragment = TAMPER[name]
    tamper(log_home)
    before = mh_at(log_home, NOW3, "audit", "verify", "--all")
    assert before.returncode == 1, (name, before.stdout, before.stderr)
    assert where in before.stderr and fragment in before.stderr, (name, before.stderr)

    after_append = mh_at(log_home, f"{D3}T19:00:00+02:00", "audit", "log", "after_tamper")
    assert after_append.returncode == 0, (name, after_append.stderr)   # the app keeps working

    after = mh_at(log_home, NOW3, "audit", "verify", "--all", "--json")
    assert after.returncode == 1, (name, after.stdout)
    report = json.loads(after.stdout)
    texts = [f"{p['file']}:{p['line']}: {p['problem']}" for p in report["problems"]]
    assert any(fragment in t for t in texts), (name, texts)       # the original damage, still
    # the entry asked for was written, once, as the newest entry of the chain
    tail = [json.loads(l) for l in lines(log_home, D3) if "after_tamper" in l]
    assert len(tail) == 1 and tail[0]["seq"] == max(e["seq"] for e in all_entries(log_home))
    seqs = [e["seq"] for e in all_entries(log_home)]
    if name not in ("insert_copy", "copy_day_file"):
        assert len(seqs) == len(set(seqs)), (name, sorted(seqs))   # never a fork
    # and once more: a third append after the repair leaves the log in step (no new repair),
    # and the original damage is still reported
    again = mh_at(log_home, f"{D3}T19:30:00+02:00", "audit", "log", "later")
    assert again.returncode == 0 and "audit log damaged" not in again.stderr, again.stderr
    last = mh_at(log_home, NOW3, "audit", "verify", "--all")
    assert last.returncode == 1 and fragment in last.stderr, (name, last.stderr)


@pytest.mark.parametrize("name,fragment", [
    ("empty_newest", "day file emptied"), ("delete_newest_file", "day file missing"),
    ("delete_last_newest", "seq 12–13 missing"), ("garbage_line", "not an audit entry"),
    ("insert_forged_at_end", "seq 14 is not in the head record"),
    ("head_deleted", "head record missing")])
def test_plain_verify_of_today_catches_damage_to_today(log_home, name, fragment):
    """`mh audit verify` (today only, the seed's habit) is not fooled by an emptied day either."""
    TAMPER[name][0](log_home)
    r = mh_at(log_home, NOW3, "audit", "verify")
    assert r.returncode == 1 and fragment in r.stderr, (name, r.stderr)
