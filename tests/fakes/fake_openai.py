"""The OpenAI-compatible half of the fake Ollama server (real Ollama serves it under /v1 too).

POST /v1/chat/completions streams Server-Sent Events the way llama.cpp's server, vLLM and Ollama
do: content deltas, then tool calls whose JSON `arguments` arrive as string fragments keyed by
`index` (split in two here, so clients must reassemble), a finish_reason, and `data: [DONE]`.
A turn {"forever": "tok "} streams that token every `token_delay` seconds (1 s if unset) until the
client hangs up, as the Ollama route does (a slow, looping model behind an OpenAI-style server).
Mixed into the fake's request handler; uses its `owner`, `_json`, `_chunk` and stream helpers.
"""

from __future__ import annotations

import json
import time
from typing import Any


def _tokens(text: str) -> list[str]:
    from .fake_ollama import tokens

    return tokens(text)


class OpenAIRoutes:
    def _openai_chat(self, body: dict) -> None:
        if self._model_error(body):
            return
        turn = self.owner.next_turn(body)
        if "error" in turn:
            return self._json(int(turn.get("status", 500)), {"error": {"message": turn["error"]}})
        content = str(turn.get("content") or "")
        calls = turn.get("tool_calls") or []
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0,
                "model": body["model"]}
        if "forever" in turn and body.get("stream") is True:
            return self._openai_forever(base, str(turn["forever"]))
        if body.get("stream") is not True:
            msg: dict[str, Any] = {"role": "assistant", "content": content}
            if calls:
                msg["tool_calls"] = [{"id": f"call_{i}", "type": "function", "function": {
                    "name": c["name"], "arguments": json.dumps(c.get("arguments", {}))}}
                    for i, c in enumerate(calls)]
            return self._json(200, {**base, "object": "chat.completion", "choices": [
                {"index": 0, "message": msg, "finish_reason": "tool_calls" if calls else "stop"}]})
        self._start_stream("text/event-stream")
        for tok in _tokens(content) if content else []:
            self._sse({**base, "choices": [{"index": 0, "delta": {"content": tok},
                                            "finish_reason": None}]})
        for i, c in enumerate(calls):  # arguments arrive in two fragments, as real servers do
            args = json.dumps(c.get("arguments", {}))
            half = len(args) // 2
            self._sse({**base, "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": i, "id": f"call_{i}", "type": "function",
                 "function": {"name": c["name"], "arguments": args[:half]}}]}, "finish_reason": None}]})
            self._sse({**base, "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": i, "function": {"arguments": args[half:]}}]}, "finish_reason": None}]})
        self._sse({**base, "choices": [{"index": 0, "delta": {},
                                        "finish_reason": "tool_calls" if calls else "stop"}]})
        self._chunk(b"data: [DONE]\n\n")
        self._end_stream()

    def _openai_forever(self, base: dict, token: str) -> None:
        """Stream `token` every token_delay (default 1 s) until the client goes away."""
        delay = self.owner.token_delay or 1.0
        self._start_stream("text/event-stream")
        deadline = time.monotonic() + 600
        try:
            while not self.owner._stopped.is_set() and time.monotonic() < deadline:
                self._sse({**base, "choices": [{"index": 0, "delta": {"content": token},
                                                "finish_reason": None}]})
                time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError, OSError):
            with self.owner._lock:
                self.owner.disconnects += 1
        self.close_connection = True

    def _sse(self, obj: dict) -> None:
        self._chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")
