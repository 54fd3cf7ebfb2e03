"""Ollama model management: list, show, exists, and create-from-GGUF (adapter activation).

Creating a model from a local GGUF is, on servers >= 0.5.5 (reference/agent-anchors.md §3.1/3.2):
hash the file -> HEAD /api/blobs/<digest> -> POST the bytes if absent (the server verifies the
sha256) -> /api/create with files={name: digest}, template, system, parameters. No Modelfile text,
no shelling out to `ollama create`.

`target` everywhere is a Profile (host from $OLLAMA_HOST or etc/agent.json) or a host URL string.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

from .errors import ValidationFailed
from .llm.base import LLMError, same_model
from .llm.ollama_backend import MIN_VERSION, OllamaBackend, parse_version
from .storage import sha256_file

MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}(/[A-Za-z0-9][A-Za-z0-9._-]{0,79})?"
                           r"(:[A-Za-z0-9][A-Za-z0-9._-]{0,127})?$")
CHUNK = 1 << 20
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _backend(target) -> OllamaBackend:
    if isinstance(target, OllamaBackend):
        return target
    if target is None:
        env = os.environ.get("OLLAMA_HOST")
        return OllamaBackend(env, host_source="$OLLAMA_HOST" if env else "the default host")
    if isinstance(target, str):
        return OllamaBackend(target, host_source="argument")
    from .llm.factory import resolve_host

    host, source = resolve_host(target)
    return OllamaBackend(host, timeout=target.config.get("agent").timeoutSeconds,
                         host_source=source)


def validate_ollama_name(name: str) -> str:
    """A name we may *create* in Ollama (an activated adapter): the core's model-name rule
    (`config.validate_model_name`, what etc/agent.json accepts) plus Ollama's own stricter
    charset and shape (optional namespace/ and :tag, no path tricks)."""
    from .config import validate_model_name

    bad = ValidationFailed(f"invalid Ollama model name {name!r}",
                           hint="letters, digits, '.', '_', '-', optional namespace/ and :tag")
    if not isinstance(name, str):
        raise bad
    try:
        validate_model_name(name)
    except ValidationFailed:
        raise bad from None
    if not MODEL_NAME_RE.match(name):
        raise bad
    return name


def list_models(target) -> list[dict[str, Any]]:
    return [m.to_dict() for m in _backend(target).list_models()]


def show_model(target, name: str) -> dict[str, Any]:
    return _backend(target).show(name)


def _is_target(value) -> bool:
    return not isinstance(value, str) or "://" in value


def model_exists(a, b=None) -> bool:
    """model_exists(target, name), model_exists(name, target) or model_exists(name)."""
    if b is None:
        target, name = None, a
    elif _is_target(a) and not _is_target(b):
        target, name = a, b
    else:
        target, name = b, a
    return any(same_model(m.name, name) for m in _backend(target).list_models())


def blob_digest(path: Path, on_progress: Progress | None = None) -> str:
    """Ollama's blob name for a file: "sha256:" + the core's hex digest (storage.sha256_file)."""
    report = (lambda done, total: on_progress("hash", done, total)) if on_progress else None
    return "sha256:" + sha256_file(path, on_progress=report, chunk=CHUNK)


def upload_blob(backend: OllamaBackend, path: Path, digest: str,
                on_progress: Progress | None = None) -> bool:
    """Upload unless the server has it. Returns True if bytes were sent."""
    import httpx

    url = f"{backend.host}/api/blobs/{digest}"
    try:
        if httpx.head(url, timeout=10.0).status_code == 200:
            return False
        total = path.stat().st_size

        def body():
            sent = 0
            with path.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    sent += len(chunk)
                    if on_progress:
                        on_progress("upload", sent, total)
                    yield chunk

        resp = httpx.post(url, content=body(), headers={"Content-Length": str(total)},
                          timeout=httpx.Timeout(600.0, connect=5.0))
    except (httpx.TransportError, OSError) as exc:
        raise backend._map(exc) from None
    if resp.status_code not in (200, 201):
        raise LLMError(f"uploading {path} to {backend.host} failed ({resp.status_code}): "
                       f"{resp.text[:300]}")
    return True


def create_model_from_gguf(target, name: str, gguf_path: str | Path, *, template: str,
                           system: str, parameters: dict | None = None,
                           on_progress: Progress | None = None) -> dict[str, Any]:
    """Register a GGUF file as Ollama model `name`. Raises LLMError / ValidationFailed."""
    validate_ollama_name(name)
    path = Path(gguf_path)
    if not path.is_file():
        raise ValidationFailed(f"{path}: GGUF file not found")
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ValidationFailed(f"{path}: not a GGUF file (no GGUF magic at offset 0)")
    backend = _backend(target)
    version = backend.version()
    if parse_version(version) < MIN_VERSION:
        raise LLMError(f"Ollama {version} at {backend.host} cannot import GGUF files through "
                       "the API (needs 0.5.5 or newer)", hint="upgrade Ollama")
    digest = blob_digest(path, on_progress)
    uploaded = upload_blob(backend, path, digest, on_progress)
    statuses: list[str] = []
    try:
        for part in backend.client().create(model=name, files={path.name: digest},
                                            template=template, system=system,
                                            parameters=parameters or None, stream=True):
            statuses.append(part.status or "")
            if on_progress:
                on_progress(f"create: {part.status}", len(statuses), 0)
    except Exception as exc:
        mapped = backend._map(exc)
        if mapped is exc:
            raise
        raise mapped from None
    if not statuses or statuses[-1] != "success":
        raise LLMError(f"Ollama did not confirm creating {name!r} (last status: "
                       f"{statuses[-1] if statuses else 'none'})")
    return {"model": name, "digest": digest, "size": path.stat().st_size, "uploaded": uploaded,
            "status": "success", "statuses": statuses, "host": backend.host, "version": version}


def delete_model(target, name: str) -> bool:
    """True if deleted, False if it was not there."""
    import httpx

    backend = _backend(target)
    try:
        resp = httpx.request("DELETE", backend.host + "/api/delete", json={"model": name},
                             timeout=30.0)
    except (httpx.TransportError, OSError) as exc:
        raise backend._map(exc) from None
    if resp.status_code == 404:
        return False
    if resp.status_code >= 400:
        raise LLMError(f"deleting {name!r} failed ({resp.status_code}): {resp.text[:200]}")
    return True
