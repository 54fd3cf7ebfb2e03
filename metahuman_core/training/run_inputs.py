"""The last touches on a new run's inputs: the training system prompt and the generic-answer cache.

Why a separate step after runs.create_run: the system prompt must carry only what the person wrote
(no template "Alex", but the name from their chat exports when that is all we know: issue 20/21),
and the base model's generic answers for the held-out prompts are computed once per dataset
(out/adapters/<LABEL>/generic_answers.json) and handed to every run of it, then brought back.
"""

from __future__ import annotations

import shutil
from typing import Any

from ..storage import atomic_write_json, read_json_or
from . import runs
from .persona_template import training_system_prompt

GENERIC_FILE = "generic_answers.json"  # the trainer's name for it (trainer/__main__.py)


def prepare(profile, run: runs.Run) -> dict[str, Any]:
    """Rewrite the run's config.json system prompt; seed the run with the dataset's cache."""
    cfg = read_json_or(run.dir / "config.json", {})
    meta = read_json_or(runs.dataset_dir(profile, run.dataset) / "metadata.json", {})
    speaker = meta.get("speaker") if isinstance(meta, dict) else None
    cfg["system_prompt"] = training_system_prompt(profile, speaker)
    atomic_write_json(run.dir / "config.json", cfg)
    cached = runs.dataset_dir(profile, run.dataset) / GENERIC_FILE
    if cached.is_file() and not (run.dir / GENERIC_FILE).exists():
        shutil.copyfile(cached, run.dir / GENERIC_FILE)
    return cfg


def keep_generic_answers(profile, run: runs.Run) -> bool:
    """Bring the run's (possibly grown) cache back to its dataset; True when copied."""
    src = run.dir / GENERIC_FILE
    if not src.is_file():
        return False
    dest = runs.dataset_dir(profile, run.dataset) / GENERIC_FILE
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dest)
    return True
