"""Ollama through the official `ollama` client (imported lazily: it costs ~0.2 s).

Wire facts we rely on (reference/agent-anchors.md §3.1): /api/chat streams NDJSON; tool calls
arrive whole, `arguments` is an object; a missing model is a 404 "model ... not found"; a model
without tool support answers 400 "... does not support tools"; /api/version gates features.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from .base import (BaseBackend, ChatChunk, Health, LLMError, LLMUnavailable, Message, ModelInfo,
                   ModelMissing, ToolCall, ToolsUnsupported)

DEFAULT_PORT = 11434
MIN_VERSION = (0, 5, 5)  # `files`/`from` create API; older servers fail model activation


def normalize_host(host: str | None) -> str:
    """'127.0.0.1' / '0.0.0.0:11434' / 'http://h:1' -> 'http://host:port' (as the client does)."""
    host = (host or "").strip() or f"127.0.0.1:{DEFAULT_PORT}"
    scheme = "http"
    if "://" in host:
        scheme, _, host = host.partition("://")
    host, _, path = host.partition("/")
    if host.startswith("["):  # [::1]:port
        bracket, _, port = host[1:].partition("]")
        name, port = f"[{bracket}]", port.lstrip(":")
    elif host.count(":") == 1:
        name, port = host.split(":")
    else:
        name, port = host, ""
    if name in ("", "0.0.0.0"):
        name = "127.0.0.1"
    port = port or (str(DEFAULT_PORT) if scheme == "http" else "443")
    base = f"{scheme}://{name}:{port}"
    return f"{base}/{path}".rstrip("/") if path else base


def parse_version(text: str | None) -> tuple[int, ...]:
    nums = re.findall(r"\d+", (text or "").split("-")[0])
    return tuple(int(n) for n in nums[:3]) if nums else (0,)


def unreachable(host: str, source: str, detail: str = "") -> LLMUnavailable:
    return LLMUnavailable(
        f"cannot reach Ollama at {host} (host from {source})" + (f": {detail}" if detail else ""),
        hint="start it: `ollama serve` (install from https://ollama.com/download), or point "
             "MetaHuman at your server: mh config set agent.host http://HOST:11434 "
             "(the OLLAMA_HOST environment variable wins over etc/agent.json)")


def missing(model: str, host: str) -> ModelMissing:
    return ModelMissing(f"model {model!r} is not installed on the Ollama server at {host}",
                        model=model,
                        hint=f"ollama pull {model}   (or pick an installed one: mh model list, "
                             "then mh model use NAME)")


def to_wire(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": msg.role, "content": msg.content}
    if msg.tool_calls:
        out["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}}
                             for c in msg.tool_calls]
    if msg.role == "tool" and msg.tool_name:
        out["tool_name"] = msg.tool_name
    return out


class OllamaBackend(BaseBackend):
    name = "ollama"

    def __init__(self, host: str | None = None, *, timeout: float = 120.0,
                 host_source: str = "etc/agent.json"):
        self.host = normalize_host(host)
        self.host_source = host_source
        self.timeout = timeout
        self._client = None

    # ------------------------------------------------------------------ plumbing
    def client(self):
        if self._client is None:
            import httpx
            import ollama

            self._client = ollama.Client(host=self.host,
                                         timeout=httpx.Timeout(self.timeout, connect=5.0))
        return self._client

    def abort(self) -> None:
        """Close the client's connections (a stream stuck waiting for bytes ends with an error
        in its thread); the next call opens a new client."""
        client, self._client = self._client, None
        inner = getattr(client, "_client", None)
        if inner is not None:
            inner.close()

    def _map(self, exc: BaseException, model: str | None = None) -> BaseException:
        import httpx
        import ollama

        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, ollama.ResponseError):
            text = str(exc.error or "")
            if exc.status_code == 404 and "not found" in text and model:
                return missing(model, self.host)
            if "does not support tools" in text:
                return ToolsUnsupported(f"model {model!r} does not support tool calls: {text}")
            return LLMError(f"Ollama at {self.host} answered {exc.status_code}: {text}",
                            hint="see the Ollama server log (journalctl -u ollama or `ollama serve`)")
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return LLMUnavailable(f"Ollama at {self.host} did not answer within {self.timeout:g} s",
                                  hint="a slow first load? retry, or raise agent.timeoutSeconds")
        if isinstance(exc, (httpx.TransportError, ConnectionError, OSError)):
            return unreachable(self.host, self.host_source, type(exc).__name__)
        return exc

    def _get(self, path: str, timeout: float = 5.0) -> Any:
        import httpx

        try:
            resp = httpx.get(self.host + path, timeout=timeout)
            resp.raise_for_status()
            return resp.json()
        except httpx.HTTPStatusError as exc:
            raise LLMError(f"Ollama at {self.host}{path} answered {exc.response.status_code}")
        except (httpx.TransportError, OSError) as exc:
            raise unreachable(self.host, self.host_source, type(exc).__name__) from None

    # ------------------------------------------------------------------ protocol
    def stream(self, messages: list[Message], *, model: str, tools=None, format=None,
               options=None, think=None) -> Iterator[ChatChunk]:
        try:
            parts = self.client().chat(model=model, messages=[to_wire(m) for m in messages],
                                       tools=tools or None, stream=True, format=format,
                                       options=options, think=think)
            for part in parts:
                msg = part.message
                calls = [ToolCall(name=c.function.name, arguments=dict(c.function.arguments or {}))
                         for c in (msg.tool_calls or [])]
                stats = {}
                if part.done:
                    stats = {k: getattr(part, k, None) for k in
                             ("prompt_eval_count", "eval_count", "total_duration", "eval_duration")}
                yield ChatChunk(content=msg.content or "", thinking=msg.thinking or "",
                                tool_calls=calls, done=bool(part.done),
                                done_reason=part.done_reason, stats=stats)
        except Exception as exc:  # map transport/HTTP errors to ours, keep programming errors
            mapped = self._map(exc, model)
            if mapped is exc:
                raise
            raise mapped from None

    def version(self) -> str:
        return str(self._get("/api/version").get("version", ""))

    def list_models(self) -> list[ModelInfo]:
        data = self._get("/api/tags")
        out = []
        for m in data.get("models") or []:
            details = m.get("details") or {}
            out.append(ModelInfo(name=m.get("model") or m.get("name") or "", size=m.get("size"),
                                 modified_at=m.get("modified_at"), family=details.get("family"),
                                 parameter_size=details.get("parameter_size"),
                                 quantization=details.get("quantization_level")))
        return out

    def show(self, model: str) -> dict[str, Any]:
        import httpx

        try:
            resp = httpx.post(self.host + "/api/show", json={"model": model}, timeout=10.0)
        except (httpx.TransportError, OSError) as exc:
            raise unreachable(self.host, self.host_source, type(exc).__name__) from None
        if resp.status_code == 404:
            raise missing(model, self.host)
        if resp.status_code >= 400:
            raise LLMError(f"Ollama /api/show {model!r} answered {resp.status_code}: {resp.text[:200]}")
        return resp.json()

    def supports_tools(self, model: str) -> bool | None:
        caps = self.show(model).get("capabilities")
        return None if caps is None else "tools" in caps

    def health(self) -> Health:
        try:
            version = self.version()
        except LLMError as exc:
            return Health(ok=False, backend=self.name, host=self.host, error=exc.message,
                          hint=exc.hint)
        if parse_version(version) < MIN_VERSION and version != "0.0.0":
            return Health(ok=True, backend=self.name, host=self.host, version=version,
                          error=f"Ollama {version} is older than 0.5.5: activating trained "
                                "models will fail", hint="upgrade Ollama")
        return Health(ok=True, backend=self.name, host=self.host, version=version)
