"""The operator: the seed's eight test prompts through `mh op` (real subprocesses, a real git home,
the fake Ollama server over loopback), plus the loop's rules in-process."""

from __future__ import annotations

import json
import re
import subprocess
import threading

import pytest
from hypothesis import given, strategies as st

from metahuman_core.approvals import ApprovalQueue
from metahuman_core.operator import Operator, load_run, run_operator, resume_operator
from metahuman_core.operator_protocol import fuzzy_task_id, parse_text_action
from metahuman_core.profile import Profile
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.searxng import FakeSearxng

ALPHA = "# Alpha\n\nAlpha explains how the operator loop observes before it acts.\n"
README = "# Test home\n\nThis README belongs to the operator test home.\n"


@pytest.fixture
def repo_home(home):
    (home / "docs").mkdir()
    (home / "docs" / "alpha.md").write_text(ALPHA)
    (home / "docs" / "beta.md").write_text("# Beta\n\nSecond document.\n")
    (home / "README.md").write_text(README)
    git = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=home, check=True)
    subprocess.run([*git, "add", "-A"], cwd=home, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=home, check=True)
    return home


@pytest.fixture
def fake(repo_home):
    with FakeOllama(models=["qwen3:1.7b"]) as server:
        Profile(repo_home).config.set_value("agent.host", server.url)
        yield server


def last_tool(req: dict) -> str:
    return [m for m in req["messages"] if m["role"] == "tool"][-1]["content"]


def answer_from_observation(prefix: str):
    """A scripted turn that answers with what the last tool actually returned."""
    return lambda req: {"content": prefix + last_tool(req)}


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def op_json(mh, *args) -> tuple[int, dict]:
    proc = mh("op", *args, "--json")
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


# ------------------------------------------------------------------ the seed's eight prompts
def test_1_list_markdown_files_in_docs(mh, fake, repo_home):
    fake.script([call("fs_list", path="docs", pattern="*.md"),
                 answer_from_observation("Markdown files: ")])
    proc = mh("op", "List all markdown files in docs/")
    assert proc.returncode == 0, proc.stderr
    assert "→ fs_list" in proc.stderr and "→" not in proc.stdout  # progress on stderr
    assert "docs/alpha.md" in proc.stdout and "docs/beta.md" in proc.stdout
    assert fake.pending_turns == 0
    events = [e["event"] for e in Profile(repo_home).audit.query(actor="operator")]
    assert [e for e in events if e.startswith("operator_")] == [
        "operator_started", "operator_step", "operator_finished"]
    assert events[1:3] == ["skill_decision", "skill_executed"]  # the gate, inside the step


def test_2_read_readme(mh, fake):
    fake.script([call("fs_read", path="README.md"), answer_from_observation("It says: ")])
    code, out = op_json(mh, "Read the README.md file")
    assert code == 0 and out["status"] == "done"
    assert "belongs to the operator test home" in out["answer"]
    assert out["steps"][0]["skill"] == "fs_read" and out["steps"][0]["status"] == "ok"


def test_3_4_write_and_delete_queue_at_default_trust_then_complete(mh, fake, repo_home):
    target = repo_home / "out" / "test.txt"
    goal = "Create a file out/test.txt containing 'MetaHuman Operator Test'"
    fake.script([call("fs_write", path="out/test.txt", content="MetaHuman Operator Test"),
                 answer_from_observation("Done: ")])
    code, out = op_json(mh, goal)
    assert code == 3 and out["status"] == "waiting_approval" and not target.exists()
    approval = out["approval_id"]
    assert mh("approvals", "approve", approval).returncode == 0
    assert target.read_text() == "MetaHuman Operator Test"
    code, out = op_json(mh, "--resume", out["run_id"])
    assert code == 0 and out["status"] == "done"
    assert "approved" in out["answer"] and approval in out["answer"]

    fake.script([call("fs_delete", path="out/test.txt"), {"content": "Deleted out/test.txt."}])
    proc = mh("op", "Delete out/test.txt")
    assert proc.returncode == 3 and "waiting for approval" in proc.stdout and target.exists()
    approval = re.search(r"apr-[\w-]+", proc.stdout).group(0)
    assert mh("approvals", "approve", approval).returncode == 0
    assert not target.exists()
    proc = mh("op", "Delete out/test.txt")  # re-running the same goal resumes the paused run
    assert proc.returncode == 0 and "Deleted out/test.txt." in proc.stdout
    assert "resuming" in proc.stderr


