"""The trainer's config.json: the seed's keys plus the few this trainer adds.

Seed keys: base_model, lora_rank, num_train_epochs, learning_rate, per_device_train_batch_size,
gradient_accumulation_steps, max_seq_length. A key that is absent or null is chosen by the recipe
(trainer/recipe.py: from the number of pairs, their length and the model size); a key with a value
is *explicit* and used exactly (`TrainerConfig.explicit`). Unknown keys (comment, notes, RunPod
settings) are ignored; a wrong type is an error naming config.json and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import date as _date
from pathlib import Path
from typing import Any

DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class ConfigError(ValueError):
    """config.json is unreadable or holds a bad value; the message names the field."""


@dataclass
class TrainerConfig:
    base_model: str = "HuggingFaceTB/SmolLM2-135M-Instruct"
    lora_rank: int = 8
    lora_alpha: float | None = None          # default 2 × rank
    lora_dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_TARGETS))
    # None = chosen by the recipe (trainer/recipe.py) once the data and the model are known
    num_train_epochs: float | None = None
    max_steps: int | None = None             # optimizer steps; replaces epochs when set
    learning_rate: float | None = None
    lr_scheduler: str | None = None          # constant | cosine | linear (after the warm-up)
    warmup_steps: int | None = None
    weight_decay: float = 0.0
    per_device_train_batch_size: int | None = None
    gradient_accumulation_steps: int | None = None
    max_seq_length: int = 2048
    seed: int = 42
    system_prompt: str | None = None         # None: the template's own default (if any)
    chat_template: str = "auto"              # auto: the model's own, ChatML fallback; or chatml
    backend: str = "auto"                    # auto | peft | unsloth
    load_in_4bit: bool = True                # unsloth on CUDA only
    eval_every_steps: int | None = None
    early_stopping_patience: int | None = None
    eval_max_new_tokens: int = 48
    eval_samples: int = 3
    eval_max_loss_delta: float = 0.0         # pass: adapter loss − base loss < this
    eval_min_llr_gain: float = 0.0           # pass: LLR gain > this
    gguf_name: str = "persona"
    gguf_type: str = "f16"                   # f16 | f32
    gguf_pre: str | None = None              # override the detected llama.cpp pre-tokenizer
    keep_merged: bool = False
    date: str = field(default_factory=lambda: _date.today().isoformat())
    threads: int | None = None
    generic_cache: str | None = None         # JSON cache of the base model's generic answers
    explicit: dict[str, Any] = field(default_factory=dict)  # keys config.json set (not a key)

    @property
    def alpha(self) -> float:
        return float(self.lora_alpha) if self.lora_alpha else 2.0 * self.lora_rank

    @property
    def gguf_filename(self) -> str:
        return f"{self.gguf_name}-{self.date}.gguf"


_CHOICES = {"backend": ("auto", "peft", "unsloth"), "gguf_type": ("f16", "f32"),
            "chat_template": ("auto", "chatml"), "lr_scheduler": (None, "constant", "cosine",
                                                                    "linear")}
_POSITIVE = {"lora_rank", "num_train_epochs", "learning_rate", "per_device_train_batch_size",
             "gradient_accumulation_steps", "max_seq_length", "eval_max_new_tokens", "max_steps",
             "eval_every_steps", "early_stopping_patience"}
_INTS = {"max_steps", "eval_every_steps", "threads", "per_device_train_batch_size",
         "gradient_accumulation_steps", "warmup_steps", "early_stopping_patience"}
_FLOATS = {"lora_alpha", "num_train_epochs", "learning_rate"}


def _coerce(name: str, value: Any, default: Any, where: str) -> Any:
    def bad(expect: str) -> ConfigError:
        return ConfigError(f"{where}: field '{name}': expected {expect}, got {value!r}")

    if isinstance(default, bool) or name in ("load_in_4bit", "keep_merged"):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if name == "target_modules":
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            raise bad("a non-empty list of module names")
        return value
    if isinstance(default, int) or name in _INTS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise bad("an integer")
        return int(value)
    if isinstance(default, float) or name in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if not isinstance(value, str):
        raise bad("a string")
    return value


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainerConfig:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing (the trainer needs config.json in its input folder)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    cfg = TrainerConfig()
    for f in fields(TrainerConfig):
        if f.name != "explicit" and f.name in raw and raw[f.name] is not None:
            setattr(cfg, f.name, _coerce(f.name, raw[f.name], getattr(cfg, f.name), str(path)))
            cfg.explicit[f.name] = getattr(cfg, f.name)
    for name, allowed in _CHOICES.items():
        if getattr(cfg, name) not in allowed:
            raise ConfigError(f"{path}: field '{name}': must be one of "
                              f"{', '.join(a for a in allowed if a)}, "
                              f"got {getattr(cfg, name)!r}")
    for name in _POSITIVE:
        if getattr(cfg, name) is not None and getattr(cfg, name) <= 0:
            raise ConfigError(f"{path}: field '{name}': must be > 0, got {getattr(cfg, name)!r}")
    if cfg.warmup_steps is not None and cfg.warmup_steps < 0:
        raise ConfigError(f"{path}: field 'warmup_steps': must be >= 0")
    if not 0 <= cfg.lora_dropout < 1:
        raise ConfigError(f"{path}: field 'lora_dropout': must be in [0, 1)")
    if not cfg.base_model.strip():
        raise ConfigError(f"{path}: field 'base_model': empty")
    for name in ("gguf_name", "date"):
        value = getattr(cfg, name)
        if not value.strip() or "/" in value or value.startswith("."):
            raise ConfigError(f"{path}: field '{name}': must be a plain file name part, got {value!r}")
    return cfg


def apply_recipe(cfg: TrainerConfig, *, n_train: int, avg_tokens: float, n_params: int,
                 device: str):
    """Fill the keys config.json left open from the recipe; returns the Recipe (for the log)."""
    from .recipe import CHOSEN, choose

    recipe = choose(cfg.explicit, n_train=n_train, avg_tokens=avg_tokens, n_params=n_params,
                    device=device)
    for key in CHOSEN:
        setattr(cfg, key, recipe.values[key])
    return recipe
