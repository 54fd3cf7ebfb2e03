"""The approval queue: fields, approve/reject/expire/wait, re-checks, and exactly-once execution
when two processes approve the same item."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from metahuman_core import events
from metahuman_core.approvals import ApprovalNotPending, ApprovalQueue, args_sha256
from metahuman_core.errors import NotFound, ValidationFailed
from metahuman_core.ids import APPROVAL_ID_RE
from metahuman_core.skills import execute
from tests.conftest import REPO

FIELDS = {"id", "skill", "args", "args_sha256", "risk", "requested_by", "created_at", "expires_at",
          "status", "decided_by", "reason", "result"}


def queue_write(profile, path="out/note.txt", content="hello", **kw) -> str:
    out = execute(profile, "fs_write", {"path": path, "content": content}, actor="operator", **kw)
    assert out.status == "queued", out
    return out.approval_id


def events_of(profile, name: str, approval_id: str | None = None) -> list[dict]:
    found = profile.audit.query(event=name)
    return [e for e in found if approval_id is None or e["details"].get("approval_id") == approval_id]


def test_queued_item_has_the_design_fields(profile):
    aid = queue_write(profile)
    assert APPROVAL_ID_RE.fullmatch(aid)
    path = profile.home.approval_queue / f"{aid}.json"
    item = json.loads(path.read_text())
    assert FIELDS <= set(item)
    assert item["status"] == "pending" and item["skill"] == "fs_write" and item["risk"] == "medium"
    assert item["requested_by"] == "operator" and item["trust"] == "supervised_auto"
    assert item["args"] == {"path": "out/note.txt", "content": "hello", "overwrite": False}
    assert item["args_sha256"] == args_sha256(item["args"])
    assert not (profile.home.out / "note.txt").exists()
    queued = events_of(profile, events.APPROVAL_QUEUED, aid)
    assert queued and queued[0]["details"]["yolo"] is False
    assert "hello" not in json.dumps(queued)  # content is redacted in the audit


def test_approve_executes_and_stores_the_result(profile):
    q = ApprovalQueue(profile)
    aid = queue_write(profile)
    assert [i["id"] for i in q.list()] == [aid]
    item = q.approve(aid, by="human")
    assert item["status"] == "executed" and item["decided_by"] == "human"
    assert item["result"] == {"path": "out/note.txt", "size": 5, "created": True}
    assert (profile.home.out / "note.txt").read_text() == "hello"
    assert q.get(aid)["status"] == "executed"
    for name in (events.APPROVAL_APPROVED, events.SKILL_EXECUTED, events.APPROVAL_EXECUTED):
        assert events_of(profile, name, aid), name
    with pytest.raises(ApprovalNotPending, match="already executed"):
        q.approve(aid)
    assert q.list("pending") == []
    assert [i["id"] for i in q.list("executed")] == [aid]


def test_failed_execution_is_stored_as_failed(profile):
    q = ApprovalQueue(profile)
    aid = execute(profile, "fs_delete", {"path": "out/missing.txt"}, actor="agent").approval_id
    item = q.approve(aid)
    assert item["status"] == "failed" and "no such file" in item["error"]
    assert events_of(profile, events.APPROVAL_FAILED, aid)


def test_reject_needs_and_keeps_a_reason(profile):
    q = ApprovalQueue(profile)
    aid = queue_write(profile)
    with pytest.raises(ValidationFailed):
        q.reject(aid, reason="  ")
    item = q.reject(aid, by="human", reason="not now")
    assert item["status"] == "rejected" and item["reason"] == "not now"
    with pytest.raises(ApprovalNotPending, match="rejected by human: not now"):
        q.approve(aid)
    assert not (profile.home.out / "note.txt").exists()
    assert events_of(profile, events.APPROVAL_REJECTED, aid)[0]["details"]["reason"] == "not now"


def test_tampered_args_are_not_executed(profile):
    q = ApprovalQueue(profile)
    aid = queue_write(profile)
    path = profile.home.approval_queue / f"{aid}.json"
    item = json.loads(path.read_text())
    item["args"]["path"] = "out/other.txt"
    path.write_text(json.dumps(item))
    done = q.approve(aid)
    assert done["status"] == "failed" and "args_sha256" in done["reason"]
    assert not (profile.home.out / "other.txt").exists()
    assert not (profile.home.out / "note.txt").exists()


def test_policy_is_rechecked_at_approval_time(profile):
    q = ApprovalQueue(profile)
    aid = queue_write(profile)
    profile.persona.set_trust_level("observe")  # fs_write needs suggest
    item = q.approve(aid)
    assert item["status"] == "rejected" and item["decided_by"] == "policy"
    assert "needs trust level suggest" in item["reason"]
    assert not (profile.home.out / "note.txt").exists()


def test_items_expire(profile, fixed_clock):
    q = ApprovalQueue(profile)
    aid = queue_write(profile)
    fixed_clock.advance(23 * 3600)
    assert q.expire_old() == 0
    fixed_clock.advance(2 * 3600)
    assert q.list("pending") == []  # listing expires due items first
    assert q.get(aid)["status"] == "expired"
    with pytest.raises(ApprovalNotPending, match="expired"):
        q.approve(aid)
    assert events_of(profile, events.APPROVAL_EXPIRED, aid)


def test_wait_returns_the_result_to_the_waiter(profile):
    q = ApprovalQueue(profile)
    aid = queue_write(profile)
    assert q.wait(aid, timeout=0.05)["status"] == "pending"  # timeout: still pending
    approver = threading.Timer(0.2, lambda: ApprovalQueue(profile).approve(aid))
    approver.start()
    try:
        item = q.wait(aid, timeout=30)
    finally:
        approver.join()
    assert item["status"] == "executed" and item["result"]["path"] == "out/note.txt"
    rid = queue_write(profile, path="out/two.txt")
    threading.Timer(0.1, lambda: ApprovalQueue(profile).reject(rid, reason="use three.txt")).start()
    assert q.wait(rid, timeout=30)["reason"] == "use three.txt"


def test_bad_ids_and_corrupt_files(profile):
    q = ApprovalQueue(profile)
    with pytest.raises(ValidationFailed):
        q.get("../../persona/core")
    with pytest.raises(NotFound):
        q.get("apr-20250101-000000-abcdef")
    (profile.home.approval_queue / "apr-20250101-000000-abcdef.json").write_text("{broken")
    listed = q.list()
    assert listed[0]["status"] == "corrupt" and "corrupt JSON" in listed[0]["error"]


APPROVER = """
import sys, time, json
from pathlib import Path
from metahuman_core.profile import Profile
from metahuman_core.approvals import ApprovalQueue
home, aid, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
q = ApprovalQueue(Profile(home))
while not go.exists():
    time.sleep(0.002)
try:
    item = q.approve(aid, by=f"proc-{sys.argv[4]}")
    print(json.dumps({"status": item["status"]}))
except Exception as exc:
    print(json.dumps({"error": str(exc)}))
"""


def test_two_processes_approving_execute_exactly_once(profile, home, tmp_path):
    aid = queue_write(profile, path="out/once.txt", content="once")
    go = tmp_path / "go"
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "MH_HOME": str(home)}
    procs = [subprocess.Popen([sys.executable, "-c", APPROVER, str(home), aid, str(go), str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for n in (1, 2)]
    time.sleep(0.5)  # let both import and start polling (not a timing assertion)
    go.touch()
    results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert sorted("status" in r for r in results) == [False, True], results
    winner = next(r for r in results if "status" in r)
    loser = next(r for r in results if "error" in r)
    assert winner["status"] == "executed" and "already" in loser["error"]
    assert len(events_of(profile, events.SKILL_EXECUTED, aid)) == 1
    assert len(events_of(profile, events.APPROVAL_APPROVED, aid)) == 1
    assert (profile.home.out / "once.txt").read_text() == "once"
    assert profile.audit.verify().ok