def test_3_4_bounded_auto_with_yolo_runs_at_once(mh, fake, repo_home):
    Profile(repo_home).persona.set_trust_level("bounded_auto")
    target = repo_home / "out" / "test.txt"
    fake.script([call("fs_write", path="out/test.txt", content="MetaHuman Operator Test"),
                 {"content": "Created."}, call("fs_delete", path="out/test.txt"),
                 {"content": "Deleted."}])
    code, out = op_json(mh, "Create a file out/test.txt containing 'MetaHuman Operator Test'",
                        "--yolo")
    assert code == 0 and out["steps"][0]["decision"] == "run" and out["yolo"] is True
    assert target.read_text() == "MetaHuman Operator Test"
    code, out = op_json(mh, "Delete out/test.txt", "--yolo")
    assert code == 0 and out["answer"] == "Deleted." and not target.exists()
    assert ApprovalQueue(Profile(repo_home)).list("pending") == []


def test_5_git_status(mh, fake, repo_home):
    (repo_home / "notes.md").write_text("untracked\n")
    fake.script([call("git_status"), answer_from_observation("Git says: ")])
    code, out = op_json(mh, "Show me the git status")
    assert code == 0
    assert '"branch": "main"' in out["answer"] and "notes.md" in out["answer"]


def test_6_search_memories_for_operator(mh, fake, repo_home):
    from metahuman_core.memory import MemoryStore

    MemoryStore(Profile(repo_home)).capture("Tried the operator on my notes; it listed docs/.")
    fake.script([call("memory_search", query="operator"), answer_from_observation("Found: ")])
    code, out = op_json(mh, "Search my memories for the word 'operator'")
    assert code == 0 and "Tried the operator on my notes" in out["answer"]


def test_7_web_search_through_searxng(mh, fake, repo_home):
    with FakeSearxng() as searx:
        searx.add("AI agent architectures",
                  ("ReAct: reasoning and acting", "https://example.org/react", "Interleave..."))
        prof = Profile(repo_home)
        prof.config.set_value("network.provider", "searxng")
        prof.config.set_value("network.searxngUrl", searx.url)
        fake.script([call("web_search", query="AI agent architectures"),
                     answer_from_observation("Results: ")])
        code, out = op_json(mh, "Search the web for AI agent architectures")
        assert searx.requests and searx.requests[0]["params"]["q"] == "AI agent architectures"
    assert code == 0 and "ReAct: reasoning and acting" in out["answer"]
    assert "untrusted data" in out["answer"]


def test_8_multi_step_summary_comes_from_the_file_read(mh, fake, repo_home):
    def read_first(req):
        first = sorted(re.findall(r"docs/[\w-]+\.md", last_tool(req)))[0]
        return call("fs_read", path=first)

    def write_summary(req):
        body = last_tool(req).split("--- file content ---\n", 1)[1].split("\n--- end", 1)[0]
        line = next(x for x in body.splitlines() if x and not x.startswith("#"))
        return call("fs_write", path="out/doc-summary.txt", content=f"Summary: {line}\n")

    fake.script([call("fs_list", path="docs", pattern="*.md"), read_first, write_summary,
                 {"content": "Summary written to out/doc-summary.txt."}])
    goal = ("List markdown files in docs/, read the first one, and create a summary in "
            "out/doc-summary.txt")
    code, out = op_json(mh, goal)
    assert code == 3 and [s["skill"] for s in out["steps"]] == ["fs_list", "fs_read", "fs_write"]
    assert mh("approvals", "approve", out["approval_id"]).returncode == 0
    code, out = op_json(mh, goal)
    assert code == 0 and out["answer"] == "Summary written to out/doc-summary.txt."
    summary = (repo_home / "out" / "doc-summary.txt").read_text()
    assert summary == "Summary: Alpha explains how the operator loop observes before it acts.\n"


