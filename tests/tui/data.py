"""Fixture data for the TUI tests: a profile with memories, tasks, approvals, audit days and
training runs, written through the real core (approval files are written directly with fixed
ids, as another process would, so snapshots never show random ids).

Every write happens at an explicit time on a FixedClock, so ids and timestamps never move.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from metahuman_core import clock
from metahuman_core.profile import Profile

TZ = timezone(timedelta(hours=2))
NOW = datetime(2025, 10, 19, 16, 0, 0, tzinfo=TZ)   # same instant as tests/conftest.FIXED_NOW


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 10, day, hour, minute, 0, tzinfo=TZ)


MEMORIES = [
    (at(12, 9), "journal", "Long walk by the river; decided to take the Q4 plan seriously.",
     ["walk", "planning"]),
    (at(14, 18, 30), "observation", "Sarah recommended the book Dune; added it to my list.",
     ["books", "sarah"]),
    (at(16, 8), "reflection", "I work best in the morning before email.", ["habits"]),
    (at(17, 20), "observation", "Bike brakes squeak again; fixed the rear pad.", ["bike"]),
    (at(18, 11), "journal", "Plumber could not come; the kitchen tap still drips.", ["home"]),
    (at(18, 21), "dream", "Dreamt of a library with moving shelves.", []),
    (at(19, 9, 15), "observation", "Met with Sarah about the Q4 plan. She wants numbers by Friday.",
     ["work", "sarah"]),
    (at(19, 12), "conversation", "What should I focus on this week?", ["chat"]),
]

TASKS = [
    ("Renew passport", "P0", "2025-10-25", "todo"),
    ("Draft the Q4 plan", "P1", "2025-10-24", "in_progress"),
    ("Call the plumber", "P2", None, "blocked"),
    ("Read Dune", "P3", None, "todo"),
    ("Fix bike brakes", "P1", None, "done"),
    ("Learn the banjo", "P3", None, "cancelled"),
]

PROGRESS_RUNNING = [
    {"stage": "INIT", "pct": 0, "message": "run 2025-10-19 on cpu", "status": "running"},
    {"stage": "DATASET", "pct": 2, "message": "48 pairs (6 held out)", "status": "running"},
    {"stage": "MODEL_DOWNLOAD", "pct": 5, "message": "SmolLM2-135M-Instruct cached",
     "status": "running"},
    {"stage": "PREPROCESSING", "pct": 10, "message": "tokenized", "status": "running"},
    {"stage": "LORA_SETUP", "pct": 12, "message": "rank 8", "status": "running"},
    {"stage": "TRAINING", "pct": 29, "step": 4, "loss": 5.3121, "status": "running"},
    {"stage": "TRAINING", "pct": 43, "step": 8, "loss": 4.0187, "status": "running"},
    {"stage": "TRAINING", "pct": 50, "step": 10, "loss": 3.6402, "status": "running"},
]


def _progress(lines: list[dict], start: datetime) -> str:
    out = []
    for i, line in enumerate(lines):
        item = {"stage": line["stage"], "pct": line["pct"], "step": line.get("step"),
                "loss": line.get("loss"), "message": line.get("message", ""),
                "ts": (start + timedelta(seconds=30 * i)).isoformat(), "status": line["status"]}
        out.append(json.dumps(item) + "\n")
    return "".join(out)


def build(profile: Profile, fixed: clock.FixedClock) -> Profile:
    """Fill `profile` with the fixture data; leaves `fixed` at NOW."""
    from metahuman_core.memory import MemoryStore
    from metahuman_core.tasks import TaskStore

    clock.set_clock(fixed)
    store = MemoryStore(profile)
    for when, kind, text, tags in MEMORIES:
        fixed.set(when)
        store.capture(text, type=kind, tags=tags, actor="cli", timestamp=when)

    tasks = TaskStore(profile)
    for i, (title, pri, due, status) in enumerate(TASKS):
        fixed.set(at(19, 10, i))
        task = tasks.create(title, priority=pri, due=due, actor="cli")
        if status != "todo":
            fixed.set(at(19, 11, i))
            tasks.set_status(task["id"], status, actor="cli")

    for i, (skill, args, risk, when) in enumerate([
            ("fs_write", {"path": "out/plan.md", "content": "# Q4 plan\n", "overwrite": False},
             "medium", at(19, 15, 30)),
            ("fs_delete", {"path": "out/old-notes.txt"}, "high", at(19, 15, 52))]):
        item_id = f"apr-{when:%Y%m%d-%H%M%S}-0000000{i + 1}"
        write_approval(profile, item_id, skill, args, risk, when)
        fixed.set(when)
        profile.audit.append("approval_queued", category="decision", actor="operator",
                             details={"approval_id": item_id, "skill": skill, "risk": risk})

    fixed.set(at(19, 14))
    profile.audit.append("security_event", level="warn", category="security", actor="operator",
                         details={"type": "sandbox_violation", "path": "../etc/passwd"})
    profile.audit.append("lora_training_started", category="action", actor="cli",
                         details={"run": "2025-10-19", "base_model": "SmolLM2-135M-Instruct"})

    runs = profile.home.runs
    old = runs / "2025-10-12"
    old.mkdir(parents=True)
    done_lines = [dict(x) for x in PROGRESS_RUNNING] + [
        {"stage": "SAVE_ADAPTER", "pct": 86, "message": "adapter saved", "status": "running"},
        {"stage": "GGUF_MERGE", "pct": 92, "message": "merged gguf written", "status": "running"},
        {"stage": "COMPLETE", "pct": 100, "message": "done in 94 s", "status": "done"}]
    (old / "progress.ndjson").write_text(_progress(done_lines, at(12, 23)))
    (old / "run-summary.json").write_text(json.dumps(
        {"status": "success", "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
         "duration_seconds": 94}))
    new = runs / "2025-10-19"
    new.mkdir(parents=True)
    (new / "progress.ndjson").write_text(_progress(PROGRESS_RUNNING, at(19, 15)))
    adapter = profile.home.adapters / "2025-10-12"
    adapter.mkdir(parents=True, exist_ok=True)
    (adapter / "2025-10-12.jsonl").write_text(json.dumps(
        {"instruction": "How do you plan a quarter?", "input": "",
         "output": "Numbers first, then the story."}) + "\n")
    (adapter / "metadata.json").write_text(json.dumps({"pairCount": 48, "trainCount": 42,
                                                        "heldOutCount": 6}))
    fixed.set(NOW)
    return profile


def write_approval(profile: Profile, item_id: str, skill: str, args: dict, risk: str,
                   when: datetime) -> Path:
    """A pending approval file as the operator's queue writes it (fixed id, no audit line)."""
    from metahuman_core.approvals import args_sha256
    from metahuman_core.storage import atomic_write_json

    path = profile.home.approval_queue / f"{item_id}.json"
    atomic_write_json(path, {
        "id": item_id, "skill": skill, "description": "", "args": args,
        "args_sha256": args_sha256(args), "risk": risk, "requested_by": "operator",
        "created_at": when.isoformat(timespec="seconds"),
        "expires_at": (when + timedelta(hours=24)).isoformat(timespec="seconds"),
        "status": "pending", "decided_by": None, "decided_at": None, "reason": None,
        "request_reason": "", "trust": "supervised_auto", "yolo": False, "origin": {},
        "result": None, "error": None, "executed_at": None})
    return path


def write_big_audit_day(path: Path, lines: int) -> None:
    """A synthetic day of valid-looking audit lines (no chain: for viewer speed and paging)."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(lines):
            fh.write(json.dumps({
                "seq": i + 1, "prev": "0" * 64,
                "timestamp": f"2025-10-17T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:"
                             f"{i % 60:02d}.000+02:00",
                "level": ("info", "info", "info", "warn", "error")[i % 5],
                "category": ("data", "action", "system", "security")[i % 4],
                "event": ("data_create", "skill_executed", "agent_cycle", "chat_exchange")[i % 4],
                "actor": ("cli", "organizer", "tui")[i % 3], "details": {"n": i},
                "hash": "f" * 64}, separators=(",", ":")) + "\n")
