"""The evaluated gate: eval.json of an adapter, re-checked here before it can open activation.

The trainer writes eval.json (held-out loss base vs adapter, persona-vs-generic LLR gain,
samples). We do not trust its `passed` flag blindly (a remote pod could run another trainer
version): the verdict is recomputed from the numbers with the thresholds in etc/training.json
(`evaluation.maxLossDelta`, `evaluation.minLlrGain`; both 0 by default: the adapter must lower
the held-out loss of the person's own words and raise it more than the base model's own answers).
When a run has no eval.json, `mh adapter eval` runs `python -m trainer.evaluate` to make one.
The gain must also be *clearly* positive (issue 21): the 95% bootstrap interval over the held-out
prompts, recomputed here from the per-prompt gains, must lie above 0, else activation (by hand or
autoActivate) is refused unless forced.
"""

from __future__ import annotations

import json
import math
import subprocess
from typing import Any

from .. import clock, events
from ..errors import MHError
from ..storage import atomic_write_json, read_json
from . import runs
from .gates import GateError


def thresholds(profile) -> tuple[float, float]:
    ev = profile.config.get("training").evaluation  # validated with the file
    return ev.maxLossDelta, ev.minLlrGain


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None


def gain_interval(ev: dict[str, Any]) -> tuple[float, float] | None:
    """The 95% interval of the LLR gain, from the per-prompt gains when eval.json has them."""
    from trainer.stats import bootstrap_ci

    per = ev.get("per_prompt")
    if isinstance(per, list):
        values = [_num(p.get("llr")) for p in per if isinstance(p, dict)]
        return bootstrap_ci([v for v in values if v is not None])
    ci = ev.get("llr_ci")
    if isinstance(ci, list) and len(ci) == 2 and all(_num(x) is not None for x in ci):
        return float(ci[0]), float(ci[1])
    return None


def verdict(ev: dict[str, Any], max_delta: float, min_llr: float) -> tuple[bool, list[str]]:
    reasons = []
    delta, gain = _num(ev.get("loss_delta")), _num(ev.get("llr_gain"))
    if not ev.get("heldout"):
        reasons.append("no held-out pairs were evaluated")
    if delta is None:
        reasons.append("no held-out loss delta")
    elif not delta < max_delta:
        reasons.append(f"held-out loss delta {delta:+.4f} is not below {max_delta:+.4f}")
    if gain is None:
        reasons.append("no persona-vs-generic LLR gain")
    elif not gain > min_llr:
        reasons.append(f"LLR gain {gain:+.4f} is not above {min_llr:+.4f}")
    if gain is not None:
        ci = gain_interval(ev)
        if ci is None:
            reasons.append("the gain has no confidence interval (evaluate again: mh adapter eval "
                           "DATE --rerun)")
        elif not ci[0] > 0:
            reasons.append(f"the gain is not clearly positive: its 95% interval "
                           f"{ci[0]:+.3f}…{ci[1]:+.3f} reaches 0")
    return not reasons, reasons


def record_eval(profile, label: str, ev: dict[str, Any], *, run: str | None,
                actor: str = "system") -> dict[str, Any]:
    """Verify and store out/adapters/<label>/eval.json; audit lora_adapter_evaluated."""
    from trainer.stats import verdict_line

    max_delta, min_llr = thresholds(profile)
    passed, reasons = verdict(ev, max_delta, min_llr)
    ci = gain_interval(ev)
    record = {**ev, "passed": passed, "reasons": reasons, "trainerPassed": ev.get("passed"),
              "verifiedAt": clock.iso(), "run": run, "llr_ci": list(ci) if ci else None,
              "criteria": {"max_loss_delta": max_delta, "min_llr_gain": min_llr,
                           "ci_lower_above": 0.0}}
    base, adapter = _num(ev.get("base_loss")), _num(ev.get("adapter_loss"))
    if record.get("loss_ratio") is None and base and adapter is not None:
        record["loss_ratio"] = adapter / base
    record["verdict"] = verdict_line(record)
    if not passed and record["verdict"].startswith("Sounds"):  # a stricter threshold of theirs
        record["verdict"] = f"Below the thresholds in etc/training.json: {reasons[0]}."
    atomic_write_json(runs.dataset_dir(profile, label) / "eval.json", record)
    profile.audit.append(events.LORA_EVALUATED, level="info" if passed else "warn",
                         category="decision", actor=actor, details={
                             "date": label, "run": run, "passed": passed, "reasons": reasons,
                             "base_loss": ev.get("base_loss"), "adapter_loss": ev.get("adapter_loss"),
                             "llr_gain": ev.get("llr_gain"), "llr_ci": record["llr_ci"],
                             "heldout": ev.get("heldout")})
    return record


def evaluate(profile, label: str, *, actor: str = "cli", rerun: bool = False,
             timeout: float = 3600) -> dict[str, Any]:
    """`mh adapter eval DATE`: verify the run's eval.json, or compute one with the trainer."""
    state_dir = runs.dataset_dir(profile, label)
    run = runs.published_run(profile, label)
    if run is None:
        raise GateError(f"dataset {label} has no trained adapter to evaluate",
                        hint=f"mh adapter approve {label}, then mh train local --date {label}")
    ev_path = run.dir / "eval.json"
    if rerun or not ev_path.is_file():
        adapter = state_dir / "adapter"
        heldout = run.dir / runs.EVAL_FILE
        if not (adapter / "adapter_config.json").is_file():
            raise GateError(f"{adapter}: no adapter files to evaluate")
        if not heldout.is_file():
            raise GateError(f"{heldout}: the run has no held-out pairs; it cannot be evaluated")
        from .local import trainer_env, trainer_python

        final = ev_path if not ev_path.exists() else \
            run.dir / f"eval-{clock.now().strftime('%Y%m%d-%H%M%S')}.json"
        out = final.with_name(f".{final.name}.tmp")
        from .run_inputs import GENERIC_FILE

        cmd = [trainer_python(profile), "-m", "trainer.evaluate", "--adapter", str(adapter),
               "--heldout", str(heldout), "--config", str(run.dir / "config.json"),
               "--generic-cache", str(state_dir / GENERIC_FILE), "--output", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=trainer_env(), cwd=run.dir, check=False)
        if proc.returncode != 0 or not out.is_file():
            raise MHError(f"evaluation of {label} failed (exit {proc.returncode}): "
                          f"{(proc.stderr or proc.stdout).strip()[-600:]}")
        out.replace(final)
        ev_path = final
    try:
        ev = read_json(ev_path)
    except (OSError, json.JSONDecodeError, MHError) as exc:
        raise GateError(f"{ev_path}: unreadable evaluation: {exc}") from None
    return record_eval(profile, label, ev, run=run.label, actor=actor)
