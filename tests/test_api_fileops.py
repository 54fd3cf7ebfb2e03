"""/api/file_operations: the seed's shapes and messages, the planned actions, path safety, trust —
and the seed's three curl examples, verbatim plus the token header, against a real `mh serve`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from metahuman_core.api_token import ensure_token  # noqa: E402
from metahuman_tui.http.app import create_api  # noqa: E402
from tests.conftest import MH, REPO  # noqa: E402

URL = "/api/file_operations"


@pytest.fixture
def auth(profile):
    return {"Authorization": f"Bearer {ensure_token(profile)}"}


@pytest.fixture
def client(profile, auth):
    return TestClient(create_api(profile), base_url="http://localhost")


@pytest.fixture
def op(client, auth):
    def _op(**body):
        return client.post(URL, json=body, headers=auth)
    return _op


def _tree(root: Path) -> set[str]:
    """Every file outside logs/ and out/ (what a traversal would touch)."""
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] not in ("logs", "out")}


# ------------------------------------------------------------------ the seed's actions
def test_seed_create_read_status_shapes(client, profile, op):
    r = op(action="create", filename="example.txt",
           content="This is an example file created through the API!")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    assert body["message"] == 'Successfully created file "example.txt"'
    assert body["path"] == str(profile.home.out / "example.txt") and os.path.isabs(body["path"])
    r = op(action="read", filename="example.txt")
    assert r.status_code == 200
    assert r.json()["content"] == "This is an example file created through the API!"
    assert r.json()["message"] == 'Successfully read file "example.txt"'
    status = client.get(URL, params={"action": "status"}).json()
    assert status["status"] == "online" and status["trustLevel"] == "supervised_auto"
    assert status["canWrite"] is True and status["canRead"] is True
    assert status["basePath"] == str(profile.home.out)
    assert client.get(URL).json()["status"] == "online"  # action defaults to status


@pytest.mark.parametrize("body, message", [
    ({"filename": "a.txt"}, "Action and filename are required"),
    ({"action": "create"}, "Action and filename are required"),
    ({"action": "read", "filename": ""}, "Action and filename are required"),
    ({"action": "rename", "filename": "a.txt"}, "Unsupported action: rename"),
    ({"action": "create", "filename": "a.txt"}, "Content is required for create and write actions"),
    ({"action": "create", "filename": "a.txt", "content": "x", "overwite": True},
     "Invalid request: unknown field 'overwite'"),
    ({"action": "search"}, "query is required for search"),
    ({"action": "batch"}, "operations is required for batch"),
])
def test_error_messages(op, profile, body, message):
    r = op(**body)
    assert r.status_code == 400, r.text
    assert r.json()["success"] is False and r.json()["error"].startswith(message)
    assert not (profile.home.out / "a.txt").exists()


def test_unknown_get_action(client):
    r = client.get(URL, params={"action": "explode"})
    assert r.status_code == 400 and r.json() == {
        "success": False, "error": "Unknown action: explode",
        "hint": "GET supports action=status, list or metadata; POST the others"}


def test_create_write_overwrite_semantics(op, profile):
    assert op(action="create", filename="e.txt", content="").json()["created"] is True
    assert (profile.home.out / "e.txt").read_text() == ""  # empty files are allowed
    r = op(action="create", filename="e.txt", content="again")
    assert r.status_code == 409 and "already exists" in r.json()["error"]
    assert (profile.home.out / "e.txt").read_text() == ""
    r = op(action="create", filename="e.txt", content="v2", overwrite=True)
    assert r.json()["message"] == 'Successfully overwrote file "e.txt"'
    r = op(action="write", filename="e.txt", content="v3")  # write replaces by default
    assert r.status_code == 200 and (profile.home.out / "e.txt").read_text() == "v3"
    r = op(action="write", filename="e.txt", content="v4", overwrite=False)
    assert r.status_code == 409
    r = op(action="write", filename="notes/2025/today.md", content="# today")
    assert r.status_code == 200 and (profile.home.out / "notes/2025/today.md").exists()
    assert op(action="write", filename="out/lead.txt", content="x").json()["path"] == \
        str(profile.home.out / "lead.txt")  # a leading out/ is accepted


def test_file_system_states_map_to_statuses(op, profile):
    out = profile.home.out
    (out / "folder").mkdir()
    (out / "folder" / "inner.txt").write_text("x")
    (out / "blob.bin").write_bytes(b"\x00\x01\x02" * 10)
    (out / "plain.txt").write_text("x")
    assert op(action="read", filename="missing.txt").status_code == 404
    assert op(action="read", filename="folder").status_code == 409
    assert op(action="read", filename="blob.bin").status_code == 422
    assert op(action="create", filename="folder", content="x").status_code == 409
    assert op(action="create", filename="plain.txt/below.txt", content="x").status_code == 409
    assert op(action="delete", filename="missing.txt").status_code == 404
    assert op(action="delete", filename="folder").status_code == 409  # not empty
    assert op(action="list", filename="nowhere").status_code == 404
    assert op(action="metadata", filename="nowhere/x.txt").status_code == 404


# ------------------------------------------------------------------ path safety
BAD_NAMES = ["../secrets.txt", "../../etc/passwd", "a/../../x", "/etc/passwd", "..", ".",
             "~/.ssh/id_rsa", ".env", "notes/.hidden", "out/../etc/api.json", "a\\..\\b",
             "x\x00y", "a//b", "approval-queue/../../persona/core.json", " lead-space",
             "a" * 300, "/".join(["d"] * 20), "semi;colon", "quote\"name", "star*"]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("action", ["create", "read", "delete", "metadata"])
def test_traversal_through_filename_refused(op, profile, name, action):
    before = _tree(profile.root)
    r = op(action=action, filename=name, content="pwned")
    assert r.status_code == 400, (name, r.text)
    assert r.json()["success"] is False and r.json()["error"].startswith("Invalid filename")
    assert _tree(profile.root) == before


def test_refusals_are_audited(op, profile):
    op(action="read", filename="../../etc/passwd")
    text = "".join(p.read_text() for p in profile.home.audit_dir.glob("*.ndjson"))
    assert '"event":"sandbox_violation"' in text and "../../etc/passwd" in text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(list("ab./\\~ -_\x00%:é") + ["..", "out/", "../"]),
                min_size=1, max_size=12).map("".join))
def test_any_filename_stays_inside_out(op, profile, name):
    before = _tree(profile.root)
    r = op(action="write", filename=name, content="x")
    assert r.status_code in (200, 400, 403, 409), (name, r.text)
    assert _tree(profile.root) == before
    if r.status_code == 200:
        path = Path(r.json()["path"])
        assert path.is_relative_to(profile.home.out) and path.read_text() == "x"
        assert ".." not in path.parts


def test_symlinks_inside_out_refused(op, profile, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("do not read")
    (profile.home.out / "link").symlink_to(outside)
    (profile.home.out / "file-link.txt").symlink_to(outside / "secret.txt")
    for body in ({"action": "read", "filename": "file-link.txt"},
                 {"action": "read", "filename": "link/secret.txt"},
                 {"action": "write", "filename": "link/new.txt", "content": "x"},
                 {"action": "write", "filename": "file-link.txt", "content": "x"}):
        r = op(**body)
        assert r.status_code == 403, (body, r.text)
        assert r.json()["error"].startswith("Refused by the sandbox")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "do not read"
    r = op(action="delete", filename="link")  # removes the link only
    assert r.status_code == 200 and (outside / "secret.txt").exists()


def test_approval_queue_is_not_writable(op, profile):
    r = op(action="create", filename="approval-queue/apr-20251019-160500-1a2b3c.json",
           content="{}")
    assert r.status_code == 403
    assert list(profile.home.approval_queue.glob("*.json")) == []


# ------------------------------------------------------------------ trust
def test_trust_levels_gate_file_actions(client, op, profile):
    profile.persona.set_trust_level("observe")
    status = client.get(URL, params={"action": "status"}).json()
    assert status["trustLevel"] == "observe" and status["canWrite"] is False
    assert status["canRead"] is True
    r = op(action="create", filename="a.txt", content="x")
    assert r.status_code == 403
    assert r.json()["error"].startswith("Insufficient trust level") and r.json()["success"] is False
    assert not (profile.home.out / "a.txt").exists()
    profile.persona.set_trust_level("suggest")  # fs_write ok ("ask" = your consent), no delete
    assert op(action="create", filename="a.txt", content="x").status_code == 200
    r = op(action="delete", filename="a.txt")
    assert r.status_code == 403 and "supervised_auto" in r.json()["error"]
    assert (profile.home.out / "a.txt").exists()
    profile.persona.set_trust_level("supervised_auto")
    assert op(action="delete", filename="a.txt").status_code == 200


# ------------------------------------------------------------------ planned actions
def test_list_metadata_delete(client, op, profile):
    op(action="create", filename="docs/a.md", content="alpha")
    op(action="create", filename="docs/b.txt", content="bravo!")
    op(action="create", filename="top.md", content="t")
    r = op(action="list", filename="docs").json()
    assert r["success"] and [f["name"] for f in r["files"]] == ["docs/a.md", "docs/b.txt"]
    assert r["files"][1]["size"] == 6 and r["path"] == str(profile.home.out / "docs")
    names = [f["name"] for f in op(action="list", pattern="*.md", recursive=True).json()["files"]]
    assert names == ["docs/a.md", "top.md"]
    got = client.get("/api/files", params={"path": "docs", "sort": "size"}).json()
    assert [f["name"] for f in got["files"]] == ["docs/b.txt", "docs/a.md"]
    assert client.get(URL, params={"action": "list", "filename": "docs"}).json()["count"] == 2
    meta = op(action="metadata", filename="docs/a.md").json()["metadata"]
    assert meta["size"] == 5 and meta["type"] == "file" and meta["mimeType"] == "text/markdown"
    assert meta["modified"] and meta["path"] == str(profile.home.out / "docs/a.md")
    folder = client.get(URL, params={"action": "metadata", "filename": "docs"}).json()
    assert folder["metadata"]["type"] == "dir"
    r = op(action="delete", filename="docs/a.md")
    assert r.json()["message"] == 'Successfully deleted file "docs/a.md"'
    assert not (profile.home.out / "docs/a.md").exists()
    assert op(action="metadata", filename="docs/a.md").status_code == 404
    op(action="delete", filename="docs/b.txt")
    assert op(action="delete", filename="docs").json()["kind"] == "folder"


def test_mkdir(op, profile):
    from metahuman_core.errors import NotFound
    from metahuman_core.skills import get_skill

    r = op(action="mkdir", filename="projects/2025")
    try:
        get_skill("fs_mkdir")
    except NotFound:  # the seed's "skill unavailable" answer until the skill exists
        assert r.status_code == 503 and r.json()["error"] == "Skill fs_mkdir is not available"
        return
    assert r.status_code == 200 and (profile.home.out / "projects/2025").is_dir()


def test_search_names_and_contents(op):
    op(action="create", filename="notes/bank.md", content="Call the bank\nabout the loan")
    op(action="create", filename="notes/other.txt", content="nothing here\nBANK holiday")
    op(action="create", filename="misc.txt", content="unrelated")
    by_name = op(action="search", query="bank").json()
    assert [m["name"] for m in by_name["matches"]] == ["notes/bank.md"]
    deep = op(action="search", query="bank", contents=True).json()
    found = {m["name"]: m for m in deep["matches"]}
    assert set(found) == {"notes/bank.md", "notes/other.txt"}
    assert found["notes/other.txt"]["lines"] == [{"line": 2, "text": "BANK holiday"}]
    assert found["notes/bank.md"]["nameMatch"] is True
    assert op(action="search", query="bank", filename="nowhere").status_code == 404


def test_batch(op, profile):
    r = op(action="batch", operations=[
        {"action": "create", "filename": "b1.txt", "content": "one"},
        {"action": "read", "filename": "b1.txt"},
        {"action": "read", "filename": "../escape"},
        {"action": "delete", "filename": "b1.txt"},
    ])
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is False and body["failed"] == 1
    assert body["message"] == "3 of 4 operations succeeded"
    assert [x["status"] for x in body["results"]] == [200, 200, 400, 200]
    assert body["results"][1]["content"] == "one"
    r = op(action="batch", stopOnError=True, operations=[
        {"action": "read", "filename": "missing.txt"},
        {"action": "create", "filename": "never.txt", "content": "x"}])
    assert [x.get("skipped", False) for x in r.json()["results"]] == [False, True]
    assert not (profile.home.out / "never.txt").exists()
    nested = op(action="batch", operations=[{"action": "batch", "operations": []}])
    assert nested.status_code == 400
    too_many = op(action="batch", operations=[{"action": "list"}] * 101)
    assert too_many.status_code == 400 and "at most 100" in too_many.json()["error"]


# ------------------------------------------------------------------ the real server
SEED_EXAMPLES = [
    """curl -X POST http://localhost:4321/api/file_operations \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer $(cat etc/secrets/api-token)" \\
  -d '{
    "action": "create",
    "filename": "example.txt",
    "content": "This is an example file created through the API!"
  }'""",
    """curl -X POST http://localhost:4321/api/file_operations \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer $(cat etc/secrets/api-token)" \\
  -d '{
    "action": "read",
    "filename": "example.txt"
  }'""",
    """curl -H "Authorization: Bearer $(cat etc/secrets/api-token)" http://localhost:4321/api/file_operations?action=status""",
]


