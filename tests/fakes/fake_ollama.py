"""A small, real Ollama server for tests: speaks the wire protocol, replays scripted turns.

    with FakeOllama(models=["qwen3:1.7b"]) as fake:
        fake.url                      # "http://127.0.0.1:PORT"
        fake.script([{"content": "Hello there"},                      # streamed token by token
                     {"tool_calls": [{"name": "fs_list", "arguments": {"path": "docs"}}]},
                     lambda req: {"content": "computed from " + req["messages"][-1]["content"]}])
        fake.requests / fake.blobs / fake.created / fake.add_model(name) / fake.models

Endpoints: GET /api/version, GET /api/tags, POST /api/show, POST /api/chat (NDJSON stream or one
object; tools; format), POST /api/generate (minimal), HEAD+POST /api/blobs/sha256:<hex> (the
digest is verified), POST /api/create (status lines), DELETE /api/delete, GET /api/ps, and the
OpenAI-compatible POST /v1/chat/completions (SSE) + GET /v1/models that real Ollama also serves.
A turn may also be {"error": "text", "status": 500} (HTTP error) or {"stream_error": "text"} (an
`error` line mid-stream), or {"forever": "tok "}: a model that never stops, streaming that token
every `token_delay` seconds (1 s if unset) until the client hangs up (a slow, looping model).
`fake.api_key = "..."` makes /v1 answer 401 to any other bearer token, echoing the key it got in
the body the way some servers do (a secret-leak test). Unscripted chat gets a deterministic echo (or a minimal JSON object that
fits the requested `format` schema).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from .fake_openai import OpenAIRoutes

Turn = dict[str, Any] | Callable[[dict], dict]
_CREATED_AT = "2025-10-19T14:00:00.000000Z"


def tokens(text: str) -> list[str]:
    """Split so that ''.join(tokens(t)) == t, one word (plus its trailing space) per token."""
    return [t for t in re.split(r"(?<=\s)(?=\S)", text) if t] or [""]


def _norm(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def minimal_for_schema(schema: Any) -> Any:
    """Smallest value of a JSON schema's type (what an unscripted `format` request gets)."""
    if not isinstance(schema, dict):
        return {}
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: minimal_for_schema(props.get(k, {})) for k in schema.get("required", props)}
    return {"array": [], "string": "", "integer": 0, "number": 0, "boolean": False,
            "null": None}.get(kind, {})


class FakeOllama:
    def __init__(self, models: list[str] | None = None, *, version: str = "0.12.6"):
        self.version = version
        self._models: dict[str, dict[str, Any]] = {}
        for name in models or []:
            self.add_model(name)
        self._script: list[Turn] = []
        self.requests: list[tuple[str, str, Any]] = []
        self.blobs: dict[str, bytes] = {}
        self.created: list[dict[str, Any]] = []
        self.token_delay = 0.0
        self.api_key: str | None = None
        self.disconnects = 0  # streams the client closed before the end (forever turns)
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control
    def add_model(self, name: str, *, tools: bool = True, capabilities: list[str] | None = None,
                  **extra) -> None:
        caps = capabilities or (["completion", "tools"] if tools else ["completion"])
        digest = hashlib.sha256(name.encode()).hexdigest()
        self._models[_norm(name)] = {"capabilities": caps, "template": "{{ .Prompt }}",
                                     "system": "", "parameters": {}, "size": 1_000_000,
                                     "digest": digest, **extra}

    def remove_model(self, name: str) -> None:
        self._models.pop(_norm(name), None)

    @property
    def models(self) -> list[str]:
        return list(self._models)

    def has(self, name: str) -> bool:
        return _norm(name) in self._models

    def script(self, turns: list[Turn]) -> "FakeOllama":
        with self._lock:
            self._script.extend(turns)
        return self

    @property
    def pending_turns(self) -> int:
        return len(self._script)

    def chat_requests(self) -> list[dict]:
        return [body for method, path, body in self.requests
                if path in ("/api/chat", "/v1/chat/completions")]

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FakeOllama":
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-ollama")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "FakeOllama not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeOllama":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ behaviour
    def next_turn(self, request: dict) -> dict:
        with self._lock:
            turn = self._script.pop(0) if self._script else None
        if callable(turn):
            turn = turn(request)
        if turn is not None:
            return turn
        if request.get("format") not in (None, ""):
            fmt = request["format"]
            return {"content": json.dumps(minimal_for_schema(fmt) if isinstance(fmt, dict) else {})}
        last = next((m for m in reversed(request.get("messages") or [])
                     if m.get("role") in ("user", "tool")), None)
        text = (last or {}).get("content") or request.get("prompt") or ""
        return {"content": f"You said: {text}" if text else "Hello from the fake model."}


