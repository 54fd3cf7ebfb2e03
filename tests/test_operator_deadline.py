"""The operator's time budget (maxSeconds) holds wherever the operator itself waits: skills that
wait on the network or a subprocess, and model streams on an OpenAI-style server. Waiting for
the person is bounded by approval_wait instead, and does not use up the budget. A cancel (Esc,
Ctrl-C, SIGTERM) ends an approval wait at once; an approval nobody answered stays queued. Slow
things are real: a SearXNG fake that answers late, a `git` that hangs, the
fake model server's "forever" turns."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from metahuman_core.approvals import ApprovalQueue
from metahuman_core.operator import Operator, resume_operator, run_operator
from metahuman_core.profile import Profile
from metahuman_core.skills import execute
from metahuman_core.errors import MHError
from metahuman_core.skills.deadline import (Deadline, DeadlineExceeded, call_under, running_under,
                                                  timeout)
from tests.conftest import MH, REPO
from tests.fakes.searxng import FakeSearxng
from tests.test_operator import call, fake, prof, repo_home  # noqa: F401 - fixtures
from tests.test_operator_budget import wait_for

WRITE = call("fs_write", path="out/x.txt", content="x")


def timed(fn, *args, **kw):
    t0 = time.monotonic()
    result = fn(*args, **kw)
    return result, time.monotonic() - t0


@pytest.fixture
def hanging_git(repo_home, tmp_path, monkeypatch):  # noqa: F811 - after the home's real git init
    """A `git` on PATH that never answers (a huge repository, a stuck network filesystem)."""
    bindir = tmp_path / "slow-bin"
    bindir.mkdir()
    git = bindir / "git"
    git.write_text("#!/bin/sh\nexec sleep 60\n")
    git.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return git


# ------------------------------------------------------------------ approval waits
@pytest.mark.timeout(60)
def test_time_spent_waiting_for_the_person_does_not_use_up_the_budget(prof, fake):  # noqa: F811
    """maxSeconds is the operator's own time (model, skills); the wait for a person is bounded
    by approval_wait (--wait, the TUI's wait), and the budget's clock stops meanwhile."""
    prof.config.set_value("operator.maxSeconds", 1.5)
    fake.script([WRITE, {"content": "Written."}])

    def on_event(event):
        if event.kind == "approval_pending":
            aid = event.data["approval_id"]
            threading.Timer(2.5, lambda: ApprovalQueue(prof).approve(aid)).start()

    result, took = timed(Operator(prof, on_event=on_event, approval_wait=8).run, "Write out/x.txt")
    assert result.status == "done" and 2.5 <= took < 6, (result.status, result.error, took)
    assert (prof.root / "out" / "x.txt").read_text() == "x"


@pytest.mark.timeout(60)
def test_an_unanswered_wait_ends_after_approval_wait_even_past_the_budget(prof, fake):  # noqa: F811
    prof.config.set_value("operator.maxSeconds", 0.5)
    fake.script([WRITE, {"content": "Written."}])
    result, took = timed(Operator(prof, approval_wait=1.5).run, "Write out/x.txt")
    assert result.status == "waiting_approval" and 1.5 <= took < 3.5, (result.status, took)
    assert ApprovalQueue(prof).get(result.approval_id)["status"] == "pending"  # not lost
    ApprovalQueue(prof).approve(result.approval_id)  # the person says yes later: the write happens
    assert (prof.root / "out" / "x.txt").read_text() == "x"
    assert resume_operator(prof, result.run_id).status == "done"


@pytest.mark.timeout(60)
def test_a_budget_the_model_used_up_leaves_no_approval_wait(prof, fake, fixed_clock):  # noqa: F811
    prof.config.set_value("operator.maxSeconds", 60)

    def slow_model(req):
        fixed_clock.advance(61)  # the model "took" 61 s to ask for the write
        return WRITE

    fake.script([slow_model])
    result, took = timed(Operator(prof, approval_wait=6).run, "Write out/x.txt")
    assert result.status == "time_budget" and took < 1.0, (result.status, took)
    assert ApprovalQueue(prof).get(result.approval_id)["status"] == "pending"


def test_a_wait_shorter_than_the_budget_still_pauses(prof, fake):  # noqa: F811
    fake.script([WRITE, {"content": "Written."}])
    result = Operator(prof, approval_wait=0.3).run("Write out/x.txt")
    assert result.status == "waiting_approval"
    ApprovalQueue(prof).approve(result.approval_id)
    assert resume_operator(prof, result.run_id).status == "done"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("after", [0.0, 0.1, 0.35])
def test_cancel_ends_an_approval_wait_within_0_3_s(prof, fake, after):  # noqa: F811
    fake.script([WRITE, {"content": "Written."}])
    stop, fired = threading.Event(), []

    def fire():
        fired.append(time.monotonic())
        stop.set()  # what Esc in the TUI, Ctrl-C and SIGTERM in mh op do

    def on_event(event):
        if event.kind == "approval_pending":
            threading.Timer(after, fire).start()

    result = Operator(prof, on_event=on_event, approval_wait=30, cancel=stop).run("Write x")
    lag = time.monotonic() - fired[0]
    assert lag < 0.3, lag
    assert result.status == "waiting_approval"  # paused and resumable: nothing is lost
    assert ApprovalQueue(prof).get(result.approval_id)["status"] == "pending"
    ApprovalQueue(prof).approve(result.approval_id)
    assert resume_operator(prof, result.run_id).status == "done"


@pytest.mark.timeout(90)
def test_sigterm_ends_the_approval_wait_of_mh_op(fake, repo_home):  # noqa: F811
    fake.script([WRITE, {"content": "Written."}])
    queue = Profile(repo_home).home.approval_queue
    env = {**os.environ, "MH_HOME": str(repo_home), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*MH, "op", "Write out/x.txt", "--wait", "60", "--json"], env=env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: list(queue.glob("apr-*.json")), timeout=30)
        time.sleep(0.3)  # well inside the wait
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert took < 2.0, took  # the wait ends at once; the rest is the process exiting
    assert proc.returncode == 3, err
    assert json.loads(out)["status"] == "waiting_approval"


# ------------------------------------------------------------------ skills get the time left
def test_a_skill_timeout_is_the_smaller_of_its_own_and_the_time_left():
    assert timeout(20, "a wait") == 20  # no deadline: the skill's own timeout
    with running_under(Deadline.after(5, "a 5 s budget")):
        assert 4 < timeout(20, "a wait") <= 5
        assert timeout(1, "a wait") == 1
    with running_under(Deadline.after(0, "a spent budget")):
        with pytest.raises(DeadlineExceeded, match="no time was left to start git status"):
            timeout(20, "git status")


@pytest.mark.timeout(60)
def test_web_search_is_cut_to_the_time_left(prof, fake):  # noqa: F811
    with FakeSearxng(delay=8) as searx:
        prof.config.set_value("network.provider", "searxng")
        prof.config.set_value("network.searxngUrl", searx.url)
        prof.config.set_value("operator.maxSeconds", 1.5)
        fake.script([call("web_search", query="AI agents"), {"content": "nothing"}])
        result, took = timed(run_operator, prof, "Search the web for AI agents")
        assert searx.requests  # it did start: the network wait was what got cut
    assert took < 2.5, took
    assert result.status == "time_budget"
    step = result.steps[0]
    assert step["skill"] == "web_search" and step["status"] == "error"
    assert step["observation"].startswith("web_search was stopped by the operator's time budget "
                                          "(1.5 s)")  # said once, not "web_search failed: web_search …"


@pytest.mark.timeout(60)
def test_git_status_is_cut_to_the_time_left(prof, fake, hanging_git):  # noqa: F811
    prof.config.set_value("operator.maxSeconds", 1.5)
    fake.script([call("git_status"), {"content": "nothing"}])
    result, took = timed(run_operator, prof, "Show the git status of my home")
    assert took < 2.5, took
    assert result.status == "time_budget"
    step = result.steps[0]
    assert step["skill"] == "git_status" and step["status"] == "error"
    assert "operator's time budget (1.5 s)" in step["observation"]


@pytest.mark.timeout(60)
def test_the_gate_hands_the_deadline_to_waiting_skills_only(prof, hanging_git):  # noqa: F811
    out, took = timed(execute, prof, "git_status", {}, actor="human",
                      deadline=Deadline.after(0.5, "a 0.5 s test budget"))
    assert took < 1.5, took
    assert out.status == "error" and out.error_type == "deadline"
    assert out.error.startswith("git_status was stopped by a 0.5 s test budget")
    spent = Deadline.after(0, "a spent budget")
    wrote = execute(prof, "fs_write", {"path": "out/y.txt", "content": "y"}, actor="human",
                    deadline=spent)
    assert wrote.ok and (prof.root / "out" / "y.txt").read_text() == "y"  # a write is never cut
    with FakeSearxng() as searx:
        prof.config.set_value("network.provider", "searxng")
        prof.config.set_value("network.searxngUrl", searx.url)
        searched = execute(prof, "web_search", {"query": "x"}, actor="human", deadline=spent)
        assert searx.requests == []  # no time left: the request is not even sent
    assert searched.error_type == "deadline" and "web_search" in searched.error
    assert "a spent budget" in searched.error


def test_a_skill_that_never_waited_on_the_deadline_keeps_its_own_error():
    """Only a skill that asked for the time left can be "stopped by the budget": a write that
    fails for its own reason just after the deadline passed says its own reason."""
    def write_that_fails_late():
        time.sleep(0.15)
        raise MHError("disk full")

    with pytest.raises(MHError) as caught:
        call_under(Deadline.after(0.05, "a 0.05 s budget"), "fs_write", write_that_fails_late)
    assert not isinstance(caught.value, DeadlineExceeded) and caught.value.message == "disk full"

    def read_that_waited_and_failed_late():
        timeout(20, "a read")  # it asked: its failure past the deadline is the budget's doing
        time.sleep(0.15)
        raise MHError("connection reset")

    with pytest.raises(DeadlineExceeded, match="fetch was stopped by a 0.05 s budget"):
        call_under(Deadline.after(0.05, "a 0.05 s budget"), "fetch", read_that_waited_and_failed_late)


# ------------------------------------------------------------------ model streams
@pytest.mark.timeout(60)
def test_time_budget_holds_on_an_openai_style_server_that_streams_forever(prof, fake):  # noqa: F811
    prof.config.set_value("agent.backend", "openai")
    prof.config.set_value("agent.openaiBaseUrl", fake.url + "/v1")
    prof.config.set_value("operator.maxSeconds", 2)
    fake.token_delay = 0.25
    fake.script([{"forever": "la "}])
    result, took = timed(run_operator, prof, "List all markdown files in docs/")
    assert result.status == "time_budget" and "tokens so far" in result.error
    assert took < 3.5, took
    assert wait_for(lambda: fake.disconnects == 1, timeout=20)  # the stream was closed, not left running
