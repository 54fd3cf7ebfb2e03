"""Redaction for anything that leaves the process as a record (audit, run summaries, logs).

Secrets never appear; file contents never appear (size + sha256 instead); long values are capped.
`scrub_secrets` is the lighter pass for records that must keep their text (operator runs, error
messages shown to people): it only replaces the values of every configured secret, which are
the known variables (SECRET_ENV_VARS), any variable whose name says it is a secret
(`*_API_KEY`, `*_TOKEN`, `*_SECRET`, `*_PASSWORD`…), the profile's etc/secrets/ files and registered values.
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

ENV_SECRET_RE = re.compile(r"(^|_)(API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|SECRET(_?KEY)?|TOKEN|"
                           r"PASSWORD|PASSPHRASE|CREDENTIALS?)$", re.IGNORECASE)
ENV_MIN_CHARS = 8  # shorter values of secret-looking variables ("1", "true") are not secrets
SECRET_FILE_MAX = 4096

_extra_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is scrubbed wherever it appears in a record."""
    if value and len(value) >= 6:
        _extra_secrets.add(value)


def secret_values() -> list[str]:
    found = set(_extra_secrets)
    for var in SECRET_ENV_VARS:
        value = os.environ.get(var)
        if value and len(value) >= 6:
            found.add(value)
    found.update(_env_secrets())
    return sorted(found, key=len, reverse=True)


_env_cache: tuple[Any, frozenset[str]] = (None, frozenset())


def _env_secrets() -> frozenset[str]:
    """Values of secret-looking variables; rescanned when the environment's size changes (the
    scan costs ~40 µs, too much for every audit line)."""
    global _env_cache
    key = len(os.environ)
    if _env_cache[0] != key:
        _env_cache = (key, frozenset(v for k, v in os.environ.items()
                                     if len(v) >= ENV_MIN_CHARS and ENV_SECRET_RE.search(k)))
    return _env_cache[1]


def register_profile_secrets(profile) -> None:
    """Register every small file in the profile's etc/secrets/ (API token, keys) as a secret."""
    try:
        folder = profile.home.secrets_dir
        files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    except OSError:
        return
    for path in files:
        try:
            if path.stat().st_size <= SECRET_FILE_MAX:
                register_secret(path.read_text("utf-8", "replace").strip())
        except OSError:
            continue


def scrub_secrets(value: Any, secrets: list[str] | None = None) -> Any:
    """`value` with every configured secret replaced by [redacted]; nothing else changes."""
    secrets = secret_values() if secrets is None else secrets
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: scrub_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_secrets(v, secrets) for v in value]
    return value


def summarize_content(value: str | bytes) -> dict[str, Any]:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return {"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def scrub_string(text: str, secrets: list[str] | None = None) -> str:
    for secret in secrets if secrets is not None else secret_values():
        if secret in text:
            text = text.replace(secret, REDACTED)
    if len(text) > MAX_STRING:
        text = text[:MAX_STRING] + f"…[+{len(text) - MAX_STRING} chars]"
    return text


def redact(value: Any, *, _depth: int = 0, _secrets_cache: list[str] | None = None) -> Any:
    secrets = _secrets_cache if _secrets_cache is not None else secret_values()
    if _depth > MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
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