class _Handler(OpenAIRoutes, BaseHTTPRequestHandler):
    owner: FakeOllama
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    # ------------------------------------------------------------------ io helpers
    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json(self, status: int, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _empty(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _record(self, body: Any) -> None:
        with self.owner._lock:
            self.owner.requests.append((self.command, self.path, body))

    def _parse(self) -> dict:
        raw = self._body()
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {"_invalid": raw[:200].decode(errors="replace")}
        self._record(body)
        return body

    # ------------------------------------------------------------------ routing
    def do_GET(self) -> None:
        self._record(None)
        fake = self.owner
        if self.path == "/api/version":
            return self._json(200, {"version": fake.version})
        if self.path == "/api/tags":
            return self._json(200, {"models": [self._tag(n, m) for n, m in fake._models.items()]})
        if self.path == "/api/ps":
            return self._json(200, {"models": []})
        if self.path == "/v1/models":
            return self._json(200, {"object": "list", "data": [
                {"id": n, "object": "model", "created": 0, "owned_by": "library"}
                for n in fake._models]})
        self._json(404, {"error": "404 page not found"})

    def do_HEAD(self) -> None:
        self._record(None)
        m = re.fullmatch(r"/api/blobs/(sha256:[0-9a-f]{64})", self.path)
        if not m:
            return self._empty(404)
        self._empty(200 if m.group(1) in self.owner.blobs else 404)

    def do_DELETE(self) -> None:
        body = self._parse()
        if self.path != "/api/delete":
            return self._json(404, {"error": "404 page not found"})
        name = body.get("model") or body.get("name") or ""
        if not self.owner.has(name):
            return self._json(404, {"error": f"model '{name}' not found"})
        self.owner.remove_model(name)
        self._empty(200)

    def do_POST(self) -> None:
        m = re.fullmatch(r"/api/blobs/(sha256:([0-9a-f]{64}))", self.path)
        if m:
            data = self._body()
            self._record({"bytes": len(data)})
            actual = hashlib.sha256(data).hexdigest()
            if actual != m.group(2):
                return self._json(400, {"error": f"digest mismatch, expected \"{m.group(1)}\", "
                                                  f"got \"sha256:{actual}\""})
            with self.owner._lock:
                self.owner.blobs[m.group(1)] = data
            return self._empty(201)
        body = self._parse()
        if self.path.startswith("/v1/") and self._bad_key():
            return
        route = {"/api/chat": self._chat, "/api/generate": self._generate,
                 "/api/show": self._show, "/api/create": self._create,
                 "/v1/chat/completions": self._openai_chat}.get(self.path)
        if route is None:
            return self._json(404, {"error": "404 page not found"})
        route(body)

    # ------------------------------------------------------------------ endpoints
    def _tag(self, name: str, info: dict) -> dict:
        return {"name": name, "model": name, "modified_at": _CREATED_AT, "size": info["size"],
                "digest": info["digest"],
                "details": {"format": "gguf", "family": name.split(":")[0].rstrip("0123456789.")
                            or "fake", "parameter_size": "1.7B", "quantization_level": "Q4_K_M"}}

    def _model_error(self, body: dict) -> bool:
        name = body.get("model") or ""
        if not name:
            self._json(400, {"error": "model is required"})
            return True
        if not self.owner.has(name):
            self._json(404, {"error": f"model \"{name}\" not found, try pulling it first"})
            return True
        if body.get("tools") and "tools" not in self.owner._models[_norm(name)]["capabilities"]:
            self._json(400, {"error": f"registry.ollama.ai/library/{name} does not support tools"})
            return True
        return False

    def _bad_key(self) -> bool:
        """With owner.api_key set: 401 for any other key, echoing what was sent (as some do)."""
        want = self.owner.api_key
        got = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if want is None or got == want:
            return False
        self._json(401, {"error": {"message": f"Incorrect API key provided: {got}. You can find "
                                              "your API key in your account settings.",
                                   "type": "invalid_request_error", "code": "invalid_api_key"}})
        return True

    def _forever(self, model: str, token: str) -> None:
        """Stream `token` every token_delay (default 1 s) until the client goes away."""
        delay = self.owner.token_delay or 1.0
        self._start_stream("application/x-ndjson")
        deadline = time.monotonic() + 600
        try:
            while not self.owner._stopped.is_set() and time.monotonic() < deadline:
                self._line({"model": model, "created_at": _now(),
                            "message": {"role": "assistant", "content": token}, "done": False})
                time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError, OSError):
            with self.owner._lock:
                self.owner.disconnects += 1
        self.close_connection = True

    def _chat(self, body: dict) -> None:
        if self._model_error(body):
            return
        turn = self.owner.next_turn(body)
        if "error" in turn:
            return self._json(int(turn.get("status", 500)), {"error": turn["error"]})
        model = body["model"]
        if "forever" in turn and body.get("stream", True) is not False:
            return self._forever(model, str(turn["forever"]))
        content = str(turn.get("content") or "")
        calls = [{"function": {"index": i, "name": c["name"], "arguments": c.get("arguments", {})}}
                 for i, c in enumerate(turn.get("tool_calls") or [])]
        final = {"model": model, "created_at": _now(), "message": {"role": "assistant",
                 "content": ""}, "done": True, "done_reason": turn.get("done_reason", "stop"),
                 "total_duration": 1000, "load_duration": 10, "prompt_eval_count": 10,
                 "prompt_eval_duration": 100, "eval_count": len(tokens(content)),
                 "eval_duration": 500}
        if body.get("stream", True) is False:
            final["message"] = {"role": "assistant", "content": content}
            if calls:
                final["message"]["tool_calls"] = calls
            if turn.get("thinking"):
                final["message"]["thinking"] = turn["thinking"]
            return self._json(200, final)
        self._start_stream("application/x-ndjson")
        if turn.get("thinking"):
            self._line({"model": model, "created_at": _now(), "message": {
                "role": "assistant", "content": "", "thinking": turn["thinking"]}, "done": False})
        if content:
            for tok in tokens(content):
                self._line({"model": model, "created_at": _now(),
                            "message": {"role": "assistant", "content": tok}, "done": False})
                if self.owner.token_delay:
                    time.sleep(self.owner.token_delay)
        if turn.get("stream_error"):
            self._line({"error": turn["stream_error"]})
            return self._end_stream()
        if calls:
            self._line({"model": model, "created_at": _now(), "message": {
                "role": "assistant", "content": "", "tool_calls": calls}, "done": False})
        self._line(final)
        self._end_stream()

    def _line(self, obj: dict) -> None:
        self._chunk(json.dumps(obj).encode() + b"\n")

    def _generate(self, body: dict) -> None:
        if self._model_error(body):
            return
        turn = self.owner.next_turn({"prompt": body.get("prompt", ""), **body})
        text = str(turn.get("content") or "")
        if body.get("stream", True) is False:
            return self._json(200, {"model": body["model"], "created_at": _now(), "response": text,
                                    "done": True, "done_reason": "stop"})
        self._start_stream("application/x-ndjson")
        for tok in tokens(text):
            self._line({"model": body["model"], "created_at": _now(), "response": tok,
                        "done": False})
        self._line({"model": body["model"], "created_at": _now(), "response": "", "done": True,
                    "done_reason": "stop"})
        self._end_stream()

    def _show(self, body: dict) -> None:
        name = body.get("model") or body.get("name") or ""
        if not self.owner.has(name):
            return self._json(404, {"error": f"model '{name}' not found"})
        info = self.owner._models[_norm(name)]
        params = "\n".join(f"{k} {v}" for k, v in (info.get("parameters") or {}).items())
        self._json(200, {
            "modelfile": f"FROM {name}\nTEMPLATE \"\"\"{info['template']}\"\"\"\n",
            "parameters": params, "template": info["template"], "system": info.get("system", ""),
            "details": {"format": "gguf", "family": "fake", "parameter_size": "1.7B",
                        "quantization_level": "Q4_K_M"},
            "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960},
            "capabilities": info["capabilities"], "modified_at": _CREATED_AT})

    def _create(self, body: dict) -> None:
        name = body.get("model") or body.get("name") or ""
        files = body.get("files") or {}
        if not name:
            return self._json(400, {"error": "model is required"})
        if not files and not body.get("from"):
            return self._json(400, {"error": "neither 'from' or 'files' was specified"})
        for fname, digest in files.items():
            if digest not in self.owner.blobs:
                return self._json(400, {"error": f"blob {digest} for {fname} not found; "
                                                  "upload it with POST /api/blobs/<digest>"})
        if body.get("from") and not self.owner.has(body["from"]):
            return self._json(404, {"error": f"model '{body['from']}' not found"})
        with self.owner._lock:
            self.owner.created.append(body)
        self.owner.add_model(name, template=body.get("template") or "{{ .Prompt }}",
                             system=body.get("system") or "",
                             parameters=body.get("parameters") or {})
        statuses = (["parsing GGUF"] if files else []) + \
            [f"using existing layer {d}" for d in files.values()] + \
            ["writing manifest", "success"]
        if body.get("stream", True) is False:
            return self._json(200, {"status": "success"})
        self._start_stream("application/x-ndjson")
        for status in statuses:
            self._line({"status": status})
        self._end_stream()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
