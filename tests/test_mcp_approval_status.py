"""`approval_status` (tool) and `approval://{approval_id}` (resource): after a call came back
"queued", the assistant can learn what became of it — still pending, executed with the skill's
result, rejected with the reason, expired, failed — but only for its own client's requests.
Driven as a real `mh mcp` subprocess with the official SDK's stdio client (harness: test_mcp.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed")

from mcp.shared.exceptions import MCPError as McpError

from metahuman_core.approvals import ApprovalQueue
from metahuman_core.profile import Profile
from tests.test_mcp import ACTOR, audit_lines, drive, text_of

TOOL = "approval_status"
UNKNOWN = "apr-20251019-160000-0badc0de"


def queue_write(home, path="out/from-mcp.txt", content="hello", client=None) -> tuple:
    """Queue an fs_write through MCP (supervised_auto asks); returns (approval id, result)."""
    kw = {"client": client} if client else {}
    result = drive(home, lambda s: s.call_tool("fs_write", {"path": path, "content": content}),
                   **kw)
    assert result.structured_content["status"] == "queued", text_of(result)
    return result.structured_content["approval_id"], result


def status(home, approval_id, client=None):
    kw = {"client": client} if client else {}
    return drive(home, lambda s: s.call_tool(TOOL, {"approval_id": approval_id}), **kw)


async def read_error(s, uri: str) -> str:
    try:
        await s.read_resource(uri)
    except McpError as exc:
        return str(exc)
    return ""


def test_the_tool_and_template_are_offered_and_the_queued_result_points_to_them(home):
    async def body(s):
        tools = {t.name: t for t in (await s.list_tools()).tools}
        templates = (await s.list_resource_templates()).resource_templates
        return tools, templates

    tools, templates = drive(home, body)
    tool = tools[TOOL]
    assert tool.input_schema["required"] == ["approval_id"]
    assert "queued" in tool.description and "loop" in tool.description
    assert tool.annotations.read_only_hint is True
    assert "fs_write" in tools  # alongside the skills
    assert any(t.uri_template == "approval://{approval_id}" for t in templates)
    approval_id, queued = queue_write(home)
    assert TOOL in text_of(queued) and approval_id in text_of(queued)
    assert queued.structured_content["status_with"] == {"tool": TOOL,
                                                        "arguments": {"approval_id": approval_id}}


def test_pending_then_executed_with_the_skills_result(home):
    approval_id, _ = queue_write(home)

    async def pending_body(s):
        return await s.call_tool(TOOL, {"approval_id": approval_id}), \
            await s.read_resource(f"approval://{approval_id}")

    pending, resource = drive(home, pending_body)
    assert not pending.is_error, text_of(pending)
    view = pending.structured_content
    assert view["status"] == "pending" and view["id"] == approval_id
    assert view["skill"] == "fs_write" and view["result"] is None and view["expires_at"]
    assert set(view) == {"id", "skill", "status", "created_at", "decided_at", "decided_by",
                         "reason", "result", "error", "expires_at"}
    assert "Nothing has been done yet" in text_of(pending)
    assert json.loads(resource.contents[0].text) == view

    # the person approves through the core (what `mh approvals approve` and the TUI call)
    item = ApprovalQueue(Profile(home)).approve(approval_id, by="human")
    assert item["status"] == "executed"

    done = status(home, approval_id)
    assert not done.is_error, text_of(done)
    view = done.structured_content
    assert view["status"] == "executed" and view["decided_by"] == "human" and view["decided_at"]
    assert view["result"] == {"path": "out/from-mcp.txt", "size": 5, "created": True}
    assert "executed" in text_of(done) and "out/from-mcp.txt" in text_of(done)
    reads = [e for e in audit_lines(home) if e["event"] == "mcp_resource_read"
             and e["details"]["uri"] == f"approval://{approval_id}"]
    assert len(reads) == 3 and all(e["actor"] == ACTOR and e["details"]["ok"] for e in reads)
    assert [e["details"].get("via") for e in reads] == ["tool", "resource", "tool"]


def test_rejected_with_the_persons_reason(home):
    approval_id, _ = queue_write(home)
    ApprovalQueue(Profile(home)).reject(approval_id, by="human", reason="not in out/, please")
    result = status(home, approval_id)
    assert not result.is_error
    view = result.structured_content
    assert view["status"] == "rejected" and view["reason"] == "not in out/, please"
    assert view["decided_by"] == "human"
    assert "not in out/, please" in text_of(result) and "Nothing was done" in text_of(result)
    assert not (home / "out" / "from-mcp.txt").exists()


def test_another_clients_approval_is_not_found_like_an_unknown_id(home):
    theirs, _ = queue_write(home, client="cursor")

    async def body(s):
        other = await s.call_tool(TOOL, {"approval_id": theirs})
        unknown = await s.call_tool(TOOL, {"approval_id": UNKNOWN})
        return other, unknown, await read_error(s, f"approval://{theirs}"), \
            await read_error(s, f"approval://{UNKNOWN}")

    other, unknown, other_err, unknown_err = drive(home, body)
    assert other.is_error and unknown.is_error
    assert text_of(other).replace(theirs, "ID") == text_of(unknown).replace(UNKNOWN, "ID")
    assert "no approval" in text_of(other) and "fs_write" not in text_of(other)
    assert other_err and other_err.replace(theirs, "ID") == unknown_err.replace(UNKNOWN, "ID")
    assert other.structured_content["error_type"] == "not_found"
    assert other.structured_content["approval_id"] == theirs
    assert status(home, theirs, client="cursor").structured_content["status"] == "pending"
    failed = [e for e in audit_lines(home) if e["event"] == "mcp_resource_read"
              and e["details"]["uri"] == f"approval://{theirs}" and e["actor"] == ACTOR]
    assert len(failed) == 2 and not any(e["details"]["ok"] for e in failed)


@pytest.mark.parametrize("arguments", [
    {"approval_id": "../etc/secrets/api-token"},
    {"approval_id": "apr-2025/../../x"},
    {"approval_id": 42},
    {},
])
def test_a_malformed_id_is_an_error_naming_approval_id(home, arguments):
    async def body(s):
        bad = await s.call_tool(TOOL, arguments)
        again = await s.list_tools()  # still serving
        return bad, again

    bad, again = drive(home, body)
    assert bad.is_error
    assert "approval_id" in text_of(bad) and "Invalid arguments" in text_of(bad)
    assert "Traceback" not in text_of(bad)
    assert again.tools


def test_a_malformed_id_in_the_resource_uri_names_approval_id(home):
    err = drive(home, lambda s: read_error(s, "approval://..%2Fetc%2Fpasswd"))
    assert "approval_id" in err


def test_expired_on_read(home, monkeypatch):
    approval_id, _ = queue_write(home)
    later = datetime.now().astimezone() + timedelta(hours=25)
    monkeypatch.setenv("MH_FAKE_NOW", later.isoformat())  # the server's clock, a day on
    result = status(home, approval_id)
    view = result.structured_content
    assert view["status"] == "expired" and view["decided_by"] == "system"
    assert "expired" in view["reason"] and "expired" in text_of(result).lower()
    stored = json.loads((home / "out" / "approval-queue" / f"{approval_id}.json").read_text())
    assert stored["status"] == "expired"  # applied on read, as `mh approvals list` does
    assert any(e["event"] == "approval_expired" for e in audit_lines(home))


def test_secrets_in_a_result_are_scrubbed(home):
    token = (home / "etc" / "secrets" / "api-token").read_text().strip()
    approval_id, _ = queue_write(home, path=f"out/{token}.txt")
    ApprovalQueue(Profile(home)).approve(approval_id, by="human")
    result = status(home, approval_id)
    assert result.structured_content["status"] == "executed"
    assert token not in text_of(result) and token not in json.dumps(result.structured_content)
    assert "[redacted]" in result.structured_content["result"]["path"]


def test_the_core_rule_only_the_requester_sees_it(home):
    """ApprovalQueue.status_for: the rule lives in the core, whatever face asks."""
    from metahuman_core.errors import NotFound, ValidationFailed

    approval_id, _ = queue_write(home)
    queue = ApprovalQueue(Profile(home))
    assert queue.status_for(approval_id, ACTOR)["status"] == "pending"
    with pytest.raises(NotFound) as other:
        queue.status_for(approval_id, "mcp:cursor")
    with pytest.raises(NotFound) as unknown:
        queue.status_for(UNKNOWN, "mcp:cursor")
    assert other.value.message.replace(approval_id, "ID") == \
        unknown.value.message.replace(UNKNOWN, "ID")
    assert other.value.hint == unknown.value.hint
    with pytest.raises(ValidationFailed, match="approval_id"):
        queue.status_for("../x", ACTOR)


def test_offered_even_when_allowed_tools_is_narrow(home):
    """allowedTools limits the skills; approval_status stays (it shows only the client's own)."""
    approval_id, _ = queue_write(home)
    (home / "etc" / "mcp.json").write_text(json.dumps({"allowedTools": ["memory_search"]}))

    async def body(s):
        tools = {t.name for t in (await s.list_tools()).tools}
        return tools, await s.call_tool(TOOL, {"approval_id": approval_id})

    tools, result = drive(home, body)
    assert tools == {"memory_search", TOOL}
    assert not result.is_error and result.structured_content["status"] == "pending"
