"""The MCP face (`mh mcp`): the twin's memory, tasks and skills for any MCP client (Claude
Desktop, Cursor, Zed, …) through the same gate, trust levels, approvals and audit as every
other face. See docs/mcp.md.

    session.py    who the client is, what it may use, at which trust; session audit
    results.py    a gate Outcome as an MCP tool result (never a secret)
    resources.py  persona://summary, tasks://today, memory://recent, memory://{id}
    server.py     the official SDK's low-level Server over stdio

Nothing here is imported by plain `mh`: the SDK costs ~0.5 s to import.
"""
