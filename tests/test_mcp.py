"""`mh mcp` (issue 22): the skills as MCP tools through the same gate, driven as a real subprocess
with the official SDK's stdio client — initialize, tools and their schemas, memory search, task
creation with an `mcp:<client>` audit line, queued writes approved with `mh approvals approve`,
denials, bad arguments, resources, config caps, and a clean exit when the client closes stdin.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

mcp = pytest.importorskip("mcp", reason="the mcp extra is not installed")

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError as McpError
from mcp.types import Implementation

from tests.conftest import MH, REPO, run_mh

CLIENT = "test-client"
ACTOR = f"mcp:{CLIENT}"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MH_HOME"}
    env["PYTHONPATH"] = str(REPO)
    return env


@asynccontextmanager
async def connect(home: Path, *extra: str, client: str = CLIENT, errlog=None):
    params = StdioServerParameters(command=MH[0], args=[*MH[1:], "--home", str(home), "mcp", *extra],
                                   env=_env(), cwd=str(REPO))
    with tempfile.TemporaryFile("w+") as own:
        err = errlog if errlog is not None else own
        async with stdio_client(params, errlog=err) as (read, write), \
                ClientSession(read, write,
                              client_info=Implementation(name=client, version="1.0")) as session:
            await session.initialize()
            yield session


def drive(home: Path, body, *extra: str, client: str = CLIENT, errlog=None):
    """Run `body(session)` against a fresh `mh mcp` and return what it returns."""
    async def main():
        async with connect(home, *extra, client=client, errlog=errlog) as session:
            return await body(session)
    return anyio.run(main)


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def audit_lines(home: Path) -> list[dict]:
    out = []
    for path in sorted((home / "logs" / "audit").glob("*.ndjson")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


# ---------------------------------------------------------------- tools and schemas
def test_initialize_and_list_tools_with_valid_schemas(home):
    from jsonschema.validators import Draft202012Validator

    from metahuman_core.skills import list_skills

    async def body(s):
        init = s.initialize_result
        tools = (await s.list_tools()).tools
        resources = (await s.list_resources()).resources
        templates = (await s.list_resource_templates()).resource_templates
        return init, tools, resources, templates

    init, tools, resources, templates = drive(home, body)
    assert init.server_info.name == "metahuman"
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {s.id for s in list_skills()} | {"approval_status"}
    for skill in list_skills():
        tool = by_name[skill.id]
        assert tool.description == skill.description
        Draft202012Validator.check_schema(tool.input_schema)
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema == skill.json_schema()
    assert by_name["fs_read"].annotations.read_only_hint is True
    assert by_name["fs_delete"].annotations.destructive_hint is True
    uris = {str(r.uri) for r in resources}
    assert {"persona://summary", "tasks://today", "memory://recent"} <= uris
    assert any(t.uri_template == "memory://{id}" for t in templates)


# ---------------------------------------------------------------- memory
def test_memory_search_finds_a_captured_memory_and_resources_read_it(home):
    r = run_mh("capture", "Lunch with Ada about the lighthouse project", home=home)
    assert r.returncode == 0, r.stderr

    async def body(s):
        found = await s.call_tool("memory_search", {"query": "lighthouse"})
        recent = await s.read_resource("memory://recent")
        return found, recent

    found, recent = drive(home, body)
    assert not found.is_error, text_of(found)
    data = found.structured_content
    assert data["count"] == 1
    assert "lighthouse" in json.dumps(data["results"][0])
    assert "lighthouse" in text_of(found)
    listed = json.loads(recent.contents[0].text)
    mem_id = listed["memories"][0]["id"]

    one = drive(home, lambda s: s.read_resource(f"memory://{mem_id}"))
    memory = json.loads(one.contents[0].text)
    assert memory["id"] == mem_id and "lighthouse" in memory["content"]
    assert not Path(memory["path"]).is_absolute()  # home-relative, like the skills' paths
    reads = [e for e in audit_lines(home) if e["event"] == "mcp_resource_read"]
    assert {e["details"]["uri"] for e in reads} >= {"memory://recent", f"memory://{mem_id}"}
    assert all(e["actor"] == ACTOR for e in reads)


def test_unknown_memory_id_is_a_clear_error_not_a_crash(home):
    async def body(s):
        try:
            await s.read_resource("memory://evt-20250101-000000-nope")
        except McpError as exc:  # the SDK raises the JSON-RPC error
            err = str(exc)
        else:
            err = ""
        tools = await s.list_tools()  # still serving
        return err, tools

    err, tools = drive(home, body)
    assert "no memory" in err.lower() or "not found" in err.lower()
    assert tools.tools


# ---------------------------------------------------------------- tasks and audit
def test_task_create_writes_a_task_file_and_an_audit_line_with_the_mcp_actor(home):
    result = drive(home, lambda s: s.call_tool("task_create", {"title": "Call the plumber",
                                                              "priority": "P1"}))
    assert not result.is_error, text_of(result)
    task = result.structured_content
    files = list((home / "memory" / "tasks").rglob(f"{task['id']}.json"))
    assert len(files) == 1
    assert json.loads(files[0].read_text())["title"] == "Call the plumber"
    lines = audit_lines(home)
    executed = [e for e in lines if e["event"] == "skill_executed"
                and e["details"].get("skill") == "task_create"]
    assert executed and executed[-1]["actor"] == ACTOR
    assert executed[-1]["details"]["trust"] == "supervised_auto"
    decision = [e for e in lines if e["event"] == "skill_decision"][-1]
    assert decision["actor"] == ACTOR and decision["details"]["decision"] == "run"
    assert decision["details"]["origin"]["via"] == "mcp"
    started = [e for e in lines if e["event"] == "mcp_session_started"]
    ended = [e for e in lines if e["event"] == "mcp_session_ended"]
    assert len(started) == 1 and len(ended) == 1
    assert started[0]["actor"] == ACTOR and started[0]["details"]["client"] == CLIENT
    assert started[0]["details"]["trust"] == "supervised_auto"
    assert ended[0]["details"]["calls"] == 1
    assert {e["event"] for e in lines} <= core_event_names(), "every MCP event is in the catalogue"


def core_event_names() -> set[str]:
    """The core's audit event catalogue (metahuman_core.events): one home for every event name."""
    from metahuman_core import events

    return {v for k, v in vars(events).items() if k.isupper() and isinstance(v, str)}


