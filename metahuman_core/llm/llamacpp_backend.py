"""Embedded llama.cpp (`llama-cpp-python`, extra `llm`): runs a GGUF file in this process.

No server, no network: the fallback when neither Ollama nor an OpenAI-compatible server is around.
Two pitfalls from reference/smollm2-trial.md are handled here:
* a native build dies with SIGILL on AMX CPUs when weights are repacked; we load with
  `use_extra_bufts=False` (patched into the default model params, as llama-cpp-python does not
  expose it as a keyword);
* `chatml-function-calling` ignores max_tokens, so native tools are not offered: the operator uses
  its JSON-in-text protocol with this backend (supports_tools() is False), constrained by a JSON
  schema (`format` → a GBNF grammar) so a step is a few dozen tokens.
Stopping: a generation stops at the next token when its consumer goes away, and `abort()` sets a
flag that llama.cpp's abort callback reads between graph nodes, so even a long prompt evaluation
ends within milliseconds (issue 18). At exit, in-flight generations are aborted before the
models are freed (freeing under a running decode crashed the process).
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import Any, Iterator

from .base import (BaseBackend, ChatChunk, Health, LLMError, LLMUnavailable, Message, ModelInfo,
                   ModelMissing, ToolsUnsupported)
from .openai_backend import response_format, to_wire

THREADS_ENV = "MH_LLAMA_THREADS"
_LOCK = threading.Lock()


class _Loaded:
    """One model in memory: one generation at a time (`busy`), and its abort flag."""

    def __init__(self, llm: Any, llama_cpp: Any):
        self.llm = llm
        self.busy = threading.Lock()
        self.abort = threading.Event()
        self._callback = None
        setter = getattr(llama_cpp, "llama_set_abort_callback", None)
        kind = getattr(llama_cpp, "ggml_abort_callback", None)
        ctx = getattr(llm, "ctx", None)
        if setter is not None and kind is not None and ctx is not None:
            self._callback = kind(lambda _data: self.abort.is_set())  # kept alive here
            setter(ctx, self._callback, None)


_MODELS: dict[tuple[str, int], _Loaded] = {}


def _import():
    from ..extras import install_command

    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise LLMUnavailable(
            "the embedded backend needs llama-cpp-python (the `llm` extra), which is not installed",
            hint=f"CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" {install_command('llm')}  (builds llama.cpp: several "
                 "minutes; the flag makes a portable build), or use mh config set agent.backend ollama") from None
    return llama_cpp


def _no_extra_bufts(llama_cpp) -> None:
    """Make every Llama() load with use_extra_bufts=False (no AMX repack -> no SIGILL)."""
    low = getattr(llama_cpp, "llama_cpp", None)
    original = getattr(low, "llama_model_default_params", None)
    if low is None or original is None or getattr(original, "_mh_patched", False):
        return

    def patched() -> Any:
        params = original()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    setattr(patched, "_mh_patched", True)  # mypy: an attribute on a function
    low.llama_model_default_params = patched
    if hasattr(llama_cpp, "llama_model_default_params"):
        llama_cpp.llama_model_default_params = patched


def close_all() -> None:
    """Free loaded models while llama_cpp is still importable (its __del__ fails at exit)."""
    with _LOCK:
        while _MODELS:
            _, entry = _MODELS.popitem()
            entry.abort.set()
            if not entry.busy.acquire(timeout=10):
                continue  # still decoding: leave it to the OS rather than free it under the thread
            try:
                entry.llm.close()
            except Exception:  # pragma: no cover - best effort at shutdown
                pass


def _threads(override: str | None) -> int:
    """$MH_LLAMA_THREADS, else one per CPU up to 8. On a busy machine fewer threads are faster:
    llama.cpp's threads wait for each other at every layer (bench/op_bench.py)."""
    import os

    if override and override.strip().isdigit() and int(override) > 0:
        return int(override)
    return max(1, min(8, os.cpu_count() or 1))


def load(path: Path, n_ctx: int = 4096):
    return _load(path, n_ctx).llm


