"""The MCP server itself: the official SDK's low-level `Server`, wired to one McpSession.

Why the low-level server and not the decorator framework: our tools already exist (the skill
registry, with pydantic argument models whose JSON schemas are the tools' input schemas), and
every call must go through the gate exactly once; the low-level handlers take a name and a dict
and hand them straight to `McpSession.call`. Gate calls block (files, git, SQLite, the web), so
they run in a worker thread, one at a time.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

from metahuman_core import __version__
from metahuman_core.errors import MHError, ValidationFailed

from . import resources
from .session import McpSession

SERVER_NAME = "metahuman"
INSTRUCTIONS = (
    "MetaHuman OS is the person's local digital twin: their memories, tasks and files. Every "
    "tool call goes through the twin's own gate at the person's trust level. Some calls are not "
    "run at once but wait for the person's approval: the result then says so and gives an "
    "approval id and how to approve; tell the person, do not retry. Once the person has "
    "decided, the approval_status tool (or approval://{approval_id}) says what became of it: "
    "the result, or why not; do not poll it in a loop. A denied call says why. "
    "Resources: persona://summary, tasks://today, memory://recent, memory://{id}.")
RESOURCE_NOT_FOUND = -32002  # the MCP spec's code for an unknown resource


def build(session_for: Callable[[Any], McpSession]) -> Any:
    """The SDK Server; `session_for(ctx)` is the McpSession of the request's connection (one
    for stdio, one per MCP session over HTTP). The SDK is imported here: `mh` never loads it."""
    import anyio
    from mcp import types
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError
    from mcp_types import INVALID_PARAMS

    limiter = anyio.CapacityLimiter(1)

    def meet(ctx: Any) -> McpSession:
        session = session_for(ctx)
        if not session.started:
            info = getattr(getattr(ctx.session, "client_params", None), "client_info", None)
            session.identify(getattr(info, "name", None), getattr(info, "version", None),
                             getattr(ctx, "protocol_version", None))
        return session

    async def list_tools(ctx: Any, params: Any) -> Any:
        session = meet(ctx)
        return types.ListToolsResult(tools=[
            types.Tool(name=s["name"], description=s["description"],
                       input_schema=s["input_schema"],
                       annotations=types.ToolAnnotations(**s["annotations"]))
            for s in session.tool_specs()])

    async def call_tool(ctx: Any, params: Any) -> Any:
        session = meet(ctx)
        shaped = await anyio.to_thread.run_sync(session.call, params.name, params.arguments,
                                                limiter=limiter)
        return types.CallToolResult(content=[types.TextContent(type="text", text=shaped.text)],
                                    structured_content=shaped.structured or None,
                                    is_error=shaped.is_error)

    async def list_resources(ctx: Any, params: Any) -> Any:
        session = meet(ctx)
        return types.ListResourcesResult(resources=[
            types.Resource(uri=uri, name=name, description=desc, mime_type="application/json")
            for uri, name, desc in resources.listed(session)])

    async def list_templates(ctx: Any, params: Any) -> Any:
        session = meet(ctx)
        return types.ListResourceTemplatesResult(resource_templates=[
            types.ResourceTemplate(uri_template=uri, name=name, description=desc,
                                   mime_type="application/json")
            for uri, name, desc in resources.templates(session)])

    async def read_resource(ctx: Any, params: Any) -> Any:
        session = meet(ctx)
        uri = str(params.uri)
        try:
            text = await anyio.to_thread.run_sync(resources.read, session, uri, limiter=limiter)
        except ValidationFailed as exc:
            raise MCPError(INVALID_PARAMS, exc.message) from None
        except MHError as exc:  # not found, corrupt file: one line the client can show
            raise MCPError(RESOURCE_NOT_FOUND, exc.message, {"uri": uri}) from None
        return types.ReadResourceResult(contents=[
            types.TextResourceContents(uri=uri, mime_type="application/json", text=text)])

    return Server(SERVER_NAME, version=__version__, title="MetaHuman OS",
                  instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool,
                  on_list_resources=list_resources, on_list_resource_templates=list_templates,
                  on_read_resource=read_resource)


def serve_stdio(session: McpSession) -> None:
    """Serve one client on stdin/stdout until it closes stdin (exit 0) or sends SIGTERM/SIGINT.
    The session's end is audited either way."""
    import anyio
    from mcp.server.stdio import stdio_server

    server = build(lambda ctx: session)

    async def stop_on_signal(scope: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as sigs:
            async for signum in sigs:
                # The stdin reader is a thread blocked in read(): it cannot be cancelled, so
                # finish here: audit the end, then leave at once (nothing else is buffered).
                session.end(f"stopped by {signal.Signals(signum).name}")
                os._exit(0)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_on_signal, tg.cancel_scope)
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
            tg.cancel_scope.cancel()

    try:
        anyio.run(main)
    finally:
        session.end()