def test_today_and_persona_resources(home):
    for args in (("Water the plants", "--priority", "P0"), ("Someday: learn the cello",)):
        assert run_mh("task", "add", *args, home=home).returncode == 0, args

    async def body(s):
        return await s.read_resource("tasks://today"), await s.read_resource("persona://summary")

    today, persona = drive(home, body)
    data = json.loads(today.contents[0].text)
    assert [t["title"] for t in data["tasks"]] == ["Water the plants"]  # P0; the other waits
    summary = json.loads(persona.contents[0].text)
    assert summary["trustLevel"] == "supervised_auto" and "coreValues" in summary


# ---------------------------------------------------------------- approvals
def test_fs_write_queues_and_approving_it_runs_it(home):
    result = drive(home, lambda s: s.call_tool("fs_write", {"path": "out/from-mcp.txt",
                                                           "content": "hello"}))
    assert not (home / "out" / "from-mcp.txt").exists()
    text = text_of(result)
    data = result.structured_content
    assert data["status"] == "queued"
    approval_id = data["approval_id"]
    assert approval_id in text and f"mh approvals approve {approval_id}" in text
    assert "Approvals" in text  # the TUI pane, too
    listing = run_mh("approvals", home=home)
    assert approval_id in listing.stdout and ACTOR in listing.stdout
    approved = run_mh("approvals", "approve", approval_id, home=home)
    assert approved.returncode == 0, approved.stderr
    assert (home / "out" / "from-mcp.txt").read_text() == "hello"


# ---------------------------------------------------------------- denials and bad input
def test_a_denied_call_returns_a_clear_error_result(home):
    assert run_mh("trust", "observe", home=home).returncode == 0
    result = drive(home, lambda s: s.call_tool("task_create", {"title": "x"}))
    assert result.is_error
    text = text_of(result)
    assert text.startswith("Denied")
    assert "supervised_auto" in text and "observe" in text
    assert not list((home / "memory" / "tasks").rglob("task-*.json"))
    denied = [e for e in audit_lines(home) if e["event"] == "skill_denied"]
    assert denied and denied[-1]["actor"] == ACTOR


def test_sandbox_refusal_and_secrets_never_in_results(home):
    token = (home / "etc" / "secrets" / "api-token").read_text().strip()
    assert run_mh("trust", "bounded_auto", home=home).returncode == 0
    (home / "out").mkdir(exist_ok=True)
    (home / "out" / "leak.txt").write_text(f"the token is {token}\n")

    async def body(s):
        secret = await s.call_tool("fs_read", {"path": "etc/secrets/api-token"})
        leak = await s.call_tool("fs_read", {"path": "out/leak.txt"})
        return secret, leak

    secret, leak = drive(home, body)
    assert secret.is_error and "Denied" in text_of(secret)
    assert token not in text_of(secret)
    assert not leak.is_error
    assert token not in text_of(leak) and token not in json.dumps(leak.structured_content)
    assert "[redacted]" in text_of(leak)


