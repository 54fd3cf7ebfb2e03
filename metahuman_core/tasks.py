"""Tasks: one JSON file each in memory/tasks/active/ or memory/tasks/completed/ (DESIGN §3, §6).

Statuses todo|in_progress|blocked|done|cancelled; done and cancelled live in completed/, every
other status in active/ (re-opening moves the file back). Ids are validated against
`task-YYYYMMDD-HHMMSS[-n]` before they come near a path, so no id can leave the tasks folders.
A status move writes the new file first, then removes the old one, under one lock: a crash can
leave a copy in both folders, never in neither (readers take the most recently updated copy).
"""

from __future__ import annotations

import contextlib
import errno
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from . import clock, ids
from .audit import audit_data_change
from .errors import CorruptFile, NotFound, ValidationFailed
from .memory.schema import check_labels
from .storage import atomic_write_bytes, atomic_write_json, dumps, file_lock, read_json

if TYPE_CHECKING:
    from .profile import Profile

TASK_STATUSES = ("todo", "in_progress", "blocked", "done", "cancelled")
CLOSED = ("done", "cancelled")
PRIORITIES = ("P0", "P1", "P2", "P3")
RESOURCE = "task"
MAX_TITLE = 500


def _check_title(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        raise ValidationFailed("task title is empty", hint='mh task add "Call the bank"')
    if len(title) > MAX_TITLE or "\n" in title.strip():
        raise ValidationFailed(f"task title must be one line of at most {MAX_TITLE} characters")
    return title.strip()


def check_priority(value: Any) -> str:
    p = str(value).upper() if isinstance(value, str) else value
    if p not in PRIORITIES:
        raise ValidationFailed(f"invalid priority {value!r}", hint="one of: " + ", ".join(PRIORITIES))
    return p


def check_status(value: Any) -> str:
    if value not in TASK_STATUSES:
        raise ValidationFailed(f"invalid task status {value!r}",
                               hint="one of: " + ", ".join(TASK_STATUSES))
    return value


def check_due(value: Any) -> str | None:
    """YYYY-MM-DD or an ISO date-time; None clears it."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if ids.DATE_RE.match(text):
                return ids.validate_date(text)
            datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
            return text
        except (ValueError, ValidationFailed):
            pass
    raise ValidationFailed(f"invalid due date {value!r}", hint="use YYYY-MM-DD")


def _priority_rank(task: dict) -> int:
    p = task.get("priority")
    return PRIORITIES.index(p) if p in PRIORITIES else len(PRIORITIES)


class TaskStore:
    def __init__(self, profile: Profile):
        self.profile = profile
        self.home = profile.home
        self.active_dir = self.home.tasks_active
        self.completed_dir = self.home.tasks_completed
        self.corrupt: list[tuple[Path, str]] = []

    def _lock(self):
        return file_lock(self.home.lock_file("tasks"))

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.home.root))

    def _audit(self, kind: str, task: dict, path: Path, actor: str, **details) -> None:
        audit_data_change(self.profile.audit, type=kind, resource=RESOURCE, path=self._rel(path),
                          actor=actor, details={"id": task["id"], "status": task.get("status"),
                                                **details})

    # ------------------------------------------------------------------ create
    def create(self, title: str, *, description: str = "", priority: str = "P2", due=None,
               tags: Iterable[str] = (), actor: str = "human") -> dict:
        if not isinstance(description, str):
            raise ValidationFailed("task description must be text")
        now = clock.now()
        task: dict[str, Any] = {"id": "", "title": _check_title(title), "description": description,
                "status": "todo", "priority": check_priority(priority), "due": check_due(due),
                "tags": check_labels(list(tags), "tags", "task"), "dependencies": [],
                "created": clock.iso(now), "updated": clock.iso(now)}
        if task["due"] is None:
            del task["due"]
        stem = ids.task_stem(now)
        self.active_dir.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            task_id = stem if n == 1 else f"{stem}-{n}"
            if (self.completed_dir / f"{task_id}.json").exists():
                continue
            path = self.active_dir / f"{task_id}.json"
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                continue
            os.close(fd)
            task["id"] = task_id
            try:
                atomic_write_bytes(path, dumps(task).encode("utf-8"))
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                raise
            self._audit("create", task, path, actor, title_chars=len(task["title"]))
            return task
        raise OSError(errno.EEXIST, f"no free task id for {stem}")

    # ------------------------------------------------------------------ read
    def _load(self, path: Path) -> dict | None:
        try:
            data = read_json(path)
        except FileNotFoundError:
            return None
        except CorruptFile as exc:
            self.corrupt.append((path, exc.reason))
            return None
        if not isinstance(data, dict):
            self.corrupt.append((path, "expected a JSON object"))
            return None
        data["id"] = path.stem
        return data

    def problems(self) -> list[str]:
        """Each unreadable task file seen so far, once: "PATH: corrupt JSON: reason" (listings
        print these on stderr and keep showing the rest)."""
        seen: dict[str, None] = {}
        for path, reason in self.corrupt:
            seen.setdefault(f"{path}: unreadable task file: {reason}", None)
        return list(seen)

    def _locate(self, task_id: str) -> tuple[dict, Path]:
        ids.validate_task_id(task_id)
        found = []
        before = len(self.corrupt)
        for folder in (self.active_dir, self.completed_dir):
            path = folder / f"{task_id}.json"
            task = self._load(path)
            if task is not None:
                found.append((task, path))
        if not found and len(self.corrupt) > before:
            path, reason = self.corrupt[-1]
            raise CorruptFile(path, reason + " (fix or remove the file by hand)")
        if not found:
            raise NotFound(f"task not found: {task_id}", hint="list tasks with: mh task list --all")
        # After a crash mid-move both copies may exist: the later update wins.
        return max(found, key=lambda tp: str(tp[0].get("updated", "")))

    def get(self, task_id: str) -> dict:
        return self._locate(task_id)[0]

    def _all(self, folder: Path) -> list[dict]:
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.glob("task-*.json")):
            if ids.TASK_ID_RE.match(path.stem):
                task = self._load(path)
                if task is not None:
                    out.append(task)
        return out

    def list_active(self) -> list[dict]:
        """Open tasks: P0..P3 (unknown priorities last), then oldest first."""
        done_ids = {t["id"]: t for t in self._all(self.completed_dir)}
        tasks = [t for t in self._all(self.active_dir)
                 if t["id"] not in done_ids or str(t.get("updated", "")) >= str(
                     done_ids[t["id"]].get("updated", ""))]
        return sorted(tasks, key=lambda t: (_priority_rank(t), str(t.get("created", "")), t["id"]))

    def list_completed(self) -> list[dict]:
        """Done and cancelled tasks, most recently finished first."""
        active = {t["id"]: t for t in self._all(self.active_dir)}
        tasks = [t for t in self._all(self.completed_dir)
                 if t["id"] not in active or str(t.get("updated", "")) > str(
                     active[t["id"]].get("updated", ""))]
        return sorted(tasks, key=lambda t: str(t.get("completed") or t.get("updated") or ""),
                      reverse=True)

    def find(self, query: str) -> list[dict]:
        """Tasks whose title, description, tags or id hold every word of `query` (any case)."""
        words = [w.lower() for w in (query or "").split()]
        if not words:
            raise ValidationFailed("task search needs a word to look for")
        out = []
        for task in self.list_active() + self.list_completed():
            hay = " ".join([task["id"], str(task.get("title", "")), str(task.get("description", "")),
                            " ".join(map(str, task.get("tags") or []))]).lower()
            if all(w in hay for w in words):
                out.append(task)
        return out

    # ------------------------------------------------------------------ change
    def _target(self, task: dict) -> Path:
        folder = self.completed_dir if task.get("status") in CLOSED else self.active_dir
        return folder / f"{task['id']}.json"

    def _write(self, old_path: Path, task: dict) -> Path:
        path = self._target(task)
        atomic_write_json(path, task)
        if old_path != path:
            with contextlib.suppress(FileNotFoundError):
                old_path.unlink()
        return path

    def update(self, task_id: str, changes: dict, *, actor: str = "human") -> dict:
        """Change fields (title, description, priority, due, tags, dependencies, status, or any
        extra field); unknown fields in the file are kept. A None value removes an optional one.
        Changes that leave the task as it is (e.g. reopening an open task) are a no-op: the task
        comes back untouched, with no write and no audit (`updated` must mean something)."""
        ids.validate_task_id(task_id)
        if not isinstance(changes, dict):
            raise ValidationFailed("task changes must be an object")
        with self._lock():
            task, old_path = self._locate(task_id)
            before = task.get("status")
            new = dict(task)
            for key, value in changes.items():
                if key in ("id", "created"):
                    raise ValidationFailed(f"task field '{key}' cannot be changed")
                if key == "title":
                    new[key] = _check_title(value)
                elif key == "priority":
                    new[key] = check_priority(value)
                elif key == "status":
                    new[key] = check_status(value)
                elif key == "due":
                    new[key] = check_due(value)
                elif key in ("tags", "dependencies"):
                    new[key] = check_labels(value, key, "task")
                elif key == "description":
                    if not isinstance(value, str):
                        raise ValidationFailed("task description must be text")
                    new[key] = value
                else:
                    new[key] = value
                if new.get(key) is None:
                    new.pop(key, None)
            if new == task and old_path == self._target(task):
                return task
            now = clock.iso()
            new["updated"] = now
            if new.get("status") in CLOSED and before not in CLOSED:
                new["completed"] = now
            elif new.get("status") not in CLOSED:
                new.pop("completed", None)
            path = self._write(old_path, new)
        details: dict[str, Any] = {"fields": sorted(changes)}
        if new.get("status") != before:
            details["from"] = before
        self._audit("update", new, path, actor, **details)
        return new

    def set_status(self, task_id: str, status: str, *, actor: str = "human") -> dict:
        """Move a task to `status`; already there → returned unchanged (no write, no audit)."""
        return self.update(task_id, {"status": check_status(status)}, actor=actor)
