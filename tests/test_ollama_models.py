"""One source for model names and file hashes (issue 15): ollama_models builds on the core's
`config.validate_model_name` and `storage.sha256_file` instead of keeping copies that drift."""

from __future__ import annotations

import hashlib

import pytest

from metahuman_core import config, ollama_models, storage
from metahuman_core.errors import ValidationFailed

NAMES = ["qwen3:1.7b", "greg-2025-10-19", "library/llama3:8b", "alex-persona:2025-10-19",
         "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "gpt-4o", "../evil", "two words",
         "", "x" * 81, "a:b:c", "tab\tname", "ünïcode", "-leading", "ok.name_1:tag-2"]


@pytest.mark.parametrize("name", NAMES)
def test_a_name_ollama_may_create_is_a_valid_model_name(name):
    """Stricter, never looser: what we may create in Ollama is always a valid config model."""
    try:
        ollama_models.validate_ollama_name(name)
    except ValidationFailed as exc:
        assert "invalid Ollama model name" in str(exc)
        return
    assert config.validate_model_name(name) == name


def test_the_creation_rule_refuses_what_config_allows_but_ollama_cannot_create():
    config.validate_model_name("hf.co/bartowski/x:Q4")  # a pullable reference: fine in config
    for bad in ("hf.co/bartowski/x:Q4", "../evil", "a:b:c"):
        with pytest.raises(ValidationFailed, match="invalid Ollama model name"):
            ollama_models.validate_ollama_name(bad)
    assert ollama_models.validate_ollama_name("greg-2025-10-19") == "greg-2025-10-19"


def test_ollama_blob_digest_is_the_core_sha256_with_its_prefix(tmp_path):
    one = getattr(ollama_models, "sha256_file", storage.sha256_file)
    assert one is storage.sha256_file, "one sha256_file: metahuman_core.storage"
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 3_000_000)
    seen: list[tuple[str, int, int]] = []
    digest = ollama_models.blob_digest(path, lambda stage, done, total: seen.append(
        (stage, done, total)))
    assert digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == "sha256:" + storage.sha256_file(path)
    assert seen[-1] == ("hash", 3_000_004, 3_000_004)
