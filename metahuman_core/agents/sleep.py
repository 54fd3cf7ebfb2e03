"""sleep-service: the nightly pipeline — dreams, overnight learnings, then (if `adapters.lora`)
the LoRA pipeline behind its gates.

Guards the original lacked (original.md §6.4, §10.2 #13): activity comes from the shared
logs/run/activity.json (metahuman_core.activity), the night that ran is saved in
logs/run/sleep-state.json (at most once per night), and a non-blocking flock on
logs/run/sleep-pipeline.lock makes an overlapping run impossible even from another process.
The decision itself is schedule.not_due_reason (pure, tested with an injected clock).
"""

from __future__ import annotations

import os
import random
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from .. import activity, clock, events
from ..errors import CorruptFile
from ..storage import atomic_write_json, file_lock, read_json
from . import schedule
from .runner import Agent, Context, CycleResult

if TYPE_CHECKING:
    from ..profile import Profile


def state_path(profile: Profile) -> Path:
    return profile.home.run_dir / "sleep-state.json"


def pipeline_lock_path(profile: Profile) -> Path:
    return profile.home.run_dir / "sleep-pipeline.lock"


def read_state(profile: Profile) -> dict:
    try:
        data = read_json(state_path(profile))
    except FileNotFoundError:
        return {}
    except CorruptFile:
        return {"corrupt": True}
    return data if isinstance(data, dict) else {}


def not_due(profile: Profile) -> str | None:
    cfg = profile.config.get("sleep")
    return schedule.not_due_reason(clock.now(), cfg, activity.last_activity(profile),
                                   read_state(profile))


# ---------------------------------------------------------------------------- LoRA step
def lora_step(profile: Profile, actor: str = "sleep-service") -> dict:
    """The training package's nightly pipeline (build dataset → auto-approval → optional
    training), behind its gates. Emergency controls: sleep adapters.lora:false stops it before
    any dataset is built; auto-approval enabled:false stops automation after the build."""
    try:
        from ..training import gates, pipeline
        available = hasattr(pipeline, "run_pipeline")
    except ImportError:
        available = False
    if not available:
        reason = "lora pipeline not available"
        profile.audit.append(events.LORA_PIPELINE_SKIPPED, level="warn", actor=actor,
                             details={"reason": reason})
        return {"status": "skipped", "reason": reason}
    allowed, reason = gates.lora_pipeline_allowed(profile)
    if not allowed:
        profile.audit.append(events.LORA_PIPELINE_SKIPPED, category="decision", actor=actor,
                             details={"reason": reason})
        return {"status": "skipped", "reason": reason}
    result = pipeline.run_pipeline(profile, actor=actor)
    if not result.get("ran"):
        return {"status": "skipped", "reason": result.get("reason", "not run")}
    approval = result.get("approval") or {}
    summary = {"status": "ok", "date": result.get("date"), "pairs": result.get("pairs"),
               "approval": approval.get("decision") if isinstance(approval, dict) else approval}
    if "training" in result:
        summary["training"] = result["training"]
    return summary


# ---------------------------------------------------------------------------- the night
def run_night(profile: Profile, *, log=None, stop=None, rng: random.Random | None = None,
              actor: str = "sleep-service", force: bool = False) -> CycleResult:
    """Run the nightly pipeline once (unless already run tonight). Never overlaps."""
    from ..llm import get_llm
    from ..memory import MemoryStore

    try:
        with file_lock(pipeline_lock_path(profile), blocking=False):
            return _night(profile, log=log, stop=stop or (lambda: False),
                          rng=rng or random.Random(), actor=actor, force=force,
                          llm=get_llm(profile), store=MemoryStore(profile))
    except BlockingIOError:
        return CycleResult("skipped", reason="a nightly run is already in progress")


def _night(profile: Profile, *, log, stop, rng, actor, force, llm, store) -> CycleResult:
    cfg = profile.config.get("sleep")
    now = clock.now()
    night = schedule.night_key(now, cfg.window.start, cfg.window.end)
    if not force:  # re-check under the lock: another process may have just finished tonight
        reason = schedule.not_due_reason(now, cfg, activity.last_activity(profile),
                                         read_state(profile))
        if reason:
            return CycleResult("skipped", reason=reason)
    health = llm.health()
    if not health.ok:  # keep the night open: retry at the next check while the window lasts
        return CycleResult("skipped", reason=f"LLM unavailable: {health.error}")
    state = {"lastNight": night, "startedAt": clock.iso(now), "status": "running",
             "pid": os.getpid(), "steps": {}}
    atomic_write_json(state_path(profile), state)
    profile.audit.append(events.SLEEP_STARTED, actor=actor,
                         details={"night": night, "window": f"{cfg.window.start}-{cfg.window.end}",
                                  "lora": cfg.adapters.lora})
    steps: dict[str, dict] = {}

    def step(name: str, fn) -> None:
        if stop():
            steps[name] = {"status": "skipped", "reason": "stopping"}
            return
        try:
            steps[name] = {"status": "ok", **fn()}
        except Exception as exc:  # one failed step must not cancel the others
            steps[name] = {"status": "failed", "error": f"{type(exc).__name__}: "
                           f"{getattr(exc, 'message', None) or exc}"}
            if log:
                log.error(f"night step {name} failed: "
                          + traceback.format_exc(limit=4).replace("\n", " | "))
        state["steps"] = steps
        atomic_write_json(state_path(profile), state)

    from .dreams import make_dreams, write_learnings

    step("dreams", lambda: make_dreams(profile, store, llm, night=night,
                                       max_dreams=cfg.maxDreamsPerNight, rng=rng, actor=actor,
                                       stop=stop))
    if cfg.adapters.prompt:
        step("learnings", lambda: write_learnings(profile, store, llm, night=night, actor=actor))
    else:
        steps["learnings"] = {"status": "skipped", "reason": "adapters.prompt is false"}
    if cfg.adapters.lora:
        step("lora", lambda: lora_step(profile, actor=actor))
    else:
        steps["lora"] = {"status": "skipped", "reason": "adapters.lora is false"}
    failed = [n for n, s in steps.items() if s.get("status") == "failed"]
    state.update(status="failed" if failed else "done", finishedAt=clock.iso(), steps=steps)
    atomic_write_json(state_path(profile), state)
    profile.audit.append(events.SLEEP_FINISHED, level="warn" if failed else "info", actor=actor,
                         details={"night": night, "failedSteps": failed,
                                  "steps": {n: s.get("status") for n, s in steps.items()},
                                  "dreams": steps.get("dreams", {}).get("dreams", 0)})
    counts = {"dreams": steps.get("dreams", {}).get("dreams", 0),
              "learnings": 1 if steps.get("learnings", {}).get("written") else 0,
              "lora": 1 if steps.get("lora", {}).get("status") == "ok" else 0}
    if failed:
        return CycleResult("failed", counts, error="failed steps: " + ", ".join(
            f"{n} ({steps[n].get('error')})" for n in failed))
    return CycleResult("ok", counts)


class SleepService(Agent):
    name = "sleep-service"
    description = "nightly dreams, overnight learnings and the LoRA pipeline"
    default_interval = 60.0

    def __init__(self, rng: random.Random | None = None):
        self.rng = rng or random.Random()

    def due(self, ctx: Context) -> str | None:
        return not_due(ctx.profile)

    def cycle(self, ctx: Context) -> CycleResult:
        return run_night(ctx.profile, log=ctx.log, stop=ctx.stopping, rng=self.rng,
                         actor=self.name)
