"""The training recipe (trainer/recipe.py), explicit keys, the gain interval and the verdict line.

No torch: the recipe is pure arithmetic on the number of pairs, their length and the model size.
"""

from __future__ import annotations

import json
import math

import pytest

from trainer.config import apply_recipe, load_config
from trainer.recipe import MAX_SEQUENCES, choose
from trainer.stats import bootstrap_ci, verdict_line

SMOL = 134_515_008  # SmolLM2-135M


def _updates(r):
    return r.values["total_steps"]


def _per_update(r):
    return r.values["per_device_train_batch_size"] * r.values["gradient_accumulation_steps"]


def _epochs(r, n):
    return _updates(r) * _per_update(r) / n


def test_ten_pairs_get_enough_updates_in_a_few_small_batches():
    r = choose({}, n_train=10, avg_tokens=70, n_params=SMOL)
    assert _per_update(r) == 4
    assert _updates(r) >= 20 and r.values["epochs_planned"] <= 8
    assert r.values["learning_rate"] == 1e-3 and r.values["lr_scheduler"] == "cosine"
    assert r.explicit == [] and all(why != "set in config" for why in r.reasons.values())


def test_sixty_pairs_learn_instead_of_the_seeds_eight_steps():
    """issue 21: the seed's numbers gave 8 updates on 60 pairs; the recipe gives ≥ 30."""
    r = choose({}, n_train=48, avg_tokens=90, n_params=SMOL)
    assert _updates(r) >= 30 and _per_update(r) <= 8
    assert 2 <= _epochs(r, 48) <= 4  # early stopping keeps the best; not 20 epochs of waste
    assert 1 <= r.values["eval_every_steps"] <= _updates(r) // 5  # early stopping can act
    assert r.values["warmup_steps"] >= 1
    assert "48 training pairs" in r.reasons["gradient_accumulation_steps"]


def test_five_hundred_pairs_use_a_larger_batch_and_fewer_epochs_per_pair():
    r = choose({}, n_train=425, avg_tokens=90, n_params=SMOL)
    assert _per_update(r) == 16 and _updates(r) >= 60
    assert _epochs(r, 425) <= 3.2


def test_ten_thousand_pairs_waste_no_compute():
    r = choose({}, n_train=8500, avg_tokens=120, n_params=SMOL)
    assert _per_update(r) == 32
    assert _epochs(r, 8500) <= 1.01 and _updates(r) * _per_update(r) <= MAX_SEQUENCES
    huge = choose({}, n_train=100_000, avg_tokens=120, n_params=SMOL)
    assert _updates(huge) * _per_update(huge) <= MAX_SEQUENCES + _per_update(huge)
    assert "at most" in huge.reasons["max_steps"]


def test_model_size_and_sequence_length_shape_the_micro_batch_and_rate():
    big = choose({}, n_train=60, avg_tokens=300, n_params=30_000_000_000, device="cuda")
    assert big.values["per_device_train_batch_size"] == 1
    assert big.values["learning_rate"] == 2e-4 and _per_update(big) == 4
    long = choose({}, n_train=60, avg_tokens=1500, n_params=SMOL, device="cpu")
    assert long.values["per_device_train_batch_size"] == 1


def test_explicit_keys_are_used_exactly():
    seed = {"num_train_epochs": 2, "learning_rate": 2e-4, "per_device_train_batch_size": 1,
            "gradient_accumulation_steps": 16}
    r = choose(seed, n_train=48, avg_tokens=90, n_params=SMOL)
    for key, value in seed.items():
        assert r.values[key] == value and r.reasons[key] == "set in config"
    assert _updates(r) == 6  # what the person asked for, however few
    assert sorted(r.explicit) == sorted(seed)
    partial = choose({"learning_rate": 5e-4}, n_train=48, avg_tokens=90, n_params=SMOL)
    assert partial.values["learning_rate"] == 5e-4 and _updates(partial) >= 30


def test_config_json_null_means_chosen_and_a_value_means_explicit(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"base_model": "x/y", "learning_rate": None, "num_train_epochs": None,
                             "gradient_accumulation_steps": 16, "lr_scheduler": "constant"}))
    cfg = load_config(p)
    assert cfg.learning_rate is None and "learning_rate" not in cfg.explicit
    assert cfg.explicit["gradient_accumulation_steps"] == 16
    recipe = apply_recipe(cfg, n_train=48, avg_tokens=90, n_params=SMOL, device="cpu")
    assert cfg.gradient_accumulation_steps == 16 and cfg.lr_scheduler == "constant"
    assert cfg.learning_rate == 1e-3 and recipe.reasons["learning_rate"] != "set in config"
    p.write_text(json.dumps({"lr_scheduler": "wobbly"}))
    with pytest.raises(Exception, match="lr_scheduler"):
        load_config(p)


def test_the_profile_leaves_the_recipe_keys_open_until_the_person_sets_them(profile):
    from metahuman_core.training.runs import trainer_config

    training = profile.config.get("training")
    assert training.learning_rate is None and training.gradient_accumulation_steps is None
    profile.config.set_value("training.learning_rate", 0.0005)
    cfg = trainer_config(profile, "2025-10-19")
    assert cfg["learning_rate"] == 0.0005
    assert cfg["num_train_epochs"] is None and cfg["per_device_train_batch_size"] is None


# ------------------------------------------------------------------------------ gain interval
def test_bootstrap_interval_is_deterministic_and_tells_clear_from_unclear():
    clear = [2.1, 1.8, 2.6, 2.0, 1.5, 2.4, 1.9, 2.2, 2.8, 1.7, 2.0, 2.3]
    lo, hi = bootstrap_ci(clear)
    assert 0 < lo < sum(clear) / len(clear) < hi and bootstrap_ci(clear) == (lo, hi)
    unclear = [1.5, -1.2, 0.3, -0.8, 2.0, -1.5, 0.1, 0.9, -0.4, 0.2, -1.0, 0.6]
    assert bootstrap_ci(unclear)[0] <= 0 <= bootstrap_ci(unclear)[1]
    assert bootstrap_ci([1.0]) is None and bootstrap_ci([]) is None


def test_verdict_line_in_plain_words():
    good = {"heldout": 12, "loss_ratio": 0.7, "llr_gain": 2.3, "llr_ci": [1.9, 2.7], "improved": 12}
    assert verdict_line(good).startswith("Sounds much more like you")
    assert "12/12" in verdict_line(good) and "+2.30" in verdict_line(good)
    unclear = {**good, "llr_gain": 0.4, "llr_ci": [-0.2, 0.9]}
    assert verdict_line(unclear).startswith("Not clearly better")
    worse = {**good, "loss_ratio": 1.05}
    assert verdict_line(worse).startswith("Worse than the base model")
    assert verdict_line({"heldout": 0}).startswith("Not evaluated")
    assert all("\n" not in verdict_line(v) for v in (good, unclear, worse))
    assert not math.isnan(good["llr_gain"])