def test_bad_arguments_return_a_validation_error_and_the_server_keeps_serving(home):
    async def body(s):
        missing = await s.call_tool("memory_search", {})
        wrong = await s.call_tool("task_create", {"title": "x", "priority": "urgent"})
        unknown = await s.call_tool("no_such_tool", {})
        again = await s.call_tool("memory_search", {"query": "anything"})
        return missing, wrong, unknown, again

    missing, wrong, unknown, again = drive(home, body)
    assert missing.is_error and "Invalid arguments" in text_of(missing)
    assert "argument 'query' is required" in text_of(missing)
    assert wrong.is_error and "priority" in text_of(wrong)
    assert unknown.is_error and "no_such_tool" in text_of(unknown)
    assert not again.is_error


# ---------------------------------------------------------------- config
def test_allowed_tools_and_trust_caps_from_etc_mcp_json(home):
    assert run_mh("trust", "bounded_auto", home=home).returncode == 0
    (home / "etc" / "mcp.json").write_text(json.dumps({
        "allowedTools": ["memory_search", "fs_write", "task_create"],
        "clients": {"cursor": {"trustCap": "supervised_auto"},
                    "spy": {"allowedTools": ["memory_search"]}}}))

    async def body(s):
        tools = {t.name for t in (await s.list_tools()).tools}
        refused = await s.call_tool("fs_delete", {"path": "out/x.txt"})
        write = await s.call_tool("fs_write", {"path": "out/a.txt", "content": "a"})
        return tools, refused, write

    tools, refused, write = drive(home, body)  # test-client: bounded_auto, fs_write runs
    assert tools == {"memory_search", "fs_write", "task_create", "approval_status"}
    assert refused.is_error and "not enabled" in text_of(refused)
    assert not write.is_error and (home / "out" / "a.txt").exists()

    tools, refused, write = drive(home, body, client="cursor")  # capped: fs_write asks
    assert write.structured_content["status"] == "queued"
    queued = [e for e in audit_lines(home) if e["event"] == "approval_queued"][-1]
    assert queued["actor"] == "mcp:cursor" and queued["details"]["trust"] == "supervised_auto"

    tools, _, _ = drive(home, body, client="spy")
    assert tools == {"memory_search", "approval_status"}
    refusals = [e for e in audit_lines(home) if e["event"] == "skill_denied"
                and e["details"].get("denied_by") == "mcp_config"]
    assert refusals and refusals[0]["details"]["skill"] == "fs_delete"


def test_client_flag_names_the_actor_whatever_the_client_says(home):
    drive(home, lambda s: s.call_tool("task_list", {}), "--client", "Claude Desktop")
    started = [e for e in audit_lines(home) if e["event"] == "mcp_session_started"]
    assert started[-1]["actor"] == "mcp:claude-desktop"
    assert started[-1]["details"]["reported_client"] == CLIENT


@pytest.mark.parametrize("content, needle", [
    ('{"trustCap": "root"}', "trustCap"),
    ('{"allowedTools": ["fs_wrte"]}', "fs_wrte"),
    ('{"enabled": tru', "invalid JSON"),
])
def test_bad_config_is_a_clear_error_at_start(home, content, needle):
    (home / "etc" / "mcp.json").write_text(content)
    r = subprocess.run([*MH, "--home", str(home), "mcp"], input="", capture_output=True,
                       text=True, env=_env(), cwd=REPO, timeout=60, check=False)
    assert r.returncode == 2
    assert "mcp.json" in r.stderr and needle in r.stderr
    assert "Traceback" not in r.stderr


def test_disabled_server_refuses_to_start(home):
    (home / "etc" / "mcp.json").write_text('{"enabled": false}')
    r = subprocess.run([*MH, "--home", str(home), "mcp"], input="", capture_output=True,
                       text=True, env=_env(), cwd=REPO, timeout=60, check=False)
    assert r.returncode == 1
    assert "disabled" in r.stderr and "mcp.enabled" in r.stderr


