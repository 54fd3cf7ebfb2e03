"""The agent runner: run records, logs, lock, signals, and the `mh agent` / `mh boredom` CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from metahuman_core.agents.records import AgentLog, RunStore
from metahuman_core.agents.runner import Agent, CycleResult, Runner, running_pid
from metahuman_core.errors import AlreadyRunning
from metahuman_core.storage import PidLock
from tests.conftest import MH, REPO


def all_entries(profile):
    return [e for d in profile.audit.dates() for e in profile.audit.entries(d)]


class Counting(Agent):
    name = "organizer"  # reuse a registered name: the lock and records paths are per name
    default_interval = 0.01

    def __init__(self, stop_after=3, outcome=None):
        self.calls = 0
        self.stop_after = stop_after
        self.outcome = outcome

    def cycle(self, ctx):
        self.calls += 1
        if self.calls >= self.stop_after:
            ctx.request_stop()
        if self.outcome is not None:
            raise self.outcome
        return CycleResult("ok", {"items": self.calls})


def test_cycles_become_run_records_and_log_lines(profile):
    agent = Counting(stop_after=3)
    assert Runner(profile, agent).run() == 0
    store = RunStore(profile.home.agents_dir, "organizer")
    summary = store.summary()
    assert (summary["total"], summary["successes"], summary["failures"]) == (3, 3, 0)
    assert summary["successRate"] == 100.0
    runs = store.recent()
    assert [r["counts"]["items"] for r in runs] == [3, 2, 1]
    assert all(r["status"] == "ok" and r["start"] and r["end"] for r in runs)
    log = AgentLog(profile.home.agents_dir, "organizer").tail(20)
    assert any("started" in line for line in log) and "stopped" in log[-1]
    events = [e["event"] for e in all_entries(profile)]
    assert "agent_started" in events and "agent_stopped" in events


def test_failed_and_llm_less_cycles(profile):
    from metahuman_core.llm.base import LLMUnavailable

    Runner(profile, Counting(stop_after=1, outcome=RuntimeError("boom")), once=True).run()
    Runner(profile, Counting(stop_after=1, outcome=LLMUnavailable("cannot reach Ollama")),
           once=True).run()
    runs = RunStore(profile.home.agents_dir, "organizer").recent()
    assert runs[0]["status"] == "skipped" and "cannot reach Ollama" in runs[0]["reason"]
    assert runs[1]["status"] == "failed" and runs[1]["error"] == "RuntimeError: boom"
    summary = RunStore(profile.home.agents_dir, "organizer").summary()
    assert (summary["failures"], summary["skipped"], summary["successRate"]) == (1, 1, 0.0)
    cycles = [e for e in all_entries(profile)
              if e["event"] == "agent_cycle"]
    assert [c["details"]["status"] for c in cycles] == ["failed", "skipped"]


def test_failures_back_off(profile):
    runner = Runner(profile, Counting())
    assert runner._wait_for(60, 0, False) == 60
    assert runner._wait_for(60, 1, False) == 60
    assert runner._wait_for(60, 3, False) == 240
    assert runner._wait_for(60, 30, False) == 600          # capped
    assert runner._wait_for(60, 0, True) == 0              # more work waiting


def test_interrupted_run_is_marked_failed_on_next_start(profile):
    store = RunStore(profile.home.agents_dir, "organizer")
    store.start(pid=999_999)                               # a cycle whose process was killed
    Runner(profile, Counting(stop_after=1), once=True).run()
    runs = store.recent()
    assert runs[-1]["status"] == "failed" and "interrupted" in runs[-1]["error"]
    assert store.summary()["total"] == 2


def test_second_runner_in_process_is_refused(profile):
    with PidLock(profile.home.lock_file("agent-organizer"), "agent organizer"):
        with pytest.raises(AlreadyRunning, match=rf"already running \(pid {os.getpid()}\)"):
            Runner(profile, Counting()).run()


def test_run_records_survive_a_corrupt_file(profile):
    store = RunStore(profile.home.agents_dir, "organizer")
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text("{torn")
    Runner(profile, Counting(stop_after=1), once=True).run()
    assert store.summary()["total"] == 1
    assert list(store.path.parent.glob("organizer.runs.json.corrupt-*"))


# ---------------------------------------------------------------------------- subprocesses
def _spawn(home, *args, log=None):
    env = dict(os.environ, MH_HOME=str(home), PYTHONPATH=str(REPO))
    out = open(log, "wb") if log else subprocess.DEVNULL
    return subprocess.Popen([*MH, "agent", "run", *args], env=env, cwd=REPO, stdout=out,
                            stderr=subprocess.STDOUT)


def _wait_for_pid(profile, name, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = running_pid(profile, name)
        if pid == proc.pid:
            return pid
        assert proc.poll() is None, f"agent exited early with {proc.returncode}"
        time.sleep(0.05)
    raise AssertionError(f"{name} did not take its lock")


def test_lock_refusal_kill9_and_sigterm(home, profile, mh, tmp_path):
    first = _spawn(home, "organizer", "--interval", "0.2", log=tmp_path / "first.log")
    try:
        _wait_for_pid(profile, "organizer", first)
        second = mh("agent", "run", "organizer", "--once")
        assert second.returncode == 1
        assert f"already running (pid {first.pid})" in second.stderr
        ps = json.loads(mh("agent", "ps", "--json").stdout)
        assert {r["name"]: r["pid"] for r in ps}["organizer"] == first.pid
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        # the kernel dropped the flock: a new one starts at once, no stale lock to remove
        third = _spawn(home, "organizer", "--interval", "0.2", log=tmp_path / "third.log")
        _wait_for_pid(profile, "organizer", third)
        third.send_signal(signal.SIGTERM)
        assert third.wait(5) == 0
    finally:
        for p in (first,):
            if p.poll() is None:
                p.kill()
    assert running_pid(profile, "organizer") is None
    status = json.loads(mh("agent", "status", "organizer", "--json").stdout)
    assert status["total"] >= 1 and status["pid"] is None
    assert any("stopped (signal)" in line for line in status["recentLog"])
    text = mh("agent", "status", "organizer").stdout
    for label in ("Total runs:", "Successful:", "Failed:", "Success rate:", "Last run:",
                  "Recent log entries:"):
        assert label in text


def test_agent_stop_sends_sigterm(home, profile, mh, tmp_path):
    proc = _spawn(home, "organizer", "--interval", "0.2", log=tmp_path / "a.log")
    try:
        _wait_for_pid(profile, "organizer", proc)
        res = mh("agent", "stop", "organizer")
        assert res.returncode == 0, res.stderr
        assert f"stopped organizer (pid {proc.pid})" in res.stdout
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    again = mh("agent", "stop", "organizer")
    assert again.returncode == 1 and "not running" in again.stderr


def test_list_unknown_and_install_service(home, mh, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    listed = json.loads(mh("agent", "list", "--json").stdout)
    assert [a["name"] for a in listed] == ["organizer", "boredom-service", "sleep-service",
                                            "ingestor"]
    bad = mh("agent", "run", "nope")
    assert bad.returncode == 2 and "unknown agent 'nope'" in bad.stderr
    res = mh("agent", "install-service", "organizer")
    assert res.returncode == 0, res.stderr
    unit = Path(os.environ["HOME"]) / ".config/systemd/user/metahuman-organizer.service"
    text = unit.read_text()
    assert f"--home {home} agent run organizer" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert os.path.isabs(exec_line.split("=", 1)[1].split()[0])
    assert "Restart=on-failure" in text
    assert "systemctl --user daemon-reload && systemctl --user enable --now " \
           "metahuman-organizer.service" in res.stdout


def test_boredom_cli(home, mh, profile):
    shown = json.loads(mh("boredom", "--json").stdout)
    assert shown["level"] == "off" and shown["seconds"] == -1
    assert mh("boredom", "interval", "custom", "7").returncode == 0
    res = mh("boredom", "level", "custom")
    assert res.returncode == 0, res.stderr
    cfg = profile.config.get("boredom")
    assert (cfg.level, cfg.interval_seconds()) == ("custom", 7)
    bad = mh("boredom", "level", "nosuch")
    assert bad.returncode == 2 and "etc/boredom.json" in bad.stderr and "nosuch" in bad.stderr
    assert profile.config.get("boredom").level == "custom"       # nothing written
    bad = mh("boredom", "interval", "custom", "0")
    assert bad.returncode == 2 and "interval 'custom' must be >= 1" in bad.stderr
    off = mh("boredom", "interval", "low", "-1")                 # the documented "off" value
    assert off.returncode == 0, off.stderr
    assert profile.config.get("boredom").intervals["low"] == -1
    text = mh("boredom", "show").stdout
    assert "level: custom (every 7 s)" in text
    changes = [e for e in all_entries(profile)
               if e["event"] == "config_changed"]
    assert [c["details"]["key"] for c in changes] == ["boredom.intervals.custom", "boredom.level",
                                                       "boredom.intervals.low"]


class NotDue(Agent):
    name = "sleep-service"
    default_interval = 0.01

    def __init__(self):
        self.checks = 0

    def due(self, ctx):
        self.checks += 1
        if self.checks >= 5:
            ctx.request_stop()
        return f"outside the sleep window 23:00-06:00 (local time 14:0{self.checks})"

    def cycle(self, ctx):
        raise AssertionError("must not run")


def test_not_due_checks_leave_no_records_but_once_records_the_reason(profile):
    agent = NotDue()
    Runner(profile, agent).run()
    assert agent.checks == 5
    store = RunStore(profile.home.agents_dir, "sleep-service")
    assert store.summary()["total"] == 0
    log = AgentLog(profile.home.agents_dir, "sleep-service").tail(20)
    assert len([line for line in log if "waiting: outside the sleep window" in line]) == 1
    Runner(profile, NotDue(), once=True).run()
    (run,) = store.recent()
    assert run["status"] == "skipped" and run["reason"].startswith("outside the sleep window")


def test_idle_agent_runs_no_cycle_until_stopped(profile):
    import threading

    class Idle(Counting):
        def interval(self, ctx):
            return None

    agent = Idle()
    runner = Runner(profile, agent)
    threading.Timer(0.3, runner.ctx.request_stop).start()
    assert runner.run() == 0 and agent.calls == 0
    assert any("idle: nothing scheduled" in line
               for line in AgentLog(profile.home.agents_dir, "organizer").tail(5))
