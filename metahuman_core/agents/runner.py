"""The agent loop: one flock per agent, one run record per cycle, a clean stop on SIGTERM/SIGINT.

Lessons from the original (original.md §6): a lock file that merely *exists* blocked agents
forever after a kill -9, so the lock here is an flock the kernel drops with the process
(storage.PidLock); statistics came from grepping the audit log, so every cycle here is a durable
run record; failures were retried every minute forever, so failing cycles back off.
"""

from __future__ import annotations

import os
import re
import signal
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .. import events
from ..errors import ConfigError, CorruptFile, MHError
from ..storage import PidLock
from .records import AgentLog, RunStore

if TYPE_CHECKING:
    from ..profile import Profile

TICK = 0.1                 # how often the wait loop looks at the stop flag and the config
MAX_BACKOFF_FACTOR = 16    # consecutive failed/LLM-less cycles stretch the wait up to 16x
MAX_BACKOFF_SECONDS = 600


@dataclass
class CycleResult:
    """What one cycle did. `more` asks the runner to start the next cycle without waiting."""

    status: str = "ok"                   # ok | failed | skipped
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None
    more: bool = False


class Context:
    """What a cycle gets: the profile, a log, and a stop flag to check between items."""

    def __init__(self, profile: Profile, name: str, log: AgentLog, *, once: bool = False):
        self.profile = profile
        self.name = name
        self.log = log
        self.once = once  # a single pass (e.g. the seed's batch `mh agent run ingestor`)
        self._stop = False

    def request_stop(self) -> None:
        self._stop = True

    def stopping(self) -> bool:
        return self._stop


class Agent:
    """Base class. Subclasses set `name`, `description`, `default_interval` and write cycle()."""

    name = ""
    description = ""
    default_interval: float = 60.0
    one_shot = False  # run once unless --interval is given (the ingestor, as in the seed)

    def interval(self, ctx: Context) -> float | None:
        """Seconds between cycles; None = idle (nothing scheduled, look again shortly)."""
        return self.default_interval

    def due(self, ctx: Context) -> str | None:
        """None when a cycle should run now; otherwise the reason it should not (no record)."""
        return None

    def cycle(self, ctx: Context) -> CycleResult:  # pragma: no cover - abstract
        raise NotImplementedError


def lock_path(profile: Profile, name: str):
    return profile.home.lock_file(f"agent-{name}")


def running_pid(profile: Profile, name: str) -> int | None:
    from ..storage import holder_pid

    return holder_pid(lock_path(profile, name))


def _gist(reason: str | None) -> str | None:
    return re.sub(r"\d+", "#", reason) if reason else reason


def _classify(exc: BaseException) -> CycleResult:
    from ..llm.base import LLMUnavailable, ModelMissing

    if isinstance(exc, (LLMUnavailable, ModelMissing)):
        return CycleResult("skipped", reason=f"LLM unavailable: {exc.message}")
    msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return CycleResult("failed", error=f"{type(exc).__name__}: {msg}")


