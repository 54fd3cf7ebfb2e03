"""Small statistics for the evaluation, pure Python (the core re-checks eval.json with them).

Why a bootstrap over prompts: with 12–200 held-out prompts a mean gain alone hides whether it
comes from every prompt or from two lucky ones; the percentile interval of the mean, resampled
over prompts with a fixed seed, says whether the gain is *clearly* positive (its lower bound
above 0), which is what the activation gate asks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

RESAMPLES = 2000
LEVEL = 0.95


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def bootstrap_ci(values: Sequence[float], *, resamples: int = RESAMPLES, level: float = LEVEL,
                 seed: int = 0) -> tuple[float, float] | None:
    """Percentile interval of the mean of `values` (None with fewer than 2 values)."""
    vals = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if len(vals) < 2:
        return None
    rng = random.Random(seed)
    n = len(vals)
    means = sorted(sum(vals[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    lo = means[int((1 - level) / 2 * resamples)]
    hi = means[min(resamples - 1, int((1 + level) / 2 * resamples) - 1)]
    return lo, hi


def verdict_line(ev: dict[str, Any]) -> str:
    """One sentence in plain words: does the adapter sound more like the person than the base?"""
    n = ev.get("heldout") or 0
    ratio, gain, ci = ev.get("loss_ratio"), ev.get("llr_gain"), ev.get("llr_ci")
    if not n or ratio is None or gain is None:
        return "Not evaluated: there were no held-out pairs of your own words to test it on."
    improved = ev.get("improved")
    share = f" (better on {improved}/{n} prompts)" if improved is not None else ""
    interval = f", 95% interval {ci[0]:+.2f}…{ci[1]:+.2f}" if ci else ""
    if ratio >= 1 or gain <= 0:
        return (f"Worse than the base model: on {n} unseen prompts it predicts your words no "
                f"better (loss {ratio:.0%} of base{share}, gain {gain:+.2f}{interval}); "
                "do not activate it.")
    if not ci or ci[0] <= 0:
        return (f"Not clearly better than the base model: the gain {gain:+.2f} nats/token"
                f"{interval} could be zero (loss {ratio:.0%} of base{share}); add more of "
                "your own words before activating it.")
    strength = "much more" if gain >= 1.0 and ratio <= 0.9 else "somewhat more"
    return (f"Sounds {strength} like you: on {n} unseen prompts it predicts your words at "
            f"{ratio:.0%} of the base model's loss{share} and prefers your answers over generic "
            f"ones by {gain:+.2f} nats/token{interval}.")
