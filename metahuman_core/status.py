"""`mh status` / GET /api/status: identity summary, counts and the active model."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .active_model import active_model
from .errors import MHError

if TYPE_CHECKING:
    from .profile import Profile


def _count_json(folder: Path, recursive: bool = False) -> int:
    if not folder.is_dir():
        return 0
    total = 0
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    if recursive and not entry.name.startswith("."):
                        stack.append(Path(entry.path))
                elif entry.name.endswith(".json") and not entry.name.startswith("."):
                    total += 1
    return total


def count_pending_approvals(queue: Path) -> int:
    n = 0
    if not queue.is_dir():
        return 0
    for p in queue.glob("*.json"):
        try:
            if json.loads(p.read_text()).get("status") == "pending":
                n += 1
        except (OSError, ValueError, AttributeError):
            continue
    return n


def collect_status(profile: Profile, *, probe_llm: bool = True) -> dict[str, Any]:
    """Everything `mh status` shows. `probe_llm`: ask the LLM server whether the model is there
    (llm.health, a couple of short requests); the API's status leaves it off (files only)."""
    problems: list[str] = []
    try:
        summary = profile.persona.summary()
    except MHError as exc:  # a broken persona file is a problem to list, not a dead `mh status`
        problems.append(exc.message)
        summary = {"name": "", "role": "", "trustLevel": "observe", "coreValues": [],
                   "shortTermGoals": [], "lastUpdated": None}
        with contextlib.suppress(MHError):
            summary["trustLevel"] = profile.persona.trust_level()
    try:
        model = active_model(profile)
        if model.get("problem"):
            problems.append(model["problem"])
        model_name = model["model"] + (" (adapter)" if model["source"] == "adapter" else "")
    except MHError as exc:
        problems.append(str(exc))
        model_name = "unknown"
    problems.extend(p for p in profile.config.validate_all() if p not in problems)
    llm = None
    if probe_llm:
        from .llm.health import safe_health

        probe = safe_health(profile)
        llm = probe.to_dict()
        if not probe.ok:
            problems.append(f"LLM: {probe.message} (details: mh model status)")
    h = profile.home
    try:  # the index knows valid memories (unreadable files are reported, not counted)
        import sqlite3

        from .memory import MemoryStore

        memories = MemoryStore(profile).count()
    except (MHError, OSError, sqlite3.Error) as exc:
        problems.append(f"memory index: {exc}; counting files instead")
        memories = _count_json(h.episodic, recursive=True)
    return {
        **summary,
        "home": str(profile.root),
        "counts": {
            "memories": memories,
            "activeTasks": _count_json(h.tasks_active),
            "completedTasks": _count_json(h.tasks_completed),
            "pendingApprovals": count_pending_approvals(h.approval_queue),
        },
        "activeModel": model_name,
        "problems": problems,
        **({"llm": llm} if llm is not None else {}),
    }