def _port() -> int:
    """4321 (the seed's) when it is free, else any free loopback port."""
    for want in (4321, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", want))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


def _serve(home: Path, *args: str) -> tuple[subprocess.Popen, int]:
    """Start `mh serve` and wait until it listens (another process may win the port between our
    check and its bind: then try again on a fresh port)."""
    env = {**os.environ, "MH_HOME": str(home), "PYTHONPATH": str(REPO)}
    for _attempt in range(3):
        port = _port()
        proc = subprocess.Popen([*MH, "serve", "--port", str(port), *args], cwd=home, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return proc, port
            time.sleep(0.1)
        output = _stop(proc)
        if "address already in use" not in output:
            raise AssertionError(f"mh serve did not start listening: {output}")
    raise AssertionError("mh serve found no free port in 3 tries")


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def _curl(command: str, home: Path) -> tuple[int, dict]:
    import json

    if shutil.which("curl"):
        r = subprocess.run(["bash", "-c", command + " -s -o - -w '\\n%{http_code}'"], cwd=home,
                           capture_output=True, text=True, timeout=20)
        body, _, code = r.stdout.rpartition("\n")
        return int(code), json.loads(body)
    import httpx  # same request without curl: method, URL, headers and body of the example

    token = (home / "etc/secrets/api-token").read_text().strip()
    url = command.split("http://", 1)[1].split()[0].strip("'\"")
    headers = {"Authorization": f"Bearer {token}"}
    if "-d '" in command:
        payload = json.loads(command.split("-d '", 1)[1].rsplit("'", 1)[0])
        r = httpx.post(f"http://{url}", json=payload, headers=headers)
    else:
        r = httpx.get(f"http://{url}", headers=headers)
    return r.status_code, r.json()


@pytest.mark.slow
def test_seed_curl_examples_against_mh_serve(home):
    proc, port = _serve(home)
    try:
        results = [_curl(cmd.replace("4321", str(port)), home) for cmd in SEED_EXAMPLES]
        unauth = _curl(SEED_EXAMPLES[0].replace("4321", str(port)).replace(
            '-H "Authorization: Bearer $(cat etc/secrets/api-token)" \\\n', "").replace(
            "example.txt", "sneaky.txt"), home)
    finally:
        output = _stop(proc)
    (c1, created), (c2, read), (c3, status) = results
    assert c1 == 200 and created == {"success": True,
                                     "message": 'Successfully created file "example.txt"',
                                     "path": str(home / "out" / "example.txt"),
                                     "size": 48, "created": True}
    assert c2 == 200 and read["content"] == "This is an example file created through the API!"
    assert c3 == 200 and status["status"] == "online" and status["basePath"] == str(home / "out")
    assert {"status", "trustLevel", "canWrite", "canRead", "basePath"} <= set(status)
    assert unauth[0] == 401 and not (home / "out" / "sneaky.txt").exists()
    assert str(home / "etc" / "secrets" / "api-token") in output  # the token's path is printed


@pytest.mark.slow
def test_non_loopback_bind_requires_token_for_every_request(home):
    import httpx

    proc, port = _serve(home, "--host", "0.0.0.0")
    try:
        token = (home / "etc/secrets/api-token").read_text().strip()
        bare = httpx.get(f"http://127.0.0.1:{port}/api/status")
        with_token = httpx.get(f"http://127.0.0.1:{port}/api/status",
                               headers={"Authorization": f"Bearer {token}"})
    finally:
        output = _stop(proc)
    assert bare.status_code == 401
    assert with_token.status_code == 200
    assert "required for every request" in output


def test_mh_help_does_not_import_fastapi_or_uvicorn():
    code = ("import sys\nsys.argv=['mh','serve','--help']\nfrom metahuman_tui.cli import main\n"
            "try:\n    main.app(standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "print('MODULES', ' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout
    loaded = {m.split(".")[0] for m in out.split("MODULES", 1)[1].split()}
    assert not {"fastapi", "uvicorn", "starlette"} & loaded
    assert "--port" in out
