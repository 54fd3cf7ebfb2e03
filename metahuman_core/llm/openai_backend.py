"""OpenAI-compatible servers (llama.cpp `llama-server`, vLLM, LM Studio, Ollama's /v1) over httpx.

Differences from Ollama handled here: tool-call `arguments` travel as JSON *strings* and stream in
fragments keyed by `index`; tool results pair with their call by `tool_call_id`; structured output
is `response_format`. An API key, if the server wants one, comes from $MH_OPENAI_API_KEY only (we
never forward a general OPENAI_API_KEY to whatever local URL is configured).
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterator

from .base import (BaseBackend, ChatChunk, Health, LLMError, LLMUnavailable, Message, ModelInfo,
                   ModelMissing, ToolCall, ToolsUnsupported)

KEY_ENV = "MH_OPENAI_API_KEY"


def to_wire(messages: list[Message]) -> list[dict[str, Any]]:
    """Our messages -> OpenAI messages, inventing call ids where the model gave none."""
    out: list[dict[str, Any]] = []
    pending: list[tuple[str, str]] = []  # (id, name) of calls not answered yet
    for i, msg in enumerate(messages):
        if msg.role == "assistant" and msg.tool_calls:
            calls = []
            for j, call in enumerate(msg.tool_calls):
                cid = call.id or f"call_{i}_{j}"
                pending.append((cid, call.name))
                calls.append({"id": cid, "type": "function",
                              "function": {"name": call.name,
                                           "arguments": json.dumps(call.arguments)}})
            out.append({"role": "assistant", "content": msg.content or None, "tool_calls": calls})
        elif msg.role == "tool":
            answered = msg.tool_call_id
            if answered is None and pending:
                answered = next((p for p in pending if p[1] == msg.tool_name), pending[0])[0]
            pending = [p for p in pending if p[0] != answered]
            out.append({"role": "tool", "tool_call_id": answered or "call_0",
                        "content": msg.content})
        else:
            out.append({"role": msg.role, "content": msg.content})
    return out


def response_format(fmt: dict | str | None) -> dict | None:
    if fmt is None:
        return None
    if fmt == "json":
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": fmt}}


def _parse_args(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {"_raw": text}
    return value if isinstance(value, dict) else {"_raw": value}


class OpenAIBackend(BaseBackend):
    name = "openai"

    def __init__(self, base_url: str, *, timeout: float = 120.0,
                 host_source: str = "etc/agent.json openaiBaseUrl"):
        self.host = base_url.rstrip("/")
        self.host_source = host_source
        self.timeout = timeout
        self._response: Any = None  # the stream in flight, for abort()

    def abort(self) -> None:
        resp = self._response
        if resp is not None:
            resp.close()

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(KEY_ENV)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _unreachable(self, detail: str) -> LLMUnavailable:
        return LLMUnavailable(
            f"cannot reach the OpenAI-compatible server at {self.host} ({self.host_source}): {detail}",
            hint="start it (e.g. `llama-server -m model.gguf --port 8080 --jinja`), or set "
                 "mh config set agent.openaiBaseUrl http://HOST:PORT/v1")

    def _error(self, status: int, text: str, model: str, tools: bool) -> LLMError:
        low = text.lower()
        if status == 404 and "model" in low:
            return ModelMissing(f"model {model!r} is not served at {self.host}: {text[:200]}",
                                model=model, hint="mh model list shows what the server offers")
        if tools and "tool" in low:
            return ToolsUnsupported(f"the server at {self.host} refused tool calls: {text[:200]}")
        return LLMError(f"{self.host}/chat/completions answered {status}: {text[:300]}")

    def stream(self, messages: list[Message], *, model: str, tools=None, format=None,
               options=None, think=None) -> Iterator[ChatChunk]:
        import httpx

        body: dict[str, Any] = {"model": model, "messages": to_wire(messages), "stream": True}
        if tools:
            body["tools"] = tools
        if (rf := response_format(format)) is not None:
            body["response_format"] = rf
        for key in ("temperature", "top_p", "seed", "stop"):
            if options and key in options:
                body[key] = options[key]
        if options and "num_predict" in options:
            body["max_tokens"] = options["num_predict"]
        calls: dict[int, dict[str, Any]] = {}
        finish = None
        try:
            with httpx.stream("POST", self.host + "/chat/completions", json=body,
                              headers=self._headers(),
                              timeout=httpx.Timeout(self.timeout, connect=5.0)) as resp:
                self._response = resp
                if resp.status_code >= 400:
                    resp.read()
                    raise self._error(resp.status_code, resp.text, model, bool(tools))
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    event = json.loads(data)
                    if "error" in event:
                        raise LLMError(f"{self.host}: {event['error']}")
                    for choice in event.get("choices") or []:
                        delta = choice.get("delta") or {}
                        for frag in delta.get("tool_calls") or []:
                            slot = calls.setdefault(int(frag.get("index", len(calls))),
                                                    {"id": None, "name": "", "args": ""})
                            slot["id"] = frag.get("id") or slot["id"]
                            fn = frag.get("function") or {}
                            slot["name"] += fn.get("name") or ""
                            slot["args"] += fn.get("arguments") or ""
                        text = delta.get("content") or ""
                        thought = delta.get("reasoning_content") or ""
                        if text or thought:
                            yield ChatChunk(content=text, thinking=thought)
                        finish = choice.get("finish_reason") or finish
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise self._unreachable("connect timeout") from None
            raise LLMUnavailable(f"{self.host} did not answer within {self.timeout:g} s") from None
        except (httpx.TransportError, httpx.StreamError, OSError) as exc:
            raise self._unreachable(type(exc).__name__) from None
        finally:
            self._response = None
        tool_calls = [ToolCall(name=c["name"], arguments=_parse_args(c["args"]), id=c["id"])
                      for _, c in sorted(calls.items())]
        yield ChatChunk(tool_calls=tool_calls, done=True, done_reason=finish)

    def list_models(self) -> list[ModelInfo]:
        import httpx

        try:
            resp = httpx.get(self.host + "/models", headers=self._headers(), timeout=5.0)
        except (httpx.TransportError, OSError) as exc:
            raise self._unreachable(type(exc).__name__) from None
        if resp.status_code >= 400:
            raise LLMError(f"{self.host}/models answered {resp.status_code}")
        return [ModelInfo(name=str(m.get("id", ""))) for m in resp.json().get("data") or []]

    def has_model(self, model: str) -> bool:
        names = [m.name for m in self.list_models()]
        # llama.cpp's server serves one model under any name
        return model in names or len(names) == 1

    def health(self) -> Health:
        try:
            self.list_models()
        except LLMError as exc:
            return Health(ok=False, backend=self.name, host=self.host, error=exc.message,
                          hint=exc.hint)
        return Health(ok=True, backend=self.name, host=self.host)