# ---------------------------------------------------------------- lifecycle
def test_server_exits_cleanly_when_the_client_closes_stdin(home):
    proc = subprocess.Popen([*MH, "--home", str(home), "mcp"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=REPO,
                            text=True)
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "0"}}}
    proc.stdin.write(json.dumps(init) + "\n")
    proc.stdin.flush()
    reply = json.loads(proc.stdout.readline())
    assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "metahuman"
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}) + "\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["id"] == 2
    proc.stdin.close()
    rc = proc.wait(timeout=30)
    err = proc.stderr.read()
    assert rc == 0, err
    assert "Traceback" not in err
    assert proc.stdout.read() == ""
    ended = [e for e in audit_lines(home) if e["event"] == "mcp_session_ended"]
    assert ended and ended[-1]["actor"] == "mcp:raw"


def test_sigterm_ends_the_session_in_the_audit_and_exits_cleanly(home):
    proc = subprocess.Popen([*MH, "--home", str(home), "mcp", "--client", "term"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env(), cwd=REPO, text=True)
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "0"}}}
    proc.stdin.write(json.dumps(init) + "\n")
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}) + "\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["id"] == 1
    assert json.loads(proc.stdout.readline())["id"] == 2
    proc.send_signal(signal.SIGTERM)  # the client's stdin stays open: a hard stop
    rc = proc.wait(timeout=30)
    assert rc == 0, proc.stderr.read()
    ended = [e for e in audit_lines(home) if e["event"] == "mcp_session_ended"]
    assert ended[-1]["actor"] == "mcp:term" and "SIGTERM" in ended[-1]["details"]["reason"]


def test_plain_mh_start_up_never_imports_the_mcp_sdk():
    code = ("import sys\nsys.argv=['mh','--help']\nfrom metahuman_tui.cli import main\n"
            "try:\n    main.app(standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "print('MODULES', ' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout
    mods = set(out.rsplit("MODULES ", 1)[1].split())
    assert "metahuman_tui.cli.mcp_cmd" in mods  # registered…
    assert "mcp" not in mods and "metahuman_tui.mcp" not in mods
    assert "mcp" in subprocess.run([sys.executable, "-m", "metahuman_tui.cli.main", "--help"],
                                   capture_output=True, text=True, cwd=REPO, check=False).stdout


# ---------------------------------------------------------------- optional: streamable HTTP
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"mh mcp --http did not listen on {port}")


def test_http_transport_needs_the_api_token_and_uses_the_same_gate(home):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    port = _free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    token = (home / "etc" / "secrets" / "api-token").read_text().strip()
    proc = subprocess.Popen([*MH, "--home", str(home), "mcp", "--http", "--port", str(port)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env(), cwd=REPO, text=True)
    try:
        _wait_for_port(port, proc)
        refused = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                              headers={"Authorization": "Bearer wrong-token-123456"})
        assert refused.status_code == 401

        async def main():
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                          timeout=60) as http, \
                    streamable_http_client(url, http_client=http) as (read, write), \
                    ClientSession(read, write,
                                  client_info=Implementation(name=CLIENT, version="1")) as s:
                await s.initialize()
                made = await s.call_tool("task_create", {"title": "Over the tunnel"})
                queued = await s.call_tool("fs_write", {"path": "out/h.txt", "content": "x"})
                return made, queued

        made, queued = anyio.run(main)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
    err = proc.stderr.read()
    assert rc == 0, err
    assert "Traceback" not in err
    assert not made.is_error and made.structured_content["title"] == "Over the tunnel"
    assert queued.structured_content["status"] == "queued" and not (home / "out" / "h.txt").exists()
    lines = audit_lines(home)
    assert any(e["event"] == "auth_failed" and e["actor"] == "mcp" for e in lines)
    decision = next(e for e in lines if e["event"] == "skill_decision")
    assert decision["actor"] == ACTOR and decision["details"]["origin"]["transport"] == "http"
    started = [e for e in lines if e["event"] == "mcp_session_started"]
    ended = [e for e in lines if e["event"] == "mcp_session_ended"]
    assert len(started) == 1 and started[0]["details"]["transport"] == "http"
    assert len(ended) == 1 and ended[0]["details"]["calls"] == 2


def test_http_transport_refuses_a_non_loopback_address(home):
    r = subprocess.run([*MH, "--home", str(home), "mcp", "--http", "--host", "0.0.0.0"],
                       capture_output=True, text=True, env=_env(), cwd=REPO, timeout=60,
                       check=False)
    assert r.returncode == 2
    assert "loopback only" in r.stderr and "ssh -L" in r.stderr