class Runner:
    def __init__(self, profile: Profile, agent: Agent, *, once: bool | None = None,
                 interval: float | None = None, echo: Callable[[str], None] | None = None):
        self.profile = profile
        self.agent = agent
        self.once = agent.one_shot and interval is None if once is None else once
        self.fixed_interval = interval
        self.log = AgentLog(profile.home.agents_dir, agent.name, echo=echo)
        self.records = RunStore(profile.home.agents_dir, agent.name)
        self.ctx = Context(profile, agent.name, self.log, once=self.once)
        self._signals = 0
        self.cycles = 0
        self.last_result: CycleResult | None = None
        self.config_error: ConfigError | CorruptFile | None = None  # the last cycle's, if any

    # ------------------------------------------------------------------ signals
    def _on_signal(self, signum, _frame) -> None:
        self._signals += 1
        if self._signals > 1:
            raise KeyboardInterrupt  # second signal: stop now
        self.ctx.request_stop()

    def _install_signals(self) -> dict:
        old = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, self._on_signal)
        return old

    # ------------------------------------------------------------------ one cycle
    def run_cycle(self) -> dict:
        run_id = self.records.start()
        self.config_error = None
        t0 = time.monotonic()
        try:
            result = self.agent.cycle(self.ctx)
            if not isinstance(result, CycleResult):
                result = CycleResult("ok", counts=dict(result or {}))
        except KeyboardInterrupt:
            self.records.finish(run_id, status="failed", error="interrupted by a second signal")
            raise
        except (ConfigError, CorruptFile) as exc:  # a broken etc/ or persona file: no traceback
            message = str(exc).replace("\n", "; ")
            result = CycleResult("failed", error=message)
            self.config_error = exc
        except Exception as exc:  # one bad cycle must not kill the service
            result = _classify(exc)
            if result.status == "failed":
                self.log.error("cycle failed: " + traceback.format_exc(limit=6).replace("\n", " | "))
        rec = self.records.finish(run_id, status=result.status, counts=result.counts,
                                  error=result.error, reason=result.reason)
        self.cycles += 1
        took = time.monotonic() - t0
        counts = " ".join(f"{k}={v}" for k, v in result.counts.items())
        detail = result.error or result.reason or ""
        write = self.log.info if result.status == "ok" else self.log.warn
        if self.config_error is not None and result.status == "failed":
            write = self.log.error  # one clear line: which file, what is wrong
        write(f"cycle {rec['id']} {result.status} in {took:.2f}s {counts} {detail}".strip())
        if result.status != "ok" or any(v for v in result.counts.values()
                                        if isinstance(v, (int, float))):
            level = {"ok": "info", "skipped": "warn", "failed": "error"}[result.status]
            self.profile.audit.append(events.AGENT_CYCLE, level=level, category="action",
                                      actor=self.agent.name,
                                      details={"agent": self.agent.name, "run": rec["id"],
                                               "status": result.status, "counts": result.counts,
                                               "error": result.error, "reason": result.reason})
        self.last_result = result
        return rec

    # ------------------------------------------------------------------ the loop
    def _interval(self) -> float | None:
        if self.fixed_interval is not None:
            return self.fixed_interval
        return self.agent.interval(self.ctx)

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.ctx.stopping():
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(TICK, left))

    def run(self) -> int:
        """Hold the lock and loop until stopped (or one cycle with --once). Returns 0, or the
        config error's exit code (2) when a --once cycle failed on a broken config file."""
        lock = PidLock(lock_path(self.profile, self.agent.name), f"agent {self.agent.name}")
        old = self._install_signals()  # before the lock: a SIGTERM right after it is graceful
        try:
            lock.acquire()  # AlreadyRunning("agent NAME already running (pid N)") -> exit 1
        except BaseException:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            raise
        try:
            self.log.rotate_if_large()
            stale = self.records.recover_interrupted()
            self.log.info(f"started (pid {os.getpid()})" + (f"; {stale} interrupted run(s) "
                                                            "marked failed" if stale else ""))
            self.profile.audit.append(events.AGENT_STARTED, actor=self.agent.name,
                                      details={"agent": self.agent.name, "pid": os.getpid(),
                                               "once": self.once,
                                               "interval": self.fixed_interval})
            self._loop()
        finally:
            stopped_by = "signal" if self._signals else ("once" if self.once else "exit")
            self.log.info(f"stopped ({stopped_by}) after {self.cycles} cycle(s)")
            self.profile.audit.append(events.AGENT_STOPPED, actor=self.agent.name,
                                      details={"agent": self.agent.name, "cycles": self.cycles,
                                               "by": stopped_by})
            for sig, handler in old.items():
                signal.signal(sig, handler)
            lock.release()
        if self.once and self.config_error is not None and self.last_result is not None \
                and self.last_result.status == "failed":
            return self.config_error.exit_code
        return 0

    def _fail_on_config(self, exc: ConfigError | CorruptFile) -> None:
        """Record a --once run that could not start its cycle because a config file is broken."""
        message = str(exc).replace("\n", "; ")
        run_id = self.records.start()
        self.records.finish(run_id, status="failed", error=message)
        self.cycles += 1
        self.config_error = exc
        self.last_result = CycleResult("failed", error=message)
        self.log.error(f"cycle {run_id} failed: {message}")

    def _wait_for(self, interval: float, failures: int, more: bool) -> float:
        if more:
            return 0.0
        if failures:
            return min(interval * min(2 ** (failures - 1), MAX_BACKOFF_FACTOR),
                       max(interval, MAX_BACKOFF_SECONDS))
        return interval

    def _loop(self) -> None:
        ctx = self.ctx
        last_reason: str | None = None
        failures, more = 0, False
        last_end: float | None = None  # monotonic end of the last cycle or check
        while not ctx.stopping():
            try:
                interval = self._interval()  # re-read each tick: a config change applies at once
            except MHError as exc:  # e.g. a broken etc/boredom.json: say so, wait for a fix
                if self.once:
                    raise
                if last_reason != exc.message:
                    self.log.error(f"cannot schedule: {exc.message}")
                    last_reason = exc.message
                self._wait(1.0)
                continue
            if interval is None and not self.once:
                if last_reason != "idle":
                    self.log.info("idle: nothing scheduled (e.g. boredom level off)")
                    last_reason = "idle"
                self._wait(TICK * 5)
                continue
            interval = interval if interval is not None else self.agent.default_interval
            if last_end is not None and not self.once:
                left = last_end + self._wait_for(interval, failures, more) - time.monotonic()
                if left > 0:
                    self._wait(min(TICK * 5, left))
                    continue
            try:
                reason = self.agent.due(ctx)
            except (ConfigError, CorruptFile) as exc:
                if self.once:  # a one-shot run on a broken config fails: one line, non-zero
                    self._fail_on_config(exc)
                    return
                reason = f"cannot check the schedule: {exc.message}"
            except MHError as exc:
                reason = f"cannot check the schedule: {exc.message}"
            if reason is not None:
                if self.once:
                    run_id = self.records.start()
                    self.records.finish(run_id, status="skipped", reason=reason)
                    self.cycles += 1
                    self.log.info(f"skipped: {reason}")
                    return
                if _gist(reason) != _gist(last_reason):  # "local time 14:02" changes each minute
                    self.log.info(f"waiting: {reason}")
                last_reason = reason
                last_end, failures, more = time.monotonic(), 0, False
                continue
            last_reason = None
            self.run_cycle()
            if self.once:
                return
            result = self.last_result
            assert result is not None  # run_cycle always sets it
            failures = failures + 1 if result.status != "ok" else 0
            more = result.more and result.status == "ok"
            last_end = time.monotonic()


def run_agent(profile: Profile, name_or_agent, *, once: bool | None = None, interval: float | None = None,
              echo: Callable[[str], None] | None = None) -> int:
    """`mh agent run NAME`: build the agent from the registry (or take an instance) and run it."""
    from .registry import get_agent

    agent = get_agent(name_or_agent) if isinstance(name_or_agent, str) else name_or_agent
    return Runner(profile, agent, once=once, interval=interval, echo=echo).run()
