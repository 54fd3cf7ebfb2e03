"""MCP resources: read-only views an assistant can attach as context without a tool call.

    persona://summary   name, role, values, goals, trust level
    tasks://today       open tasks in progress, due today or overdue, and P0s
    memory://recent     the newest memories
    memory://{id}       one memory
    approval://{approval_id}  one of this client's approval requests (ApprovalQueue.status_for)

A resource follows the tool it mirrors: with memory_search off for a client (etc/mcp.json), the
memory resources are gone too; with task_list off, tasks://today is. approval:// is always
offered: it only ever shows the reading client's own requests. Every read is audited.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from metahuman_core import clock
from metahuman_core.errors import NotFound

from .results import _secrets, scrub
from .session import APPROVAL_PREFIX, McpSession

RECENT = 20
PREVIEW = 500

# uri, name, description, the skill whose permission it follows (None: always)
RESOURCES: tuple[tuple[str, str, str, str | None], ...] = (
    ("persona://summary", "Persona summary",
     "The person's persona: name, role, core values, short-term goals, trust level (read-only).",
     None),
    ("tasks://today", "Today's tasks",
     "Open tasks that are in progress, due today or overdue, or P0.", "task_list"),
    ("memory://recent", "Recent memories",
     f"The {RECENT} newest memories (id, time, type, tags, the start of the text).",
     "memory_search"),
)
TEMPLATES: tuple[tuple[str, str, str, str | None], ...] = (
    ("memory://{id}", "Memory by id", "One memory, whole (id like evt-20251019-160000-…).",
     "memory_search"),
    (APPROVAL_PREFIX + "{approval_id}", "Approval status",
     "One of this client's queued calls: pending, executed (with the result), rejected (with "
     "the reason), expired or failed. Same as the approval_status tool.", None),
)
MEMORY_PREFIX = "memory://"


class ResourceNotFound(NotFound):
    pass


def _visible(session: McpSession, skill: str | None) -> bool:
    return skill is None or skill in session.rules.allowed


def listed(session: McpSession) -> list[tuple[str, str, str]]:
    return [(u, n, d) for u, n, d, s in RESOURCES if _visible(session, s)]


def templates(session: McpSession) -> list[tuple[str, str, str]]:
    return [(u, n, d) for u, n, d, s in TEMPLATES if _visible(session, s)]


def read(session: McpSession, uri: str) -> str:
    """The resource as JSON text; ResourceNotFound / ValidationFailed for a bad uri or id.
    Audited either way."""
    try:
        text = _read(session, uri)
    except Exception as exc:
        session.note_read(uri, False, getattr(exc, "message", None) or str(exc))
        raise
    session.note_read(uri, True)
    return text


def _read(session: McpSession, uri: str) -> str:
    profile = session.profile
    if uri == "persona://summary":
        data: Any = profile.persona.summary()
    elif uri == "tasks://today" and _visible(session, "task_list"):
        data = today(profile)
    elif uri == "memory://recent" and _visible(session, "memory_search"):
        data = recent(profile)
    elif uri.startswith(MEMORY_PREFIX) and _visible(session, "memory_search"):
        data = memory(profile, uri[len(MEMORY_PREFIX):])
    elif uri.startswith(APPROVAL_PREFIX):
        data = session.approval(uri[len(APPROVAL_PREFIX):])
    else:
        raise ResourceNotFound(f"no resource {uri!r} for this client",
                               hint="see resources/list (etc/mcp.json allowedTools decides "
                                    "which are offered)")
    return json.dumps(scrub(data, _secrets(profile)), indent=2, ensure_ascii=False, default=str)


def today(profile) -> dict[str, Any]:
    from metahuman_core.tasks import TaskStore

    date = clock.today_str()
    picked = []
    for task in TaskStore(profile).list_active():
        due = str(task.get("due") or "")[:10]
        if task.get("status") == "in_progress" or task.get("priority") == "P0" or \
                (due and due <= date):
            picked.append(task)
    return {"date": date, "tasks": picked, "count": len(picked),
            "note": "all open tasks: the task_list tool"}


def _relative(profile, record: dict[str, Any]) -> dict[str, Any]:
    path = record.get("path")
    if path:
        try:
            record["path"] = str(Path(path).relative_to(profile.root))
        except ValueError:
            record.pop("path", None)  # never show where outside the home a file lives
    return record


def recent(profile) -> dict[str, Any]:
    from metahuman_core.memory import MemoryStore

    out = []
    for rec in MemoryStore(profile).list(limit=RECENT):
        content = str(rec.get("content") or "")
        out.append({"id": rec.get("id"), "timestamp": rec.get("timestamp"),
                    "type": rec.get("type"), "tags": rec.get("tags") or [],
                    "content": content[:PREVIEW] + ("…" if len(content) > PREVIEW else ""),
                    "uri": f"{MEMORY_PREFIX}{rec.get('id')}"})
    return {"memories": out, "count": len(out)}


def memory(profile, memory_id: str) -> dict[str, Any]:
    from metahuman_core.ids import validate_memory_id
    from metahuman_core.memory import MemoryStore

    validate_memory_id(memory_id)
    try:
        return _relative(profile, MemoryStore(profile).get(memory_id))
    except NotFound as exc:
        raise ResourceNotFound(exc.message, hint=exc.hint) from None
