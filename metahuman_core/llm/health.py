"""Is the LLM usable right now? One answer for every face (TUI status bar, `mh model status`,
`mh status`): the server is reachable AND the model that would answer (the active adapter's,
else etc/agent.json's) is there. A green light for a server without the model was a lie.

The host is normalised exactly as the Ollama backend does (`OLLAMA_HOST=127.0.0.1` means
http://127.0.0.1:11434), because it *is* the backend's host: we build the backend and ask it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..active_model import active_model
from ..errors import MHError
from .base import LLMError, same_model

if TYPE_CHECKING:
    from ..profile import Profile


@dataclass(frozen=True)
class LlmHealth:
    ok: bool                    # reachable and the model is present (or cannot be checked)
    backend: str                # ollama | openai | llamacpp
    host: str | None            # normalised URL; None for the embedded backend
    model: str                  # the model that would answer (adapter or base)
    reachable: bool
    model_present: bool | None  # None: not checked (server down) or unknowable
    message: str                # one line for people
    hint: str | None
    source: str = "base"        # base | adapter
    version: str | None = None  # server / llama-cpp-python version when known
    host_source: str | None = None  # where the Ollama host came from ($OLLAMA_HOST or etc/agent.json)
    problem: str | None = None  # e.g. a corrupt active-adapter.json (the base model answers)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _adapter_hint(model: str) -> str:
    # An activated adapter is built locally (`ollama create`), so `ollama pull` cannot fetch it.
    return (f"{model!r} is a trained adapter, not a downloadable model: re-run "
            "`mh adapter activate DATE` to load it into the server again, or roll back to the "
            "base model with `mh adapter deactivate`")


def health(profile: Profile, *, timeout: float = 2.0) -> LlmHealth:
    """Probe the configured backend (at most a few requests of `timeout` seconds each)."""
    agent = profile.config.get("agent")
    current = active_model(profile)
    model, source, problem = current["model"], current["source"], current.get("problem")
    common = {"backend": agent.backend, "model": model, "source": source, "problem": problem}
    if agent.backend == "llamacpp":
        return _llamacpp(agent.ggufPath, model, common)
    if agent.backend == "openai":
        return _openai(agent.openaiBaseUrl, timeout, common)
    return _ollama(profile, timeout, common)


def _ollama(profile: Profile, timeout: float, common: dict[str, Any]) -> LlmHealth:
    from .factory import resolve_host
    from .ollama_backend import MIN_VERSION, OllamaBackend, parse_version

    raw, host_source = resolve_host(profile)
    backend = OllamaBackend(raw, timeout=timeout, host_source=host_source)
    base = {**common, "host": backend.host, "host_source": host_source}
    try:
        version = str(backend._get("/api/version", timeout=timeout).get("version", ""))
    except LLMError as exc:
        return LlmHealth(ok=False, reachable=False, model_present=None, message=exc.message,
                         hint=exc.hint, **base)
    except (ValueError, AttributeError):  # an HTTP server, but not speaking Ollama's JSON
        return LlmHealth(ok=False, reachable=False, model_present=None,
                         message=f"{backend.host} answers, but not as an Ollama server",
                         hint="check agent.host (mh config get agent.host) and $OLLAMA_HOST",
                         **base)
    try:
        names = [m.get("model") or m.get("name") or ""
                 for m in backend._get("/api/tags", timeout=timeout).get("models") or []]
    except LLMError as exc:
        return LlmHealth(ok=False, reachable=True, model_present=None, version=version,
                         message=exc.message, hint=exc.hint, **base)
    except (ValueError, AttributeError):
        return LlmHealth(ok=False, reachable=True, model_present=None, version=version,
                         message=f"{backend.host}/api/tags did not answer a model list",
                         hint="see the Ollama server log", **base)
    model = common["model"]
    present = any(same_model(n, model) for n in names)
    if present:
        if parse_version(version) < MIN_VERSION and version != "0.0.0":
            return LlmHealth(ok=True, reachable=True, model_present=True, version=version,
                             message=f"Ollama {version} is older than 0.5.5: activating trained "
                                     "models will fail", hint="upgrade Ollama", **base)
        return LlmHealth(ok=True, reachable=True, model_present=True, version=version,
                         message=f"Ollama {version} at {backend.host}: {model} ready", hint=None,
                         **base)
    if common["source"] == "adapter":
        hint = _adapter_hint(model)
        message = f"the active adapter model {model!r} is not on the Ollama server at {backend.host}"
    else:
        hint = f"ollama pull {model}   (or pick an installed one: mh model list, then mh model use NAME)"
        message = f"model {model!r} is not installed on the Ollama server at {backend.host}"
    return LlmHealth(ok=False, reachable=True, model_present=False, version=version,
                     message=message, hint=hint, **base)


def _openai(base_url: str, timeout: float, common: dict[str, Any]) -> LlmHealth:
    from .openai_backend import OpenAIBackend

    backend = OpenAIBackend(base_url, timeout=timeout)
    base = {**common, "host": backend.host}
    try:
        names = [m.name for m in backend.list_models()]
    except LLMError as exc:
        return LlmHealth(ok=False, reachable=False, model_present=None, message=exc.message,
                         hint=exc.hint, **base)
    model = common["model"]
    present = model in names or len(names) == 1  # llama-server serves its one model by any name
    if present:
        return LlmHealth(ok=True, reachable=True, model_present=True,
                         message=f"{backend.host}: {model} ready", hint=None, **base)
    return LlmHealth(ok=False, reachable=True, model_present=False,
                     message=f"model {model!r} is not served at {backend.host}",
                     hint="served: " + (", ".join(names) or "none") +
                          "; mh model use NAME picks one", **base)


def _llamacpp(gguf: str | None, model: str, common: dict[str, Any]) -> LlmHealth:
    """The embedded backend answers from a local GGUF: the adapter's .gguf if that is a file,
    else etc/agent.json ggufPath (as LlamaCppBackend does)."""
    path = Path(model).expanduser() if model.endswith(".gguf") else None
    if path is None or not path.is_file():
        path = Path(gguf).expanduser() if gguf else None
    base = {**common, "host": None, "model": str(path) if path else model}
    if path is None:
        return LlmHealth(ok=False, reachable=False, model_present=False,
                         message="the embedded backend has no model file (etc/agent.json ggufPath)",
                         hint="mh config set agent.ggufPath /path/to/model.gguf", **base)
    if not path.is_file():
        return LlmHealth(ok=False, reachable=False, model_present=False,
                         message=f"{path}: GGUF file not found (etc/agent.json ggufPath)",
                         hint="point agent.ggufPath at a .gguf file", **base)
    import importlib.metadata as md
    import importlib.util

    from ..extras import install_command

    if importlib.util.find_spec("llama_cpp") is None:
        return LlmHealth(ok=False, reachable=False, model_present=True,
                         message="the embedded backend needs llama-cpp-python (the `llm` extra)",
                         hint=install_command("llm"), **base)
    try:
        version: str | None = md.version("llama_cpp_python")
    except md.PackageNotFoundError:
        version = None
    return LlmHealth(ok=True, reachable=True, model_present=True, version=version,
                     message=f"embedded llama.cpp: {path.name} ready", hint=None, **base)


def safe_health(profile: Profile, *, timeout: float = 2.0) -> LlmHealth:
    """health(), but a broken etc/agent.json is an answer (not an exception) for status lines."""
    try:
        return health(profile, timeout=timeout)
    except MHError as exc:
        return LlmHealth(ok=False, backend="?", host=None, model="?", reachable=False,
                         model_present=None, message=exc.message, hint=exc.hint)
