"""Issue 18: the operator on slow, imperfect models. Budgets hold while the model streams, progress
is visible, runs end honestly (exit codes, "interrupted", "unverified") and no secret leaks.

A fake Ollama server that streams one token every `token_delay` seconds forever stands in for a
slow, looping model (tests/fakes/fake_ollama.py, turn {"forever": ...}); `mh` runs as a real
subprocess where exit codes, stderr and signals matter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from metahuman_core.llm.base import ChatChunk, LLMError
from metahuman_core.llm.bounded import Interrupted, bounded
from metahuman_core.operator import Operator, load_run, run_operator
from metahuman_core.operator_protocol import NUDGE
from metahuman_core.operator_runs import UNVERIFIED
from metahuman_core.profile import Profile
from metahuman_core.storage import exclusive_create_json
from tests.conftest import MH, REPO
from tests.test_operator import call, fake, repo_home  # noqa: F401 - fixtures

GOAL = "List all markdown files in docs/"


@pytest.fixture
def prof(repo_home, fake):  # noqa: F811
    return Profile(repo_home)


def slow_forever(fake, delay: float = 0.25) -> None:  # noqa: F811
    fake.token_delay = delay
    fake.script([{"forever": "la "}])


def wait_for(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def runs(home) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((home / "logs" / "operator").glob("op-*.json"))]


# ------------------------------------------------------------------ budgets during streaming
@pytest.mark.timeout(90)
def test_time_budget_holds_inside_a_generation_that_never_ends(mh, prof, fake, repo_home):  # noqa: F811
    prof.config.set_value("operator.maxSeconds", 3)
    slow_forever(fake)
    proc = mh("op", GOAL, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""  # stdout stays the answer; there is none
    assert "thinking… step 1" in proc.stderr  # progress while the model generates
    assert "time budget" in proc.stderr
    rec = runs(repo_home)[-1]
    assert rec["status"] == "time_budget" and "tokens so far" in rec["error"]


@pytest.mark.timeout(90)
def test_json_progress_is_ndjson_on_stderr(mh, prof, fake):  # noqa: F811
    prof.config.set_value("operator.maxSeconds", 3)
    slow_forever(fake)
    proc = mh("op", GOAL, "--json", timeout=60)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["status"] == "time_budget"
    events = [json.loads(line) for line in proc.stderr.splitlines()]
    thinking = [e for e in events if e["event"] == "thinking"]
    assert events[0]["event"] == "started" and events[-1]["event"] == "finished"
    assert len(thinking) >= 2 and thinking[-1]["tokens"] > 0
    assert [e["elapsed"] for e in thinking] == sorted(e["elapsed"] for e in thinking)


def test_quiet_prints_only_the_answer(mh, fake):  # noqa: F811
    fake.script([call("fs_list", path="docs"), {"content": "Two files."}])
    proc = mh("op", GOAL, "--quiet")
    assert proc.returncode == 0 and proc.stdout == "Two files.\n" and proc.stderr == ""


@pytest.mark.timeout(60)
def test_budget_closes_the_stream_in_process(prof, fake):  # noqa: F811
    prof.config.set_value("operator.maxSeconds", 2)
    slow_forever(fake)
    result = run_operator(prof, GOAL)
    assert result.status == "time_budget"
    assert wait_for(lambda: fake.disconnects == 1)  # the request was closed, not left running


@pytest.mark.timeout(60)
def test_per_call_timeout(prof, fake):  # noqa: F811
    prof.config.set_value("operator.callTimeoutSeconds", 1)
    slow_forever(fake)
    result = run_operator(prof, GOAL)
    assert result.status == "time_budget"
    assert "did not finish one step within 1 s" in result.error


@pytest.mark.timeout(60)
def test_cancel_event_interrupts_a_generation(prof, fake):  # noqa: F811
    slow_forever(fake)
    stop = threading.Event()

    def on_event(event):
        if event.kind == "thinking" and event.data["tokens"] >= 2:
            stop.set()  # what Esc in the TUI and Ctrl-C in mh op do

    result = Operator(prof, on_event=on_event, cancel=stop).run(GOAL)
    assert result.status == "interrupted"
    assert load_run(prof, result.run_id)["status"] == "interrupted"


def test_bounded_stops_a_stream_that_sends_nothing():
    never = threading.Event()
    aborted = []

    def silent():
        never.wait(30)  # a server that accepted the request and went quiet
        yield ChatChunk(content="late")

    ticks = []
    with pytest.raises(Interrupted) as info:
        list(bounded(silent(), deadline=time.monotonic() + 0.6, on_tick=ticks.append, tick=0.2,
                     abort=lambda: (aborted.append(1), never.set())))
    assert info.value.reason == "deadline" and ticks and aborted == [1]


def test_bounded_passes_errors_and_chunks_through():
    def chunks():
        yield ChatChunk(content="a")
        raise LLMError("server broke")

    seen = []
    with pytest.raises(LLMError, match="server broke"):
        for chunk in bounded(chunks(), cancel=threading.Event()):
            seen.append(chunk.content)
    assert seen == ["a"]


# ------------------------------------------------------------------ honest ends
@pytest.mark.timeout(90)
def test_sigterm_marks_the_run_interrupted(prof, fake, repo_home):  # noqa: F811
    slow_forever(fake)
    env = {**os.environ, "MH_HOME": str(repo_home), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*MH, "op", GOAL], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: fake.chat_requests() and runs(repo_home), timeout=30)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    rec = runs(repo_home)[-1]
    assert rec["status"] == "interrupted" and rec["pid"] == proc.pid
    assert "interrupted" in err


def test_runs_left_running_by_a_dead_process_are_marked_interrupted(prof, fake, repo_home):  # noqa: F811
    folder = repo_home / "logs" / "operator"
    dead = subprocess.Popen(["true"])
    dead.wait()
    mine = os.getpid()
    stale = [
        {"id": "", "status": "running", "goal": "a", "pid": dead.pid, "proc_start": None},
        {"id": "", "status": "running", "goal": "b", "pid": mine, "proc_start": "1"},  # pid reused
    ]
    from metahuman_core.operator_runs import process_identity

    alive = {"id": "", "status": "running", "goal": "c", **process_identity()}
    ids = [exclusive_create_json(folder, "op-20250101-000000", r).stem for r in [*stale, alive]]
    fake.script([{"content": "Hello."}])
    assert run_operator(prof, "Say hello").status == "done"
    recs = {r["goal"]: r for r in runs(repo_home) if r["goal"] in "abc"}
    assert recs["a"]["status"] == "interrupted" and f"pid {dead.pid}" in recs["a"]["error"]
    assert recs["b"]["status"] == "interrupted"
    assert recs["c"]["status"] == "running"  # this very process: alive
    assert len(ids) == 3


def test_every_step_denied_exits_4(mh, fake, repo_home):  # noqa: F811
    Profile(repo_home).persona.set_trust_level("observe")
    fake.script([call("fs_delete", path="out/a.txt"), {"content": "I cannot delete files."}])
    proc = mh("op", "Delete out/a.txt")
    assert proc.returncode == 4, proc.stderr
    assert proc.stdout == "I cannot delete files.\n" and "every step was denied" in proc.stderr
    rec = runs(repo_home)[-1]
    assert rec["status"] == "denied" and rec["steps"][0]["denied_by"] == "policy"
    assert "needs approval" not in proc.stderr and "hint:" in proc.stderr  # the gate's hint shown


def test_only_useful_step_failed_exits_1(mh, fake, repo_home):  # noqa: F811
    Profile(repo_home).config.set_value("network.provider", "none")
    fake.script([call("web_search", query="AI agent architectures"),
                 {"content": "Web search is not available."}])
    code = mh("op", "Search the web for AI agent architectures", "--json")
    out = json.loads(code.stdout)
    assert code.returncode == 1 and out["status"] == "failed"
    assert out["answer"] == "Web search is not available." and "web_search" in out["error"]


def test_a_toolless_answer_is_nudged_once_then_unverified(mh, fake, repo_home):  # noqa: F811
    invented = "docs/one.md\ndocs/two.md\ndocs/three.md"
    fake.script([{"content": invented}, {"content": invented}])
    proc = mh("op", GOAL)
    assert proc.returncode == 1
    assert invented in proc.stdout and UNVERIFIED in proc.stdout
    second = fake.chat_requests()[1]["messages"]
    assert second[-1] == {"role": "user", "content": NUDGE}
    rec = runs(repo_home)[-1]
    assert rec["status"] == "unverified" and rec["warning"] == UNVERIFIED


def test_a_nudged_model_that_then_uses_a_tool_is_done(prof, fake):  # noqa: F811
    fake.script([{"content": "docs/x.md"}, call("fs_list", path="docs"),
                 {"content": "alpha.md and beta.md"}])
    result = run_operator(prof, GOAL)
    assert result.status == "done" and result.answer == "alpha.md and beta.md"


def test_a_goal_that_needs_no_tool_is_not_nudged(prof, fake):  # noqa: F811
    fake.script([{"content": "Hello!"}])
    result = run_operator(prof, "Say hello")
    assert result.status == "done" and len(fake.chat_requests()) == 1


# ------------------------------------------------------------------ secrets
def test_a_key_echoing_server_leaks_nothing(mh, fake, repo_home):  # noqa: F811
    secret = "sk-live-SECRET-7f3a9c1e55"
    fake.api_key = "sk-the-right-key-000"
    prof = Profile(repo_home)
    prof.config.set_value("agent.backend", "openai")
    prof.config.set_value("agent.openaiBaseUrl", fake.url + "/v1")
    env = {"MH_OPENAI_API_KEY": secret}
    procs = [mh("op", GOAL, env=env), mh("op", GOAL, "--json", env=env),
             mh("chat", "--message", "hello", env=env)]
    assert len(fake.chat_requests()) == 3  # each one reached the server and got the 401
    for proc in procs:
        assert proc.returncode == 1
        assert secret not in proc.stdout + proc.stderr
    assert "[redacted]" in procs[0].stderr
    for path in repo_home.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert secret.encode() not in path.read_bytes(), path


def test_llm_errors_and_run_records_scrub_secret_variables(monkeypatch):
    from metahuman_core.redact import scrub_secrets

    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-0123456789abcdef")
    assert "0123456789" not in LLMError("upstream said tok-0123456789abcdef").message
    assert scrub_secrets({"a": ["x tok-0123456789abcdef y"]}) == {"a": ["x [redacted] y"]}


# ------------------------------------------------------------------ the JSON protocol
def test_json_protocol_is_constrained_and_capped(prof, fake):  # noqa: F811
    fake.add_model("tiny:1b", tools=False)
    prof.config.set_value("agent.model", "tiny:1b")
    prof.config.set_value("operator.maxTokensPerStep", 200)
    fake.script([{"content": '{"tool": "fs_list", "args": {"path": "docs"}}'},
                 {"content": '{"answer": "alpha.md, beta.md"}'}])
    result = run_operator(prof, GOAL)
    assert result.status == "done" and result.answer == "alpha.md, beta.md"
    request = fake.chat_requests()[1]
    schema = request["format"]
    assert "fs_list" in schema["anyOf"][0]["properties"]["tool"]["enum"]
    assert schema["anyOf"][1]["required"] == ["answer"]
    assert request["options"]["num_predict"] == 200


def test_tui_bridge_shows_thinking():
    from metahuman_core.operator_runs import OperatorEvent
    from metahuman_tui.widgets.chat_backend import translate
    from metahuman_tui.widgets.chat_events import Thinking

    item = translate(OperatorEvent("thinking", 2, {"elapsed": 3.0, "tokens": 7}))
    assert item == Thinking("2", 3.0, 7)


def test_progress_lines_for_pipes_and_terminals():
    import io

    from metahuman_core.operator_runs import OperatorEvent
    from metahuman_tui.cli.op_progress import Reporter

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    events = [OperatorEvent("thinking", 1, {"elapsed": 0.0, "tokens": 0}),
              OperatorEvent("thinking", 1, {"elapsed": 1.0, "tokens": 3}),
              OperatorEvent("tool_call", 1, {"skill": "fs_list", "args": {"path": "docs"}}),
              OperatorEvent("answer", 1, {"text": "x"})]
    pipe, tty, quiet = io.StringIO(), Terminal(), io.StringIO()
    for stream, mode in ((pipe, "human"), (tty, "human"), (quiet, "quiet")):
        reporter = Reporter(mode, stream)
        for event in events:
            reporter(event)
    assert pipe.getvalue() == 'thinking… step 1\n→ fs_list {"path": "docs"}\n'  # no line a second
    assert "\rthinking… step 1, 1 s, 3 tokens" in tty.getvalue().replace("\x1b[2K", "")
    assert tty.getvalue().endswith('→ fs_list {"path": "docs"}\n')
    assert quiet.getvalue() == ""


def test_secret_files_of_the_profile_are_scrubbed_from_upstream_errors(prof, fake, repo_home):  # noqa: F811
    secret = "sk-from-a-file-5b2e7d10c3"
    prof.home.secrets_dir.mkdir(parents=True, exist_ok=True)
    (prof.home.secrets_dir / "service-key").write_text(secret + "\n")
    fake.script([{"error": f"invalid key {secret} for this server", "status": 500}])
    result = run_operator(prof, GOAL)
    assert result.status == "failed" and "[redacted]" in result.error
    assert secret not in json.dumps(result.to_dict())
    for path in (repo_home / "logs").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