# ------------------------------------------------------------------ loop rules, in-process
@pytest.fixture
def prof(repo_home, fake):
    return Profile(repo_home)


def test_repeated_call_is_not_rerun_and_the_third_stops(prof, fake):
    fake.script([call("fs_list", path="docs")] * 3)
    result = run_operator(prof, "List docs")
    assert result.status == "loop_detected"
    assert [s["status"] for s in result.steps] == ["ok", "repeated", "loop"]
    assert "already called fs_list" in fake.chat_requests()[2]["messages"][-1]["content"]
    assert len(prof.audit.query(event="skill_executed")) == 1


def test_step_budget(prof, fake):
    prof.config.set_value("operator.maxSteps", 2)
    fake.script([call("fs_list", path="docs"), call("fs_read", path="README.md"),
                 call("git_status")])
    result = run_operator(prof, "Do three things")
    assert result.status == "step_budget" and len(result.steps) == 2
    assert "step budget" in result.summary()


def test_time_budget(prof, fake, fixed_clock):
    prof.config.set_value("operator.maxSeconds", 60)

    def slow_model(req):
        fixed_clock.advance(61)  # the model "took" 61 s to answer
        return call("fs_list", path="docs")

    fake.script([slow_model, call("git_status")])
    result = run_operator(prof, "Do two things")
    assert result.status == "time_budget" and len(result.steps) == 1


def test_model_without_tools_uses_json_in_text(prof, fake):
    fake.add_model("tiny:1b", tools=False)
    prof.config.set_value("agent.model", "tiny:1b")
    fake.script([{"content": 'Sure.\n```json\n{"tool": "fs_list", "args": {"path": "docs"}}\n```'},
                 {"content": '{"answer": "Two files: alpha.md and beta.md."}'}])
    result = run_operator(prof, "List docs")
    assert result.status == "done" and result.answer == "Two files: alpha.md and beta.md."
    requests = fake.chat_requests()
    assert requests[0]["tools"] and not any(r.get("tools") for r in requests[1:])
    assert "exactly ONE JSON object" in requests[1]["messages"][0]["content"]
    assert requests[2]["messages"][-1]["content"].startswith("Observation from fs_list")


def test_rejection_reason_reaches_the_planner(prof, fake):
    fake.script([call("fs_write", path="out/x.txt", content="x"), {"content": "Understood."}])
    paused = run_operator(prof, "Write x")
    ApprovalQueue(prof).reject(paused.approval_id, reason="use out/notes/ instead")
    result = resume_operator(prof, paused.run_id)
    # the only step was rejected: the run is "denied" (exit 4), not "done"
    assert result.status == "denied" and result.steps[0]["status"] == "rejected"
    told = fake.chat_requests()[-1]["messages"][-1]["content"]
    assert "rejected fs_write" in told and "use out/notes/ instead" in told


def test_in_process_wait_resumes_when_approved(prof, fake, repo_home):
    """What the TUI does: keep the run alive while the person decides in another pane."""
    fake.script([call("fs_write", path="out/tui.txt", content="from the TUI"), {"content": "ok"}])

    def on_event(event):
        if event.kind == "approval_pending":
            threading.Thread(target=ApprovalQueue(prof).approve,
                             args=(event.data["approval_id"],)).start()

    result = Operator(prof, on_event=on_event, approval_wait=30).run("Write a file")
    assert result.status == "done" and result.steps[0]["status"] == "ok"
    assert (repo_home / "out" / "tui.txt").read_text() == "from the TUI"
    assert load_run(prof, result.run_id)["status"] == "done"