def _load(path: Path, n_ctx: int = 4096) -> _Loaded:
    llama_cpp = _import()
    key = (str(path), n_ctx)
    with _LOCK:
        if key not in _MODELS:
            if not _MODELS:
                atexit.register(close_all)
            _no_extra_bufts(llama_cpp)
            import os

            _MODELS[key] = _Loaded(llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx,
                                                   n_threads=_threads(os.environ.get(THREADS_ENV)),
                                                   verbose=False), llama_cpp)
            if not os.environ.get("MH_DEBUG"):  # llama.cpp's own notes (e.g. on abort) → silent
                import logging

                logging.getLogger("llama-cpp-python").setLevel(logging.CRITICAL + 1)
        return _MODELS[key]


class LlamaCppBackend(BaseBackend):
    name = "llamacpp"

    def __init__(self, gguf_path: str | None, *, n_ctx: int = 4096):
        self.gguf = Path(gguf_path).expanduser() if gguf_path else None
        self.host = f"embedded:{self.gguf}" if self.gguf else "embedded:(no ggufPath)"
        self.n_ctx = n_ctx
        self._current: _Loaded | None = None

    def abort(self) -> None:
        current = self._current
        if current is not None:
            current.abort.set()

    def _path(self, model: str | None) -> Path:
        if model and model.endswith(".gguf") and Path(model).expanduser().is_file():
            return Path(model).expanduser()
        if self.gguf is None:
            raise LLMUnavailable("the embedded backend has no model file",
                                 hint="mh config set agent.ggufPath /path/to/model.gguf")
        if not self.gguf.is_file():
            raise ModelMissing(f"{self.gguf}: GGUF file not found (etc/agent.json ggufPath)",
                               model=str(self.gguf), hint="point agent.ggufPath at a .gguf file")
        return self.gguf

    def stream(self, messages: list[Message], *, model: str, tools=None, format=None,
               options=None, think=None) -> Iterator[ChatChunk]:
        if tools:
            raise ToolsUnsupported("the embedded backend does not offer native tool calls")
        entry = _load(self._path(model), self.n_ctx)
        kwargs: dict[str, Any] = {"messages": to_wire(messages), "stream": True}
        rf = response_format(format)
        if rf is not None:
            schema = rf.get("json_schema", {}).get("schema")
            kwargs["response_format"] = ({"type": "json_object", "schema": schema} if schema
                                         else {"type": "json_object"})
        options = options or {}
        for key in ("temperature", "top_p", "seed", "stop"):
            if key in options:
                kwargs[key] = options[key]
        kwargs["max_tokens"] = options.get("num_predict", 512)
        finish = None
        with entry.busy:
            entry.abort.clear()
            self._current = entry
            try:
                for event in entry.llm.create_chat_completion(**kwargs):
                    choice = (event.get("choices") or [{}])[0]
                    text = (choice.get("delta") or {}).get("content") or ""
                    if text:
                        yield ChatChunk(content=text)
                    finish = choice.get("finish_reason") or finish
            except (ValueError, RuntimeError) as exc:
                if entry.abort.is_set():
                    raise LLMError("llama.cpp generation aborted") from None
                raise LLMError(f"llama.cpp failed on {self.gguf}: {exc}") from None
            finally:
                self._current = None
        yield ChatChunk(done=True, done_reason=finish)

    def list_models(self) -> list[ModelInfo]:
        if self.gguf is None or not self.gguf.is_file():
            return []
        return [ModelInfo(name=str(self.gguf), size=self.gguf.stat().st_size)]

    def has_model(self, model: str) -> bool:
        return self.gguf is not None and self.gguf.is_file()

    def supports_tools(self, model: str) -> bool | None:
        return False

    def health(self) -> Health:
        try:
            _import()
            self._path(None)
        except LLMError as exc:
            return Health(ok=False, backend=self.name, host=self.host, error=exc.message,
                          hint=exc.hint)
        import importlib.metadata as md

        try:
            version = md.version("llama_cpp_python")
        except md.PackageNotFoundError:
            version = None
        return Health(ok=True, backend=self.name, host=self.host, version=version)
