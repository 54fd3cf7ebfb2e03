"""The evaluated gate: eval.json of an adapter, re-checked here before it can open activation.

The trainer writes eval.json (held-out loss base vs adapter, persona-vs-generic LLR gain,
samples). We do not trust its `passed` flag blindly (a remote pod could run another trainer
version): the verdict is recomputed from the numbers with the thresholds in etc/training.json
(`evaluation.maxLossDelta`, `evaluation.minLlrGain`; both 0 by default: the adapter must lower
the held-out loss of the person's own words and raise it more than the base model's own answers).
When a run has no eval.json, `mh adapter eval` runs `python -m trainer.evaluate` to make one.
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
    return not reasons, reasons


def record_eval(profile, label: str, ev: dict[str, Any], *, run: str | None,
                actor: str = "system") -> dict[str, Any]:
    """Verify and store out/adapters/<label>/eval.json; audit lora_adapter_evaluated."""
    max_delta, min_llr = thresholds(profile)
    passed, reasons = verdict(ev, max_delta, min_llr)
    record = {**ev, "passed": passed, "reasons": reasons, "trainerPassed": ev.get("passed"),
              "verifiedAt": clock.iso(), "run": run,
              "criteria": {"max_loss_delta": max_delta, "min_llr_gain": min_llr}}
    atomic_write_json(runs.dataset_dir(profile, label) / "eval.json", record)
    profile.audit.append(events.LORA_EVALUATED, level="info" if passed else "warn",
                         category="decision", actor=actor, details={
                             "date": label, "run": run, "passed": passed, "reasons": reasons,
                             "base_loss": ev.get("base_loss"), "adapter_loss": ev.get("adapter_loss"),
                             "llr_gain": ev.get("llr_gain"), "heldout": ev.get("heldout")})
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
        cmd = [trainer_python(profile), "-m", "trainer.evaluate", "--adapter", str(adapter),
               "--heldout", str(heldout), "--config", str(run.dir / "config.json"),
               "--output", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=trainer_env(), cwd=run.dir)
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
