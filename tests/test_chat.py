"""Persona chat: streaming, grounding, the conversation memory, routing, the REPL, `mh model`, and
what still works when no model is reachable."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, strategies as st

from metahuman_core import activity
from metahuman_core.chat import ChatSession, ThinkFilter, looks_like_action
from metahuman_core.llm import LLMUnavailable
from metahuman_core.memory import MemoryStore
from metahuman_core.prompt import build_system_prompt, overnight_dir
from tests.fakes.fake_ollama import FakeOllama


@pytest.fixture
def fake(profile):
    with FakeOllama(models=["qwen3:1.7b"]) as server:
        profile.config.set_value("agent.host", server.url)
        yield server


def system_prompt_sent(fake) -> str:
    return fake.chat_requests()[-1]["messages"][0]["content"]


# ------------------------------------------------------------------ chat core
def test_chat_streams_grounds_and_saves(profile, fake, fixed_clock):
    store = MemoryStore(profile)
    store.capture("Met with Sarah about the greenhouse; she wants heirloom tomatoes", tags=["garden"])
    store.capture("Dentist appointment moved to Friday")
    fake.script([{"content": "She wants heirloom tomatoes in the greenhouse."}])
    seen: list[str] = []
    reply = ChatSession(profile).send("What did Sarah want for the greenhouse?", on_token=seen.append)
    assert seen == ["She ", "wants ", "heirloom ", "tomatoes ", "in ", "the ", "greenhouse."]
    assert reply.text == "She wants heirloom tomatoes in the greenhouse." and reply.route == "chat"
    prompt = system_prompt_sent(fake)
    assert "heirloom tomatoes" in prompt and "Dentist" not in prompt  # grounded, and only relevant
    assert "You are the digital twin of Alex" in prompt and "honesty" in prompt
    saved = store.get(reply.memory_id)
    assert saved["type"] == "conversation" and "chat" in saved["tags"]
    assert saved["content"] == "What did Sarah want for the greenhouse?"
    assert saved["response"] == reply.text
    assert len(reply.grounding) == 1
    assert activity.last_activity(profile, "chat") == fixed_clock.now()
    entry = profile.audit.query(event="chat_exchange")[-1]
    assert entry["details"]["memory_id"] == reply.memory_id
    assert "heirloom" not in json.dumps(entry)  # sizes, not words, in the audit


def test_history_is_sent_and_think_blocks_hidden(profile, fake):
    fake.script([{"content": "<think>\nThe user greets me.\n</think>\n\nHi Alex!"},
                 {"content": "You said hello."}])
    session = ChatSession(profile, save=False)
    seen: list[str] = []
    assert session.send("hello", on_token=seen.append).text == "Hi Alex!"
    assert "".join(seen) == "Hi Alex!"
    session.send("what did I say?")
    roles = [m["role"] for m in fake.chat_requests()[-1]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert fake.chat_requests()[-1]["messages"][2]["content"] == "Hi Alex!"


def test_each_exchange_is_saved_with_its_conversation_and_turn(profile, fake):
    """One id per conversation, turns in order, the model kept: the TUI's Ctrl+O reopens a
    multi-turn conversation whole from these; new_conversation() starts another, resume()
    continues a reopened one (a legacy exchange without an id continues under its memory id)."""
    fake.script([{"content": "One."}, {"content": "Two."}, {"content": "Three."},
                 {"content": "Four."}])
    store = MemoryStore(profile)
    session = ChatSession(profile)
    first = session.conversation
    keys = ("model", "conversation", "turn")
    saved = [store.get(session.send(text).memory_id)["metadata"] for text in ("a?", "b?")]
    metas = [{k: meta[k] for k in keys} for meta in saved]
    assert metas == [{"model": "qwen3:1.7b", "conversation": first, "turn": 1},
                     {"model": "qwen3:1.7b", "conversation": first, "turn": 2}]
    assert re.fullmatch(r"conv-\d{8}-\d{6}-[0-9a-f]{6}", first)
    session.new_conversation()
    assert session.conversation != first and session.history == []
    third = store.get(session.send("c?").memory_id)["metadata"]
    assert third["conversation"] == session.conversation and third["turn"] == 1
    session.resume(first, turns=2)
    fourth = store.get(session.send("d?").memory_id)["metadata"]
    assert (fourth["conversation"], fourth["turn"]) == (first, 3)
    assert ChatSession(profile).conversation not in (first, third["conversation"])


@pytest.mark.timeout(60)
def test_cancel_stops_a_reply_at_once_and_saves_nothing(profile, fake):
    """Esc in the TUI / Ctrl-C: the model may never stop by itself (a looping model)."""
    import threading

    fake.token_delay = 0.1
    fake.script([{"forever": "blah "}])
    stop = threading.Event()
    seen: list[str] = []

    def token(text: str) -> None:
        seen.append(text)
        if len(seen) == 3:
            stop.set()

    reply = ChatSession(profile, cancel=stop).send("Tell me a long story", on_token=token)
    assert reply.interrupted and reply.memory_id is None and reply.text.startswith("blah")
    assert MemoryStore(profile).count() == 0
    assert profile.audit.query(event="chat_exchange")[-1]["details"]["interrupted"] is True


@pytest.mark.parametrize("message,terms", [
    ("What did Sarah say about the greenhouse plan?", ["sarah", "greenhouse"]),
    ("When is the dentist appointment?", ["appointment", "dentist"]),
    ("Sarah's garden", ["garden", "sarah"]), ("how are you?", []),
])
def test_grounding_uses_the_specific_words(message, terms):
    from metahuman_core.prompt import grounding_terms

    assert grounding_terms(message) == terms


def test_overnight_learnings_newest_first(profile):
    folder = overnight_dir(profile)
    folder.mkdir(parents=True)
    old, new = folder / "2025-10-17.md", folder / "2025-10-18.md"
    old.write_text("Old learning: likes tea.")
    new.write_text("New learning: prefers short answers in the morning.")
    import os

    os.utime(old, (1_000_000, 1_000_000))
    built = build_system_prompt(profile, "anything")
    assert built.learnings == ["2025-10-18.md", "2025-10-17.md"]
    assert built.text.index("New learning") < built.text.index("Old learning")
    assert set(built.timings_ms) == {"persona", "learnings", "retrieval", "total"}


def test_action_requests_route_to_the_operator(profile, fake):
    (profile.root / "docs").mkdir()
    (profile.root / "docs" / "a.md").write_text("# A\n")
    fake.script([{"tool_calls": [{"name": "fs_list", "arguments": {"path": "docs"}}]},
                 {"content": "One file: docs/a.md."}])
    events = []
    reply = ChatSession(profile).send("Please list all markdown files in docs/",
                                      on_event=events.append)
    assert reply.route == "operator" and reply.text == "One file: docs/a.md."
    assert reply.operator["status"] == "done" and "tool_call" in [e.kind for e in events]
    saved = MemoryStore(profile).get(reply.memory_id)
    assert saved["type"] == "conversation" and "operator" in saved["tags"]


@pytest.mark.parametrize("text,action", [
    ("List all markdown files in docs/", True), ("Read the README.md file", True),
    ("Create a file out/test.txt containing 'MetaHuman Operator Test'", True),
    ("Delete out/test.txt", True), ("Show me the git status", True),
    ("Search my memories for the word 'operator'", True),
    ("Search the web for AI agent architectures", True),
    ("can you add a task to buy milk", True),
    ("What do you think about git?", False), ("How was my week?", False),
    ("Tell me about Sarah", False), ("list three reasons to exercise", False),
])
def test_router_heuristic(text, action):
    assert looks_like_action(text) is action


@given(st.text(alphabet="ab<>/think \n", max_size=60), st.lists(st.integers(1, 7), max_size=20))
def test_think_filter_matches_whole_text_stripping(text, cuts):
    pieces, rest = [], text
    for n in cuts:
        pieces.append(rest[:n])
        rest = rest[n:]
    pieces.append(rest)
    f = ThinkFilter()
    streamed = "".join(f.feed(p) for p in pieces) + f.flush()
    expected = re.sub(r"<think>.*?(</think>|$)", "", text, flags=re.S).lstrip()
    assert streamed == expected


# ------------------------------------------------------------------ CLI
def test_mh_chat_message_streams_and_json(mh, profile, fake):
    fake.script([{"content": "Hello from your twin."}, {"content": "Second answer."}])
    proc = mh("chat", "--message", "hi there")
    assert proc.returncode == 0 and proc.stdout.strip() == "Hello from your twin."
    proc = mh("chat", "--message", "again", "--json")
    out = json.loads(proc.stdout)
    assert out["text"] == "Second answer." and out["route"] == "chat" and out["memory_id"]
    assert MemoryStore(profile).get(out["memory_id"])["response"] == "Second answer."


def test_repl_commands(mh, profile, fake):
    fake.script([{"content": "Hi!"}])
    proc = mh("chat", input="hello\n/trust\n/yolo on\n/model\n/model absent:1b\n/approvals\n"
                            "/nonsense\n/quit\n")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "twin> Hi!" in out and "trust level: supervised_auto" in out and "YOLO on" in out
    assert "model qwen3:1.7b (base)" in out and "no pending approvals" in out
    assert "unknown command /nonsense" in out  # the REPL survived the missing model too
    assert "ollama pull absent:1b" in proc.stderr
    assert profile.audit.query(event="yolo_changed")[-1]["details"]["yolo"] is True


def test_repl_approval_resumes_the_paused_run(profile, fake, capsys):
    from metahuman_tui.cli.chat_cmd import _repl_approvals

    fake.script([{"tool_calls": [{"name": "fs_write", "arguments": {
        "path": "out/hi.txt", "content": "hi"}}]}, {"content": "Wrote out/hi.txt."}])
    session = ChatSession(profile)
    reply = session.send("Create a file out/hi.txt containing hi")
    op = reply.operator
    assert op["status"] == "waiting_approval" and "waiting for approval" in reply.text
    waiting = {op["approval_id"]: op["run_id"]}
    _repl_approvals(profile, f"approve {op['approval_id']}", waiting, session)
    out = capsys.readouterr().out
    assert "executed" in out and "twin> Wrote out/hi.txt." in out
    assert (profile.root / "out" / "hi.txt").read_text() == "hi" and waiting == {}


def test_mh_model_status_list_use(mh, profile, fake):
    fake.add_model("llama3.2:3b")
    out = json.loads(mh("model", "status", "--json").stdout)
    assert out["ok"] and out["model"] == "qwen3:1.7b" and out["installed"] and out["tools"]
    listing = json.loads(mh("model", "list", "--json").stdout)
    assert {m["name"]: m["active"] for m in listing} == {"qwen3:1.7b": True, "llama3.2:3b": False}
    proc = mh("model", "use", "mistral:7b")
    assert proc.returncode == 1 and "ollama pull mistral:7b" in proc.stderr
    assert mh("model", "use", "llama3.2:3b").returncode == 0
    assert profile.config.get("agent").model == "llama3.2:3b"
    assert profile.audit.query(event="model_changed")[-1]["details"] == {
        "from": "qwen3:1.7b", "to": "llama3.2:3b"}


def test_without_a_model_everything_else_works(mh, profile):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    profile.config.set_value("agent.host", dead)
    for args in (("chat", "--message", "hi"), ("op", "List all markdown files in docs/")):
        proc = mh(*args)
        assert proc.returncode == 1, args
        assert "cannot reach Ollama" in proc.stderr and "ollama serve" in proc.stderr, args
    proc = mh("model")
    assert proc.returncode == 1 and "DOWN" in proc.stdout and "ollama serve" in proc.stdout
    assert mh("capture", "still works without a model").returncode == 0
    assert mh("task", "add", "Buy milk").returncode == 0
    assert mh("approvals", "list").returncode == 0
    assert mh("audit", "verify").returncode == 0
    assert MemoryStore(profile).count() == 1  # the failed chat saved nothing
    with pytest.raises(LLMUnavailable, match="cannot reach Ollama"):  # action route, in-process
        ChatSession(profile).send("List the files in docs/")
    assert profile.audit.query(event="llm_unavailable")
