"""llm.health(profile): one probe for every face; host *and* model checked (issue 15)."""

from __future__ import annotations

import json
import socket

from metahuman_core.llm.health import health
from metahuman_core.storage import atomic_write_json


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ok_when_server_up_and_model_present(profile, ollama):
    h = health(profile)
    assert (h.ok, h.reachable, h.model_present) == (True, True, True)
    assert h.host == ollama.url and h.model == "qwen3:1.7b" and h.backend == "ollama"
    assert h.version == "0.12.6"


def test_missing_model_is_not_green(profile, ollama):
    ollama.remove_model("qwen3:1.7b")
    h = health(profile)
    assert h.reachable is True
    assert h.model_present is False and h.ok is False
    assert "qwen3:1.7b" in h.message and "ollama pull qwen3:1.7b" in (h.hint or "")


def test_missing_adapter_hint_does_not_say_pull(profile, ollama):
    atomic_write_json(profile.home.active_adapter, {"model": "greg-2025-10-24"})
    h = health(profile)
    assert h.ok is False and h.model_present is False and h.source == "adapter"
    assert "ollama pull" not in (h.hint or "")
    assert "mh adapter activate" in h.hint and "mh adapter deactivate" in h.hint
    ollama.add_model("greg-2025-10-24")
    assert health(profile).ok is True


def test_ollama_host_without_port_is_normalised_like_the_backend(profile, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1")
    h = health(profile, timeout=0.5)
    assert h.host == "http://127.0.0.1:11434"
    assert h.host_source == "$OLLAMA_HOST"


def test_ollama_host_without_scheme_reaches_the_server(profile, ollama, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", ollama.url.removeprefix("http://"))
    h = health(profile)
    assert h.ok is True and h.host == ollama.url


def test_unreachable_server(profile):
    profile.config.set_value("agent.host", f"http://127.0.0.1:{_free_port()}")
    h = health(profile, timeout=0.5)
    assert (h.ok, h.reachable, h.model_present) == (False, False, None)
    assert "cannot reach Ollama" in h.message and h.hint


def test_llamacpp_checks_the_gguf_file(profile, tmp_path):
    gguf = tmp_path / "m.gguf"
    profile.config.update("agent", {"backend": "llamacpp", "ggufPath": str(gguf)})
    h = health(profile)
    assert h.ok is False and h.model_present is False and h.host is None
    assert str(gguf) in h.message
    gguf.write_bytes(b"GGUF")
    h = health(profile)
    assert h.model_present is True


def test_openai_backend(profile, ollama):
    profile.config.update("agent", {"backend": "openai", "openaiBaseUrl": ollama.url + "/v1"})
    assert health(profile).ok is True


def test_mh_model_status_uses_health(mh, profile, ollama):
    ollama.remove_model("qwen3:1.7b")
    r = mh("model", "status", "--json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert data["installed"] is False and data["model_present"] is False


def test_mh_status_reports_missing_model(mh, profile, ollama):
    ollama.remove_model("qwen3:1.7b")
    r = mh("status", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["llm"]["model_present"] is False
    assert any("qwen3:1.7b" in p for p in data["problems"])


def test_a_server_that_is_not_ollama(profile, tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Html(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>hello</html>")

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        profile.config.set_value("agent.host", f"http://127.0.0.1:{server.server_address[1]}")
        h = health(profile)
        assert h.ok is False and "not as an Ollama server" in h.message
    finally:
        server.shutdown()
        server.server_close()
