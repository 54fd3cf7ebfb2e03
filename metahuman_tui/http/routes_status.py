"""GET /api/status: identity summary, task counts, trust level and the active model.

The original's shape (`identity`, `tasks.byStatus`, `values`, `goals`, `model`) plus the core's
`counts` and `problems` (a broken config file is reported here, not hidden).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from metahuman_core.active_model import active_model
from metahuman_core.errors import MHError
from metahuman_core.status import collect_status

from .deps import get_profile
from .schemas import StatusResponse

router = APIRouter(tags=["status"])

OPEN_STATUSES = ("todo", "in_progress", "blocked")


def _task_counts(profile) -> dict:
    by_status = {s: 0 for s in OPEN_STATUSES}
    try:
        from metahuman_core.tasks import TaskStore

        tasks = TaskStore(profile).list_active()
    except MHError:
        tasks = []
    for task in tasks:
        status = task.get("status") if isinstance(task, dict) else getattr(task, "status", None)
        if status in by_status:
            by_status[status] += 1
    return {"active": len(tasks), "byStatus": by_status}


def _model(profile) -> dict:
    try:
        info = active_model(profile)
    except MHError as exc:
        return {"current": None, "base": None, "useAdapter": False, "adapterMode": "none",
                "adapter": None, "problem": str(exc)}
    agent = profile.config.get("agent")
    adapter = info.get("adapter")
    return {
        "current": info["model"],
        "base": agent.model,
        "backend": info.get("backend"),
        "useAdapter": info["source"] == "adapter",
        "adapterMode": "adapter" if info["source"] == "adapter" else "none",
        "adapter": adapter if isinstance(adapter, dict) else None,
        "problem": info.get("problem"),
    }


@router.get("/api/status", response_model=StatusResponse,
            summary="System status, identity summary, task counts")
def get_status(profile=Depends(get_profile)) -> dict:
    data = collect_status(profile, probe_llm=False)
    return {
        "identity": {"name": data.get("name", ""), "role": data.get("role", ""),
                     "trustLevel": data.get("trustLevel")},
        "tasks": _task_counts(profile),
        "values": data.get("coreValues", [])[:3],
        "goals": data.get("shortTermGoals", []),
        "lastUpdated": data.get("lastUpdated"),
        "model": _model(profile),
        "counts": data.get("counts", {}),
        "problems": data.get("problems", []),
        "home": data.get("home"),
    }
