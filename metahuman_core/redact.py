"""Redaction for anything that leaves the process as a record (audit, run summaries, logs).

Secrets never appear; file contents never appear (size + sha256 instead); long values are capped.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

SECRET_KEY_RE = re.compile(
    r"(pass(word|phrase)?|secret|token|api[_-]?key|apikey|authori[sz]ation|private[_-]?key|cookie|credential)",
    re.IGNORECASE)
CONTENT_KEYS = frozenset({"content", "file_content", "body", "data_bytes"})
SECRET_ENV_VARS = ("RUNPOD_API_KEY", "MH_OPENAI_API_KEY", "OPENAI_API_KEY")
MAX_STRING = 1000
MAX_ITEMS = 100
MAX_DEPTH = 6
REDACTED = "[redacted]"

_extra_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is scrubbed wherever it appears in a record."""
    if value and len(value) >= 6:
        _extra_secrets.add(value)


def _secrets() -> list[str]:
    found = set(_extra_secrets)
    for var in SECRET_ENV_VARS:
        value = os.environ.get(var)
        if value and len(value) >= 6:
            found.add(value)
    return sorted(found, key=len, reverse=True)


def summarize_content(value: str | bytes) -> dict[str, Any]:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return {"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def scrub_string(text: str, secrets: list[str] | None = None) -> str:
    for secret in secrets if secrets is not None else _secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    if len(text) > MAX_STRING:
        text = text[:MAX_STRING] + f"…[+{len(text) - MAX_STRING} chars]"
    return text


def redact(value: Any, *, _depth: int = 0, _secrets_cache: list[str] | None = None) -> Any:
    secrets = _secrets_cache if _secrets_cache is not None else _secrets()
    if _depth > MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, dict):
        out = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["…"] = f"+{len(value) - MAX_ITEMS} keys"
                break
            key = str(key)
            if SECRET_KEY_RE.search(key) and not isinstance(item, (bool, int, float)) and item:
                out[key] = REDACTED
            elif key in CONTENT_KEYS and isinstance(item, (str, bytes)):
                out[key] = summarize_content(item)
            else:
                out[key] = redact(item, _depth=_depth + 1, _secrets_cache=secrets)
        return out
    if isinstance(value, (list, tuple)):
        items = [redact(v, _depth=_depth + 1, _secrets_cache=secrets) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"…+{len(value) - MAX_ITEMS} items")
        return items
    if isinstance(value, str):
        return scrub_string(value, secrets)
    if isinstance(value, bytes):
        return summarize_content(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub_string(str(value), secrets)
