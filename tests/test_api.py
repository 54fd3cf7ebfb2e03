"""REST API: token, guard (auth, Host, body limit, audit), status, tasks, audit, approvals."""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from metahuman_core import events  # noqa: E402
from metahuman_core.api_token import (bearer, check_token, ensure_token, read_token,  # noqa: E402
                                      token_path)
from metahuman_core.errors import MHError  # noqa: E402
from metahuman_core.redact import redact  # noqa: E402
from metahuman_tui.http.app import create_api  # noqa: E402


@pytest.fixture
def token(profile):
    return ensure_token(profile)


@pytest.fixture
def client(profile, token):
    return TestClient(create_api(profile), base_url="http://localhost")


@pytest.fixture
def auth(token):
    return {"Authorization": f"Bearer {token}"}


def _audit_lines(profile) -> list[dict]:
    return [json.loads(line) for p in sorted(profile.home.audit_dir.glob("*.ndjson"))
            for line in p.read_text().splitlines() if line.strip()]


def _task_files(profile) -> list[str]:
    return sorted(p.name for d in (profile.home.tasks_active, profile.home.tasks_completed)
                  for p in d.glob("*.json"))


# ------------------------------------------------------------------ token
def test_token_file_is_private_idempotent_and_redacted(profile):
    first = ensure_token(profile)
    path = token_path(profile)
    assert path == profile.root / "etc" / "secrets" / "api-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(first) >= 40
    assert ensure_token(profile) == first == read_token(profile)
    assert first not in json.dumps(redact({"note": f"token is {first}"}))


def test_token_concurrent_first_use_agrees(profile):
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_token(profile)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert not [p for p in token_path(profile).parent.iterdir() if p.name.endswith(".tmp")]


