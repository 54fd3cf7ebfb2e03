"""LLM backends against the fake Ollama server over real loopback HTTP (and llama.cpp in-process)."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from hypothesis import given, strategies as st

from metahuman_core import activity
from metahuman_core.errors import ValidationFailed
from metahuman_core.llm import (LLM, LLMError, LLMUnavailable, ModelMissing, ToolCall,
                                ToolsUnsupported, get_backend, resolve_host)
from metahuman_core.llm.base import Message, user
from metahuman_core.llm.ollama_backend import OllamaBackend, normalize_host
from metahuman_core.llm.openai_backend import OpenAIBackend, to_wire
from metahuman_core.storage import atomic_write_json
from tests.fakes.fake_ollama import FakeOllama, tokens

TOOL = {"type": "function", "function": {"name": "fs_list", "description": "List files",
                                         "parameters": {"type": "object", "properties": {
                                             "path": {"type": "string"}}}}}


@pytest.fixture
def fake():
    with FakeOllama(models=["qwen3:1.7b"]) as server:
        yield server


def closed_port_url() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------ fake server wire format
def test_fake_streams_ndjson_lines_over_http(fake):
    fake.script([{"content": "one two three"}])
    with httpx.stream("POST", fake.url + "/api/chat", json={
            "model": "qwen3:1.7b", "messages": [{"role": "user", "content": "hi"}]}) as resp:
        lines = [json.loads(line) for line in resp.iter_lines() if line]
    assert [p["message"]["content"] for p in lines[:-1]] == ["one ", "two ", "three"]
    assert lines[-1]["done"] is True and lines[-1]["done_reason"] == "stop"
    assert all(p["done"] is False for p in lines[:-1])


def test_fake_blob_digest_is_verified(fake):
    data = b"GGUF" + b"\0" * 10
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert httpx.head(f"{fake.url}/api/blobs/{digest}").status_code == 404
    assert httpx.post(f"{fake.url}/api/blobs/{digest}", content=b"other").status_code == 400
    assert httpx.post(f"{fake.url}/api/blobs/{digest}", content=data).status_code == 201
    assert httpx.head(f"{fake.url}/api/blobs/{digest}").status_code == 200
    assert fake.blobs[digest] == data


@given(st.text(max_size=200))
def test_tokens_rejoin_exactly(text):
    assert "".join(tokens(text)) == text


# ------------------------------------------------------------------ ollama backend
def test_ollama_streams_token_by_token(fake):
    fake.script([{"content": "Hello there, friend."}])
    seen: list[str] = []
    result = OllamaBackend(fake.url).chat([user("hi")], model="qwen3:1.7b", on_token=seen.append)
    assert seen == ["Hello ", "there, ", "friend."]
    assert result.content == "Hello there, friend."
    assert result.done_reason == "stop" and result.stats["eval_count"] == 3


def test_ollama_tool_calls_and_history_round_trip(fake):
    fake.script([{"tool_calls": [{"name": "fs_list", "arguments": {"path": "docs"}}]},
                 {"content": "done"}])
    backend = OllamaBackend(fake.url)
    first = backend.chat([user("list docs")], model="qwen3:1.7b", tools=[TOOL])
    assert first.tool_calls == [ToolCall("fs_list", {"path": "docs"})]
    history = [user("list docs"), first.message,
               Message("tool", "a.md", tool_name="fs_list")]
    backend.chat(history, model="qwen3:1.7b", tools=[TOOL])
    sent = fake.chat_requests()[-1]
    assert sent["tools"][0]["function"]["name"] == "fs_list"
    assert sent["messages"][1]["tool_calls"][0]["function"] == {"name": "fs_list",
                                                                "arguments": {"path": "docs"}}
    assert sent["messages"][2] == {"role": "tool", "content": "a.md", "tool_name": "fs_list"}


def test_ollama_structured_output_sends_schema(fake):
    schema = {"type": "object", "properties": {"tags": {"type": "array"},
                                               "mood": {"type": "string"}},
              "required": ["tags", "mood"]}
    result = OllamaBackend(fake.url).chat([user("tag this")], model="qwen3:1.7b", format=schema)
    assert json.loads(result.content) == {"tags": [], "mood": ""}
    assert fake.chat_requests()[-1]["format"] == schema


def test_missing_model_says_how_to_pull(fake):
    with pytest.raises(ModelMissing) as err:
        OllamaBackend(fake.url).chat([user("hi")], model="llama9:70b")
    assert err.value.model == "llama9:70b"
    assert "ollama pull llama9:70b" in err.value.hint


def test_unreachable_host_says_how_to_fix():
    backend = OllamaBackend(closed_port_url(), host_source="etc/agent.json host")
    with pytest.raises(LLMUnavailable) as err:
        backend.chat([user("hi")], model="qwen3:1.7b")
    assert "cannot reach Ollama" in err.value.message and "etc/agent.json" in err.value.message
    assert "ollama serve" in err.value.hint and "OLLAMA_HOST" in err.value.hint
    health = backend.health()
    assert not health.ok and "ollama serve" in health.hint


def test_model_without_tools_raises_tools_unsupported(fake):
    fake.add_model("gemma:2b", tools=False)
    backend = OllamaBackend(fake.url)
    assert backend.supports_tools("gemma:2b") is False
    assert backend.supports_tools("qwen3:1.7b") is True
    with pytest.raises(ToolsUnsupported):
        backend.chat([user("x")], model="gemma:2b", tools=[TOOL])


def test_error_mid_stream_is_an_error_not_a_reply(fake):
    fake.script([{"content": "partial answer", "stream_error": "out of memory"}])
    with pytest.raises(LLMError, match="out of memory"):
        OllamaBackend(fake.url).chat([user("x")], model="qwen3:1.7b")


def test_health_list_and_version(fake):
    backend = OllamaBackend(fake.url)
    health = backend.health()
    assert health.ok and health.version == "0.12.6" and health.error is None
    assert [m.name for m in backend.list_models()] == ["qwen3:1.7b"]
    assert backend.has_model("qwen3:1.7b") and not backend.has_model("qwen3:8b")
    fake.version = "0.3.0"
    assert "older than 0.5.5" in backend.health().error


@pytest.mark.parametrize("given_host,expected", [
    ("127.0.0.1", "http://127.0.0.1:11434"), ("0.0.0.0:11434", "http://127.0.0.1:11434"),
    ("http://gpu-box:9999", "http://gpu-box:9999"), ("https://ollama.example", "https://ollama.example:443"),
    ("", "http://127.0.0.1:11434"), ("[::1]:8000", "http://[::1]:8000")])
def test_normalize_host(given_host, expected):
    assert normalize_host(given_host) == expected


# ------------------------------------------------------------------ openai-compatible backend
def test_openai_backend_streams_and_reassembles_tool_calls(fake):
    fake.script([{"content": "alpha beta"},
                 {"tool_calls": [{"name": "fs_list", "arguments": {"path": "docs", "pattern": "*.md"}}]}])
    backend = OpenAIBackend(fake.url + "/v1")
    seen: list[str] = []
    assert backend.chat([user("x")], model="qwen3:1.7b", on_token=seen.append).content == "alpha beta"
    assert seen == ["alpha ", "beta"]
    result = backend.chat([user("x")], model="qwen3:1.7b", tools=[TOOL])
    assert result.tool_calls[0].name == "fs_list"
    assert result.tool_calls[0].arguments == {"path": "docs", "pattern": "*.md"}
    assert result.done_reason == "tool_calls"
    assert [m.name for m in backend.list_models()] == ["qwen3:1.7b"]
    assert backend.health().ok


def test_openai_wire_pairs_tool_results_with_calls():
    wire = to_wire([user("go"), Message("assistant", "", [ToolCall("fs_list", {"path": "."}),
                                                          ToolCall("git_status", {})]),
                    Message("tool", "files", tool_name="fs_list"),
                    Message("tool", "clean", tool_name="git_status")])
    ids = [c["id"] for c in wire[1]["tool_calls"]]
    assert json.loads(wire[1]["tool_calls"][0]["function"]["arguments"]) == {"path": "."}
    assert [wire[2]["tool_call_id"], wire[3]["tool_call_id"]] == ids


def test_openai_unreachable():
    with pytest.raises(LLMUnavailable, match="OpenAI-compatible"):
        OpenAIBackend(closed_port_url() + "/v1").chat([user("x")], model="m")


# ------------------------------------------------------------------ factory and the active model
def test_factory_picks_backend_and_host(profile, monkeypatch):
    assert get_backend(profile).name == "ollama"
    assert resolve_host(profile) == ("http://127.0.0.1:11434", "etc/agent.json host")
    monkeypatch.setenv("OLLAMA_HOST", "10.1.2.3:7777")
    assert resolve_host(profile) == ("10.1.2.3:7777", "$OLLAMA_HOST")
    assert get_backend(profile).host == "http://10.1.2.3:7777"
    profile.config.set_value("agent.backend", "openai")
    assert get_backend(profile).name == "openai"
    profile.config.set_value("agent.backend", "llamacpp")
    assert get_backend(profile).name == "llamacpp"


def test_active_adapter_is_read_at_every_call(profile, fake):
    fake.add_model("alex-persona:2025-10-19")
    profile.config.set_value("agent.host", fake.url)
    llm = LLM(profile)
    llm.chat([user("one")])
    atomic_write_json(profile.home.active_adapter, {"model": "alex-persona:2025-10-19"})
    llm.chat([user("two")])
    profile.home.active_adapter.unlink()  # the seed's emergency rollback
    llm.chat([user("three")])
    assert [r["model"] for r in fake.chat_requests()] == [
        "qwen3:1.7b", "alex-persona:2025-10-19", "qwen3:1.7b"]


def test_missing_adapter_model_falls_back_to_base(profile, fake):
    profile.config.set_value("agent.host", fake.url)
    atomic_write_json(profile.home.active_adapter, {"model": "gone:latest"})
    llm = LLM(profile)
    result = llm.chat([user("hi")])
    assert result.model == "qwen3:1.7b" and "gone:latest" in llm.last_note
    assert profile.audit.query(event="llm_unavailable")


def test_missing_base_model_is_not_hidden(profile, fake):
    profile.config.set_value("agent.host", fake.url)
    profile.config.set_value("agent.model", "absent:1b")
    with pytest.raises(ModelMissing, match="absent:1b"):
        LLM(profile).chat([user("hi")])


# ------------------------------------------------------------------ ollama model management
def test_create_model_from_gguf_uploads_blob_and_creates(tmp_path, fake):
    from metahuman_core.ollama_models import create_model_from_gguf, model_exists

    gguf = tmp_path / "persona.gguf"
    gguf.write_bytes(b"GGUF" + bytes(range(256)) * 10)
    progress: list[str] = []
    out = create_model_from_gguf(fake.url, "alex-persona:2025-10-19", gguf,
                                 template="{{ .Prompt }}", system="You are Alex.",
                                 parameters={"temperature": 0.7},
                                 on_progress=lambda stage, done, total: progress.append(stage))
    digest = "sha256:" + hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert out["digest"] == digest and out["uploaded"] is True and out["status"] == "success"
    assert fake.blobs[digest] == gguf.read_bytes()
    body = fake.created[-1]
    assert body["model"] == "alex-persona:2025-10-19"
    assert body["files"] == {"persona.gguf": digest}
    assert body["system"] == "You are Alex." and body["parameters"] == {"temperature": 0.7}
    assert "hash" in progress and "upload" in progress
    assert model_exists(fake.url, "alex-persona:2025-10-19")
    assert model_exists("alex-persona:2025-10-19", fake.url)
    again = create_model_from_gguf(fake.url, "alex-persona:v2", gguf, template="t", system="s")
    assert again["uploaded"] is False  # the server had the blob (HEAD 200)


def test_create_model_refuses_bad_input(tmp_path, fake):
    from metahuman_core.ollama_models import create_model_from_gguf

    not_gguf = tmp_path / "model.bin"
    not_gguf.write_bytes(b"PK\x03\x04zip")
    with pytest.raises(ValidationFailed, match="not a GGUF"):
        create_model_from_gguf(fake.url, "x", not_gguf, template="t", system="s")
    with pytest.raises(ValidationFailed, match="invalid Ollama model name"):
        create_model_from_gguf(fake.url, "../evil", not_gguf, template="t", system="s")
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF1234")
    fake.version = "0.4.0"
    with pytest.raises(LLMError, match="0.5.5"):
        create_model_from_gguf(fake.url, "x", gguf, template="t", system="s")
    assert fake.created == []


def test_model_exists_with_profile(profile, fake):
    from metahuman_core.ollama_models import delete_model, list_models, model_exists

    profile.config.set_value("agent.host", fake.url)
    assert model_exists(profile, "qwen3:1.7b") and not model_exists(profile, "nope")
    assert [m["name"] for m in list_models(profile)] == ["qwen3:1.7b"]
    assert delete_model(profile, "qwen3:1.7b") is True
    assert delete_model(profile, "qwen3:1.7b") is False


# ------------------------------------------------------------------ activity
def test_activity_touch_and_last(profile, fixed_clock):
    assert activity.last_activity(profile) is None
    activity.touch(profile, "chat")
    fixed_clock.advance(60)
    activity.touch(profile, "tui")
    assert activity.last_activity(profile) == fixed_clock.now()
    assert activity.last_activity(profile, "chat") < activity.last_activity(profile, "tui")
    assert activity.idle_seconds(profile, fixed_clock.now()) == 0
    with pytest.raises(ValidationFailed):
        activity.touch(profile, "../x")


# ------------------------------------------------------------------ embedded llama.cpp
def test_llamacpp_without_model_file_says_what_to_set(tmp_path):
    from metahuman_core.llm.llamacpp_backend import LlamaCppBackend

    health = LlamaCppBackend(None).health()
    assert not health.ok and ("ggufPath" in (health.hint or "") or "llama-cpp-python" in health.error)
    with pytest.raises((ModelMissing, LLMUnavailable)):
        list(LlamaCppBackend(str(tmp_path / "none.gguf")).stream([user("x")], model=""))
    with pytest.raises(ToolsUnsupported):
        list(LlamaCppBackend(str(tmp_path / "none.gguf")).stream([user("x")], model="",
                                                                 tools=[TOOL]))


@pytest.mark.llama
def test_llamacpp_streams_from_a_real_gguf(tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("transformers")
    from trainer.gguf_export import export_gguf
    from trainer.tiny_model import build_tiny_model

    from metahuman_core.llm.llamacpp_backend import LlamaCppBackend

    build_tiny_model(tmp_path / "m", arch="qwen2", hidden=32, layers=1)
    export_gguf(tmp_path / "m", tmp_path / "m.gguf", ftype="f32")
    backend = LlamaCppBackend(str(tmp_path / "m.gguf"))
    assert backend.health().ok
    seen: list[str] = []
    result = backend.chat([user("hello")], model="", on_token=seen.append,
                          options={"num_predict": 6, "temperature": 0, "seed": 1})
    assert seen and "".join(seen) == result.content
    assert result.done_reason in ("length", "stop")
