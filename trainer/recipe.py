"""The training recipe: hyper-parameters the person did not set, chosen from the data and model.

Why: the seed's numbers (batch 1 × accumulation 16, 2 epochs, lr 2e-4) are for thousands of
pairs on a 30B model. On the 50–500 pairs a person actually has they give a handful of optimizer
steps and an adapter that sounds like the base model (issue 21: 8 steps, LLR gain +0.46). What
matters on little data is the number of *updates*, so the recipe keeps the effective batch small
for small datasets, runs enough epochs for ~30 updates (early stopping on held-out loss keeps the
best checkpoint, so a few extra epochs cost time, not quality), and on large datasets grows the
batch and caps the sequences processed so 10k pairs do not burn hours for nothing. The learning
rate follows the model size (LoRA on a 135M model wants ~1e-3, a 30B one ~2e-4).

Pure Python (no torch): `choose()` is unit-tested for 10, 60, 500 and 10k pairs. A key set in
config.json (non-null) is *explicit* and is never changed; every choice comes with its reason,
written to result.json, run-summary.json and the progress log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# the keys the recipe may choose when they are not explicit
CHOSEN = ("per_device_train_batch_size", "gradient_accumulation_steps", "num_train_epochs",
          "max_steps", "learning_rate", "lr_scheduler", "warmup_steps", "eval_every_steps",
          "early_stopping_patience")
MIN_STEPS = 30            # updates a small dataset needs to pick up a voice
MAX_EPOCHS = 8
MAX_SEQUENCES = 20_000    # sequences processed at most, whatever the dataset size
EVALS_PER_RUN = 10        # held-out evaluations over the run (early stopping needs a few)
TOKENS_PER_MICRO = {"cpu": 1024, "cuda": 8192}  # padded tokens in one forward pass


@dataclass
class Recipe:
    values: dict[str, Any]
    reasons: dict[str, str]
    explicit: list[str]
    inputs: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        v = self.values
        return (f"batch {v['per_device_train_batch_size']} × accumulation "
                f"{v['gradient_accumulation_steps']}, {v['total_steps']} steps "
                f"({v['epochs_planned']:.2g} epochs), lr {v['learning_rate']:g} "
                f"{v['lr_scheduler']}, warm-up {v['warmup_steps']}, "
                f"held-out eval every {v['eval_every_steps']} steps")

    def as_dict(self) -> dict[str, Any]:
        return {"values": self.values, "reasons": self.reasons, "explicit": self.explicit,
                "inputs": self.inputs}


def effective_batch(n_train: int) -> int:
    """Examples per optimizer step: small for small data (more updates), larger for large."""
    if n_train < 100:
        return 4
    if n_train < 400:
        return 8
    if n_train < 2000:
        return 16
    return 32


def epochs_for(n_train: int) -> float:
    if n_train <= 500:
        return 3.0
    if n_train <= 2000:
        return 2.0
    return 1.0


def micro_batch(n_params: int, avg_tokens: float, device: str, target: int) -> int:
    if n_params <= 1.5e9:
        size = 8
    elif n_params <= 4e9:
        size = 4 if device == "cuda" else 1
    elif n_params <= 14e9:
        size = 2 if device == "cuda" else 1
    else:
        size = 1
    budget = TOKENS_PER_MICRO.get(device, TOKENS_PER_MICRO["cpu"])
    while size > 1 and size * max(avg_tokens, 1.0) > budget:
        size //= 2
    return max(1, min(size, target))


def learning_rate_for(n_params: int) -> float:
    if n_params <= 5e8:
        return 1e-3
    if n_params <= 3e9:
        return 5e-4
    return 2e-4


def _fmt_params(n: int) -> str:
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def choose(explicit: dict[str, Any], *, n_train: int, avg_tokens: float, n_params: int,
           device: str = "cpu") -> Recipe:
    """Fill every key of CHOSEN that is not in `explicit`; explicit values are kept as given."""
    n = max(1, int(n_train))
    vals: dict[str, Any] = {}
    why: dict[str, str] = {}

    def take(key: str, value: Any, reason: str) -> Any:
        if key in explicit and explicit[key] is not None:
            vals[key] = explicit[key]
            why[key] = "set in config"
        else:
            vals[key] = value
            why[key] = reason
        return vals[key]

    target = effective_batch(n)
    if "per_device_train_batch_size" in explicit and "gradient_accumulation_steps" in explicit:
        target = explicit["per_device_train_batch_size"] * explicit["gradient_accumulation_steps"]
    bs = take("per_device_train_batch_size",
              micro_batch(n_params, avg_tokens, device, target),
              f"{_fmt_params(n_params)} parameters, ~{avg_tokens:.0f} tokens per example on "
              f"{device}")
    accum = take("gradient_accumulation_steps", max(1, round(target / bs)),
                 f"{n} training pairs: {target} examples per update gives "
                 f"{math.ceil(n / target)} updates per epoch")
    per_update = bs * accum
    steps_per_epoch = max(1, math.ceil(math.ceil(n / bs) / accum))
    epochs = epochs_for(n)
    reason = f"{n} pairs: {epochs:g} epochs"
    if steps_per_epoch * epochs < MIN_STEPS:
        epochs = min(float(MAX_EPOCHS), math.ceil(MIN_STEPS / steps_per_epoch))
        reason = (f"{n} pairs give {steps_per_epoch} updates per epoch: {epochs:g} epochs for "
                  f"~{MIN_STEPS} updates (capped at {MAX_EPOCHS}; early stopping keeps the best)")
    epochs = take("num_train_epochs", epochs, reason)
    planned = max(1, math.ceil(steps_per_epoch * epochs))
    cap = max(1, math.ceil(MAX_SEQUENCES / per_update))
    if planned > cap:  # max_steps, when set, is the exact number of updates
        total = take("max_steps", cap, f"at most {MAX_SEQUENCES} sequences "
                     f"({MAX_SEQUENCES / n:.2g} epochs of {n} pairs): more data needs no more")
    else:
        total = take("max_steps", None, "the epochs decide") or planned
    take("learning_rate", learning_rate_for(n_params),
         f"LoRA on a {_fmt_params(n_params)} model")
    take("lr_scheduler", "cosine", "warm up, then decay to 10% so the best checkpoint settles")
    take("warmup_steps", max(1, round(total * 0.06)), "6% of the steps")
    take("eval_every_steps", max(1, round(total / EVALS_PER_RUN)),
         f"about {EVALS_PER_RUN} held-out evaluations per run")
    take("early_stopping_patience", 3, "stop after 3 evaluations without a better held-out loss")
    vals["total_steps"] = total
    vals["epochs_planned"] = round(total / steps_per_epoch, 3)
    vals["steps_per_epoch"] = steps_per_epoch
    return Recipe(vals, why, sorted(k for k in CHOSEN if explicit.get(k) is not None),
                  {"train_pairs": n, "avg_tokens": round(avg_tokens, 1), "params": n_params,
                   "device": device})