def test_denied_skills_are_not_offered_and_denials_reach_the_model(prof, fake):
    prof.persona.set_trust_level("observe")
    fake.script([call("fs_delete", path="out/a.txt"), {"content": "I cannot delete at observe."}])
    result = run_operator(prof, "Delete out/a.txt")
    offered = [t["function"]["name"] for t in fake.chat_requests()[0]["tools"]]
    assert "fs_delete" not in offered and "fs_read" in offered
    assert "fs_delete (needs supervised_auto)" in fake.chat_requests()[0]["messages"][0]["content"]
    assert result.steps[0]["status"] in ("denied", "error")


def test_yolo_repairs_task_titles_into_ids(prof, fake):
    from metahuman_core.tasks import TaskStore

    task = TaskStore(prof).create("Buy milk", actor="human")
    task_id = task["id"] if isinstance(task, dict) else task.id
    fake.script([call("task_update_status", task_id="buy milk", status="done"), {"content": "x"}])
    strict = run_operator(prof, "Mark buy milk done")
    assert strict.steps[0]["status"] == "error"  # without YOLO: no guessing
    fake.script([call("task_update_status", task_id="buy milk", status="done"), {"content": "x"}])
    relaxed = run_operator(prof, "Mark buy milk done", yolo=True)
    assert relaxed.steps[0]["status"] == "ok" and relaxed.steps[0]["args"]["task_id"] == task_id
    assert relaxed.steps[0]["notes"]


def test_web_query_built_from_memories_always_asks(prof, fake):
    from metahuman_core.memory import MemoryStore

    prof.persona.set_trust_level("bounded_auto")
    MemoryStore(prof).capture("Sarah's surprise party is on the 14th at the harbour")
    fake.script([call("memory_search", query="surprise party"),
                 call("web_search", query="surprise party is on the 14th at the harbour")])
    result = run_operator(prof, "Find party venues", yolo=True)
    assert result.status == "waiting_approval" and result.steps[-1]["skill"] == "web_search"


def test_resume_rejects_bad_run_ids(prof):
    from metahuman_core.errors import NotFound, ValidationFailed

    with pytest.raises(ValidationFailed):
        resume_operator(prof, "../../etc/passwd")
    with pytest.raises(NotFound):
        resume_operator(prof, "op-20250101-000000")


# ------------------------------------------------------------------ parsing
@given(st.text(max_size=300))
def test_text_action_parser_never_raises(text):
    calls, answer = parse_text_action(text, {"fs_list", "fs_read"})
    assert calls or answer is not None


@pytest.mark.parametrize("text,name,args", [
    ('{"tool": "fs_read", "args": {"path": "README.md"}}', "fs_read", {"path": "README.md"}),
    ('<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>', "read_file",
     {"path": "a"}),
    ('{"action": {"tool": "fs_list", "args": {}}, "thought": "look"}', "fs_list", {}),
    ('<think>{"tool": "nope"}</think>{"tool": "fs_list", "args": "{\\"path\\": \\"d\\"}"}',
     "fs_list", {"path": "d"}),
])
def test_text_action_shapes(text, name, args):
    calls, answer = parse_text_action(text, {"fs_list", "fs_read"})
    assert calls[0].name == name and calls[0].arguments == args and answer is None


def test_fuzzy_task_id_only_when_unique():
    tasks = [{"id": "task-20251019-160000", "title": "Buy milk"},
             {"id": "task-20251019-160100", "title": "Buy bread"}]
    assert fuzzy_task_id(tasks, "buy milk") == "task-20251019-160000"
    assert fuzzy_task_id(tasks, "task-20251019-1601") == "task-20251019-160100"
    assert fuzzy_task_id(tasks, "buy") is None
