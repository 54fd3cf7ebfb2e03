"""Task skills: task_list, task_find, task_create, task_update_status, on the task store
(metahuman_core.tasks, imported when a skill runs). Task ids are validated before any path use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from ..ids import TASK_ID_RE
from .registry import Args, Skill, register

if TYPE_CHECKING:
    from ..profile import Profile

Status = Literal["todo", "in_progress", "blocked", "done", "cancelled"]
Priority = Literal["P0", "P1", "P2", "P3"]
DONE = ("done", "cancelled")


class TaskListArgs(Args):
    status: Status | None = Field(None, description="Only tasks with this status (default: all "
                                                     "active ones).")


class TaskFindArgs(Args):
    query: str = Field(..., min_length=1, max_length=300, description="Words from the title, or an id.")


class TaskCreateArgs(Args):
    title: str = Field(..., min_length=1, max_length=300)
    description: str = ""
    priority: Priority = Field("P2", description="P0 (most urgent) … P3.")
    due: str | None = Field(None, description="Due date, e.g. 2025-10-24.")
    tags: list[str] = Field(default_factory=list)


class TaskUpdateArgs(Args):
    task_id: str = Field(..., description="Exact id, e.g. task-20251019-160500.")
    status: Status

    @field_validator("task_id")
    @classmethod
    def _task_id(cls, value: str) -> str:
        if not TASK_ID_RE.fullmatch(value):
            raise ValueError(f"not a task id: {value!r} (expected e.g. task-20251019-160500)")
        return value


def _store(profile: Profile):
    from ..tasks import TaskStore

    return TaskStore(profile)


def _plain(task) -> dict:
    return task.to_dict() if hasattr(task, "to_dict") else dict(task)


def task_list(profile: Profile, args: TaskListArgs, actor: str) -> dict:
    store = _store(profile)
    tasks = store.list_completed() if args.status in DONE else store.list_active()
    tasks = [_plain(t) for t in tasks]
    if args.status:
        tasks = [t for t in tasks if t.get("status") == args.status]
    out = {"tasks": tasks, "count": len(tasks), "status": args.status}
    if store.problems():  # unreadable task files: named, the rest still listed
        out["problems"] = store.problems()
    return out


def task_find(profile: Profile, args: TaskFindArgs, actor: str) -> dict:
    matches = [_plain(t) for t in _store(profile).find(args.query)]
    out = {"query": args.query, "matches": matches, "count": len(matches),
           "match": matches[0] if matches else None}
    if not matches:
        out["message"] = f"no task matches {args.query!r}"
    return out


def task_create(profile: Profile, args: TaskCreateArgs, actor: str) -> dict:
    return _plain(_store(profile).create(args.title, description=args.description,
                                         priority=args.priority, due=args.due, tags=args.tags,
                                         actor=actor))


def task_update_status(profile: Profile, args: TaskUpdateArgs, actor: str) -> dict:
    return _plain(_store(profile).set_status(args.task_id, args.status, actor=actor))


def _sum_task(r: dict) -> dict:
    return {"id": r.get("id"), "status": r.get("status")}


register(Skill(
    id="task_list", category="tasks", risk="low", min_trust="observe", args=TaskListArgs,
    fn=task_list, summary=lambda r: {"count": r.get("count")},
    description="List tasks: active ones by priority, or those with a given status."))
register(Skill(
    id="task_find", category="tasks", risk="low", min_trust="observe", args=TaskFindArgs,
    fn=task_find, summary=lambda r: {"count": r.get("count")},
    description="Find tasks by words of their title or by id; best match first."))
register(Skill(
    id="task_create", category="tasks", risk="low", min_trust="supervised_auto",
    args=TaskCreateArgs, fn=task_create, summary=_sum_task,
    description="Create a task (title, description, priority P0–P3, due date, tags)."))
register(Skill(
    id="task_update_status", category="tasks", risk="low", min_trust="supervised_auto",
    args=TaskUpdateArgs, fn=task_update_status, summary=_sum_task,
    description="Set a task's status: todo, in_progress, blocked, done or cancelled."))
