"""GET|POST|PATCH /api/tasks: list, create, and change the status of tasks — through the skill gate
(task_list, task_create, task_update_status) as the person, so each call is decided and audited
like any other skill call. Ids and statuses are validated (the original wrote any status ⚠)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from metahuman_core.ids import validate_task_id

from .deps import get_profile, outcome_error, run_skill
from .schemas import TaskCreateRequest, TaskPatchRequest, TasksResponse, TaskWriteResponse

router = APIRouter(tags=["tasks"])

TaskFilter = Literal["active", "completed", "all", "todo", "in_progress", "blocked", "done",
                     "cancelled"]


def _list(profile, status: str | None, problems: list[str] | None = None) -> list[dict]:
    args = {"status": status} if status else {}
    outcome = run_skill(profile, "task_list", args)
    if not outcome.ok:
        raise outcome_error(outcome, what="Listing tasks", diagnose=lambda: 500)
    if problems is not None:  # unreadable task files, named (the listing goes on without them)
        problems.extend(p for p in outcome.result.get("problems", []) if p not in problems)
    return list(outcome.result.get("tasks", []))


def _exists(profile, task_id: str) -> int | None:
    """404 when the task is missing (the reason an update failed), else None (a refusal)."""
    from metahuman_core.errors import NotFound
    from metahuman_core.tasks import TaskStore

    try:
        TaskStore(profile).get(task_id)
    except NotFound:
        return 404
    return None


@router.get("/api/tasks", response_model=TasksResponse, summary="List tasks (active by default)")
def list_tasks(
    status: TaskFilter = Query("active", description="active (default), completed, all, or one "
                                                     "status."),
    profile=Depends(get_profile),
) -> dict:
    problems: list[str] = []
    if status == "active":
        out = {"tasks": _list(profile, None, problems), "status": status}
    elif status == "completed":
        out = {"tasks": _list(profile, "done", problems) + _list(profile, "cancelled", problems),
               "status": status}
    elif status == "all":
        out = {"tasks": _list(profile, None, problems),
               "completedTasks": _list(profile, "done", problems)
               + _list(profile, "cancelled", problems),
               "status": status}
    else:
        out = {"tasks": _list(profile, status, problems), "status": status}
    if problems:
        out["problems"] = problems
    return out


@router.post("/api/tasks", status_code=201, response_model=TaskWriteResponse,
             responses={403: {"description": "Trust level too low for task_create"}},
             summary="Create a task")
def create_task(body: TaskCreateRequest, profile=Depends(get_profile)) -> dict:
    outcome = run_skill(profile, "task_create", body.model_dump())
    if not outcome.ok:
        raise outcome_error(outcome, what="Creating the task")
    task = outcome.result
    return {"success": True, "task": task, "id": task.get("id") if isinstance(task, dict) else None}


@router.patch("/api/tasks", response_model=TaskWriteResponse,
              responses={403: {"description": "Trust level too low for task_update_status"},
                         404: {"description": "No such task"}},
              summary="Update a task's status")
def update_task(body: TaskPatchRequest, profile=Depends(get_profile)) -> dict:
    task_id = validate_task_id(body.taskId)
    outcome = run_skill(profile, "task_update_status", {"task_id": task_id, "status": body.status})
    if not outcome.ok:
        raise outcome_error(outcome, what=f"Updating {task_id}",
                            diagnose=lambda: _exists(profile, task_id))
    return {"success": True, "task": outcome.result}