def test_token_loose_permissions_tightened_bad_file_refused(profile):
    path = token_path(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("short\n")
    with pytest.raises(MHError, match="api-token"):
        ensure_token(profile)
    path.write_text("x" * 32 + "\n")
    os.chmod(path, 0o644)
    assert read_token(profile) == "x" * 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_token_symlink_refused(profile, tmp_path):
    path = token_path(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # `mh init` created a real one
    (tmp_path / "elsewhere").write_text("y" * 40)
    path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(MHError, match="symlink"):
        read_token(profile)


def test_bearer_and_check_token():
    assert bearer("Bearer abc") == "abc" and bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") is None and bearer("Bearer ") is None and bearer(None) is None
    assert check_token("secret-token", "secret-token")
    assert not check_token("secret-token", "secret-tokex")
    assert not check_token("secret-token", None) and not check_token(None, "x")


# ------------------------------------------------------------------ guard
def test_unauthenticated_writes_get_401_and_change_nothing(client, profile, token):
    before_out = sorted(p.name for p in profile.home.out.iterdir())
    calls = [
        ("post", "/api/file_operations", {"action": "create", "filename": "x.txt", "content": "x"}),
        ("post", "/api/tasks", {"title": "sneaky"}),
        ("patch", "/api/tasks", {"taskId": "task-20251019-160500", "status": "done"}),
        ("post", "/api/approvals", {"id": "apr-20251019-160500-1a2b3c", "action": "approve"}),
    ]
    for headers in ({}, {"Authorization": "Bearer wrong-token-000000000000"},
                    {"Authorization": f"Basic {token}"}, {"Authorization": token}):
        for method, url, body in calls:
            r = getattr(client, method if method != "patch" else "patch")(url, json=body,
                                                                         headers=headers)
            assert r.status_code == 401, (method, url, headers, r.text)
            assert r.json()["success"] is False and "token" in r.json()["error"]
            assert r.headers["www-authenticate"].startswith("Bearer")
    # even a malformed body is refused for the token first
    r = client.post("/api/file_operations", content=b"{not json",
                    headers={"content-type": "application/json"})
    assert r.status_code == 401
    assert sorted(p.name for p in profile.home.out.iterdir()) == before_out
    assert _task_files(profile) == []
    failed = [e for e in _audit_lines(profile) if e["event"] == events.AUTH_FAILED]
    assert len(failed) == 17 and all(e["category"] == "security" for e in failed)
    assert token not in profile.home.audit_dir.joinpath(
        sorted(os.listdir(profile.home.audit_dir))[-1]).read_text()


def test_reads_open_on_loopback_but_token_for_reads_closes_them(profile, token, auth):
    open_client = TestClient(create_api(profile), base_url="http://localhost")
    assert open_client.get("/api/status").status_code == 200
    strict = TestClient(create_api(profile, token_for_reads=True), base_url="http://127.0.0.1")
    for url in ("/api/status", "/api/tasks", "/api/audit", "/api/approvals",
                "/api/file_operations?action=status", "/api/files", "/openapi.json"):
        assert strict.get(url).status_code == 401, url
        assert strict.get(url, headers=auth).status_code == 200, url


def test_foreign_host_header_refused_on_loopback(profile, token):
    client = TestClient(create_api(profile), base_url="http://localhost")
    r = client.get("/api/status", headers={"host": "evil.example:4321"})
    assert r.status_code == 403 and "DNS rebinding" in r.json()["error"]
    for host in ("localhost:4321", "127.0.0.1:4321", "[::1]:4321", "127.0.0.2"):
        assert client.get("/api/status", headers={"host": host}).status_code == 200, host
    anyhost = TestClient(create_api(profile, token_for_reads=True, allowed_hosts=None))
    assert anyhost.get("/api/status", headers={
        "host": "box.lan", "Authorization": f"Bearer {token}"}).status_code == 200


def test_body_size_limit_413_and_nothing_written(client, profile, auth):
    profile.config.set_value("api.maxBodyBytes", 2048)
    big = {"action": "create", "filename": "big.txt", "content": "x" * 4096}
    r = client.post("/api/file_operations", json=big, headers=auth)
    assert r.status_code == 413 and "maxBodyBytes" in r.json()["error"]

    def chunks():  # no Content-Length: the limit holds for a streamed body too
        yield json.dumps(big).encode()[:1500]
        yield json.dumps(big).encode()[1500:]
    r = client.post("/api/file_operations", content=chunks(),
                    headers={**auth, "content-type": "application/json"})
    assert r.status_code == 413
    assert not (profile.home.out / "big.txt").exists()
    small = {"action": "create", "filename": "small.txt", "content": "x" * 100}
    assert client.post("/api/file_operations", json=small, headers=auth).status_code == 200


def test_each_call_audited_without_contents(client, profile, auth):
    secret_words = "my diary entry about the bank"
    client.post("/api/file_operations", headers=auth,
                json={"action": "create", "filename": "diary.txt", "content": secret_words})
    client.get("/api/status")
    client.get("/api/audit", params={"date": "2025-10-19", "event": "zzz"})
    api = [e for e in _audit_lines(profile) if e["event"] == events.API_REQUEST]
    assert [(e["details"]["method"], e["details"]["path"], e["details"]["status"])
            for e in api] == [("POST", "/api/file_operations", 200), ("GET", "/api/status", 200),
                              ("GET", "/api/audit", 200)]
    assert all(e["actor"] == "api" for e in api)
    assert api[0]["details"]["authenticated"] is True
    assert api[2]["details"]["query_keys"] == ["date", "event"]
    text = "".join(p.read_text() for p in profile.home.audit_dir.glob("*.ndjson"))
    assert secret_words not in text  # contents never reach the log
    assert "zzz" not in json.dumps(api) and "2025-10-19" not in json.dumps(api)  # nor query values
    executed = [e for e in _audit_lines(profile) if e["event"] == events.SKILL_EXECUTED]
    assert executed and executed[-1]["actor"] == "human"


# ------------------------------------------------------------------ status
def test_status_shape(client, profile, auth):
    client.post("/api/tasks", json={"title": "Call the bank"}, headers=auth)
    data = client.get("/api/status").json()
    assert data["identity"]["trustLevel"] == "supervised_auto"
    assert set(data["identity"]) == {"name", "role", "trustLevel"}
    assert data["tasks"] == {"active": 1, "byStatus": {"todo": 1, "in_progress": 0, "blocked": 0}}
    assert data["model"]["current"] and data["model"]["useAdapter"] is False
    assert data["counts"]["activeTasks"] == 1
    assert {"values", "goals", "lastUpdated", "problems"} <= set(data)


# ------------------------------------------------------------------ tasks
def test_tasks_create_list_update(client, profile, auth):
    r = client.post("/api/tasks", headers=auth,
                    json={"title": "Call the bank", "priority": "P1", "tags": ["money"],
                          "due": "2025-10-24"})
    assert r.status_code == 201 and r.json()["success"] is True
    task_id = r.json()["task"]["id"]
    listed = client.get("/api/tasks").json()
    assert listed["status"] == "active" and [t["id"] for t in listed["tasks"]] == [task_id]
    r = client.patch("/api/tasks", json={"taskId": task_id, "status": "done"}, headers=auth)
    assert r.status_code == 200 and r.json()["task"]["status"] == "done"
    assert client.get("/api/tasks").json()["tasks"] == []
    everything = client.get("/api/tasks", params={"status": "all"}).json()
    assert [t["id"] for t in everything["completedTasks"]] == [task_id]
    assert [t["id"] for t in client.get("/api/tasks?status=done").json()["tasks"]] == [task_id]
    kinds = [e["event"] for e in _audit_lines(profile)]
    assert events.DATA_CREATE in kinds and events.DATA_UPDATE in kinds


@pytest.mark.parametrize("body, status, words", [
    ({"taskId": "../../persona/core", "status": "done"}, 400, "invalid task id"),
    ({"taskId": "task-20200101-000000", "status": "done"}, 404, "not found"),
    ({"taskId": "task-20200101-000000", "status": "finished"}, 400, "status"),
    ({"taskId": "task-20200101-000000"}, 400, "'status' is required"),
])
def test_task_update_validation(client, auth, body, status, words):
    r = client.patch("/api/tasks", json=body, headers=auth)
    assert r.status_code == status, r.text
    assert r.json()["success"] is False and words in r.json()["error"]


def test_task_create_validation_and_trust(client, profile, auth):
    assert client.post("/api/tasks", json={"title": "  "}, headers=auth).status_code == 400
    r = client.post("/api/tasks", json={"title": "x", "due": "2025-02-30"}, headers=auth)
    assert r.status_code == 400 and "due" in r.json()["error"]
    assert client.post("/api/tasks", json={"title": "x", "extra": 1},
                       headers=auth).json()["error"] == "Invalid request: unknown field 'extra'"
    profile.persona.set_trust_level("suggest")  # task_create needs supervised_auto
    r = client.post("/api/tasks", json={"title": "Call the bank"}, headers=auth)
    assert r.status_code == 403 and r.json()["error"].startswith("Insufficient trust level")
    assert _task_files(profile) == []


# ------------------------------------------------------------------ audit
@pytest.mark.parametrize("date", ["../../etc/passwd", "2025-10-19/../../x", "2025-13-01",
                                  "2025-02-30", "20251019", "..%2F..%2Fetc"])
def test_audit_date_traversal_refused(client, profile, date):
    r = client.get("/api/audit", params={"date": date})
    assert r.status_code == 400 and r.json()["success"] is False
    r = client.get("/api/audit", params={"date": date, "security": "true"})
    assert r.status_code == 400


def test_audit_day_summary_and_security_report(client, profile, fixed_clock):
    profile.audit.append("user_event", actor="human", details={"n": 1})
    profile.audit.append(events.SANDBOX_VIOLATION, level="warn", category="security")
    profile.audit.append("boom", level="error", category="action")
    day = fixed_clock.now().strftime("%Y-%m-%d")
    data = client.get("/api/audit", params={"date": day}).json()
    assert data["date"] == day and data["truncated"] is False
    assert data["summary"]["total"] == len(data["entries"]) >= 3
    assert data["summary"]["byLevel"]["error"] >= 1
    assert set(data["summary"]["byCategory"]) == {"system", "decision", "action", "security",
                                                  "data"}
    assert [e["event"] for e in client.get("/api/audit", params={
        "date": day, "event": "user_event"}).json()["entries"]] == ["user_event"]
    assert len(client.get("/api/audit", params={"date": day, "limit": 1}).json()["entries"]) == 1
    report = client.get("/api/audit", params={"date": day, "security": "true"}).json()
    assert [e["event"] for e in report["issues"]] == ["boom"]
    assert events.SANDBOX_VIOLATION in [e["event"] for e in report["warnings"]]
    other = client.get("/api/audit", params={"date": "2025-01-01", "security": "true"}).json()
    assert other == {"date": "2025-01-01", "issues": [], "warnings": [], "truncated": False}


# ------------------------------------------------------------------ approvals
def _queue_write(profile, name="queued.txt"):
    from metahuman_core.skills import execute

    outcome = execute(profile, "fs_write", {"path": f"out/{name}", "content": "hello"},
                      actor="agent")
    assert outcome.status == "queued"
    return outcome.approval_id


def test_approvals_list_approve_and_reject(client, profile, auth):
    first, second = _queue_write(profile, "a.txt"), _queue_write(profile, "b.txt")
    pending = client.get("/api/approvals").json()["approvals"]
    assert [a["id"] for a in pending] == [first, second]
    r = client.post("/api/approvals", json={"id": first, "action": "approve"}, headers=auth)
    assert r.status_code == 200 and r.json()["approval"]["status"] == "executed"
    assert (profile.home.out / "a.txt").read_text() == "hello"
    assert client.post("/api/approvals", json={"id": first, "action": "approve"},
                       headers=auth).status_code == 409
    r = client.post("/api/approvals", json={"id": second, "action": "reject"}, headers=auth)
    assert r.status_code == 400 and "reason" in r.json()["error"]
    r = client.post("/api/approvals", json={"id": second, "action": "reject",
                                            "reason": "not now"}, headers=auth)
    assert r.json()["approval"]["status"] == "rejected" and r.json()["approval"]["decided_by"] == "human"
    assert not (profile.home.out / "b.txt").exists()
    assert client.get("/api/approvals").json()["approvals"] == []
    assert len(client.get("/api/approvals?status=all").json()["approvals"]) == 2


@pytest.mark.parametrize("ident, status", [("../../etc/api", 400), ("apr-x", 400),
                                           ("apr-20251019-160500-1a2b3c", 404)])
def test_approval_ids_validated(client, auth, ident, status):
    r = client.post("/api/approvals", json={"id": ident, "action": "approve"}, headers=auth)
    assert r.status_code == status and r.json()["success"] is False


def test_approval_rechecked_at_current_trust(client, profile, auth):
    ident = _queue_write(profile)
    profile.persona.set_trust_level("observe")  # fs_write needs suggest
    r = client.post("/api/approvals", json={"id": ident, "action": "approve"}, headers=auth)
    assert r.status_code == 409 and "rejected" in r.json()["error"]
    assert not (profile.home.out / "queued.txt").exists()


# ------------------------------------------------------------------ openapi
def test_openapi_document_describes_auth_and_errors(client):
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    for path in ("/api/status", "/api/tasks", "/api/audit", "/api/approvals",
                 "/api/file_operations", "/api/files"):
        assert path in doc["paths"], path
    post = doc["paths"]["/api/file_operations"]["post"]
    assert post["security"] == [{"apiToken": []}]
    assert {"400", "401", "403", "413"} <= set(post["responses"])
    assert "422" not in doc["paths"]["/api/tasks"]["post"]["responses"]
    assert doc["paths"]["/api/status"]["get"]["security"] == [{}, {"apiToken": []}]
