"""The activation gate on a not-clearly-positive gain, and `mh train local` without the train extra.

No torch: eval.json is what the trainer writes; the gate re-checks it from the per-prompt gains.
"""

from __future__ import annotations

import json
import sys

import pytest

from metahuman_core import events
from metahuman_core.training import evaluation, gates, pipeline, runs
from tests.conftest import MH, REPO
from tests.test_training_dataset import build, persona_memories

CLEAR = [2.1, 1.8, 2.6, 2.0, 1.5, 2.4, 1.9, 2.2, 2.8, 1.7, 2.0, 2.3]
UNCLEAR = [1.5, -1.2, 0.3, -0.8, 2.0, -1.5, 0.1, 0.9, -0.4, 0.2, -1.0, 0.6]


def _eval(gains, *, ratio=0.7):
    per = [{"base_nll": 4.0, "adapter_nll": 4.0 * ratio, "llr": g} for g in gains]
    return {"heldout": len(gains), "base_loss": 4.0, "adapter_loss": 4.0 * ratio,
            "loss_delta": 4.0 * ratio - 4.0, "llr_gain": sum(gains) / len(gains),
            "llr_ci": [0.5, 1.0], "per_prompt": per, "improved": len(gains), "passed": True,
            "samples": [{"prompt": f"Q{i}", "reference": "mine", "base": "generic",
                         "adapter": "like me"} for i in range(3)]}


def _trained(profile, home):
    persona_memories(profile, 30)
    res = build(profile)
    gates.approve(profile, res.label)
    run = runs.create_run(profile, res.label)
    out = home / "out" / "adapters" / res.label
    (out / f"alex-{res.label}.gguf").write_bytes(b"GGUF-not-really")
    (out / "run.json").write_text(json.dumps({"run": run.label}))
    return res.label, run


def _events(profile):
    return [e for d in profile.audit.dates() for e in profile.audit.entries(d)]


def test_a_gain_whose_interval_reaches_zero_is_not_passed(profile, home, fixed_clock):
    label, run = _trained(profile, home)
    # the trainer said "passed" and claims a positive interval: the core recomputes it
    rec = evaluation.record_eval(profile, label, _eval(UNCLEAR), run=run.label)
    assert rec["passed"] is False and rec["trainerPassed"] is True
    assert rec["llr_ci"][0] <= 0 < rec["llr_ci"][1]
    assert any("not clearly positive" in r for r in rec["reasons"])
    assert rec["verdict"].startswith("Not clearly better")
    with pytest.raises(gates.GateError, match="not clearly positive"):
        gates.require_eval_passed(profile, label)
    ok = evaluation.record_eval(profile, label, _eval(CLEAR), run=run.label)
    assert ok["passed"] and ok["llr_ci"][0] > 0 and ok["verdict"].startswith("Sounds")
    assert gates.require_eval_passed(profile, label)["passed"]


def test_an_old_eval_without_an_interval_no_longer_opens_the_gate(profile, home, fixed_clock):
    label, _ = _trained(profile, home)
    old = {"heldout": 12, "base_loss": 4.0, "adapter_loss": 3.0, "loss_delta": -1.0,
           "llr_gain": 1.2, "passed": True, "reasons": []}
    (home / "out" / "adapters" / label / "eval.json").write_text(json.dumps(old))
    with pytest.raises(gates.GateError, match="no confidence interval"):
        gates.require_eval_passed(profile, label)


def test_auto_activation_refuses_an_unclear_adapter_and_audits_it(profile, home, fixed_clock):
    label, run = _trained(profile, home)
    evaluation.record_eval(profile, label, _eval(UNCLEAR), run=run.label)
    profile.config.update("auto-approval", {"enabled": True, "dryRun": False,
                                            "autoActivate": True})
    res = pipeline.activate_if_allowed(profile, label)
    assert res["activated"] is False and "not clearly positive" in res["reason"]
    assert not profile.home.active_adapter.exists()
    skipped = [e for e in _events(profile) if e["event"] == events.LORA_PIPELINE_SKIPPED]
    assert skipped and skipped[-1]["details"]["step"] == "activation"


def test_cli_eval_prints_the_verdict_numbers_and_three_samples(profile, home, mh, fixed_clock):
    label, run = _trained(profile, home)
    (run.dir / "eval.json").write_text(json.dumps(_eval(CLEAR)))
    shown = mh("adapter", "eval", label)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "Sounds much more like you" in out and "70% of the base" in out
    assert "95% interval" in out and "better on 12/12" in out
    assert out.count("adapter: like me") == 3 and out.count("yours:   mine") == 3
    (run.dir / "eval.json").write_text(json.dumps(_eval(UNCLEAR)))
    unclear = mh("adapter", "eval", label)
    assert unclear.returncode == 1 and "Not clearly better" in unclear.stdout
    refused = mh("adapter", "activate", label)
    assert refused.returncode == 1 and "not clearly positive" in refused.stderr
    assert "--force" in refused.stderr


def test_train_local_without_torch_says_how_to_install_and_records_nothing(home, profile,
                                                                            fixed_clock):
    """issue 17: one clear line with the install command, no failed run, no traceback."""
    import subprocess

    persona_memories(profile, 30)
    res = build(profile)
    gates.approve(profile, res.label)
    code = ("import sys; sys.modules['torch'] = None; sys.argv = ['mh', 'train', 'local', "
            f"'--date', {res.label!r}]; from metahuman_tui.cli.main import run; run()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=60, check=False,
                          env={**__import__("os").environ, "MH_HOME": str(home)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert "train" in proc.stderr and "pip install" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2
    assert not profile.home.runs.exists() or not list(profile.home.runs.iterdir())
    assert events.LORA_TRAINING_FAILED not in [e["event"] for e in _events(profile)]
    assert MH  # the same entry point the mh fixture runs


def test_train_status_says_what_the_recipe_chose_and_why(profile, home, mh, fixed_clock):
    _, run = _trained(profile, home)
    run.update(status="completed", verdict="Sounds much more like you: test.",
               recipe={"values": {"learning_rate": 0.001, "gradient_accumulation_steps": 16},
                       "reasons": {"learning_rate": "LoRA on a 135M model",
                                   "gradient_accumulation_steps": "set in config"},
                       "explicit": ["gradient_accumulation_steps"]})
    shown = mh("train", "status", run.label)
    assert shown.returncode == 0, shown.stderr
    assert "recipe learning_rate = 0.001: LoRA on a 135M model" in shown.stdout
    assert "recipe gradient_accumulation_steps = 16: set in config" in shown.stdout
    assert "verdict: Sounds much more like you" in shown.stdout


def test_a_remote_run_gets_the_persons_prompt_and_the_datasets_generic_answers(profile, home,
                                                                             fixed_clock):
    """What is uploaded to a pod: the system prompt without the template's "Alex", and the
    generic answers already computed for this dataset (so the pod does not redo them)."""
    from metahuman_core.training import remote_state
    from metahuman_core.training.run_inputs import GENERIC_FILE, keep_generic_answers

    persona_memories(profile, 30)
    res = build(profile)
    gates.approve(profile, res.label)
    cache = {"version": 1, "entries": {"k": "a generic answer"}}
    (runs.dataset_dir(profile, res.label) / GENERIC_FILE).write_text(json.dumps(cache))
    run, resumed = remote_state.open_run(profile, res.label)
    assert not resumed and run.summary()["mode"] == "remote"
    cfg = json.loads((run.dir / "config.json").read_text())
    assert "Alex" not in cfg["system_prompt"]
    assert cfg["learning_rate"] is None and cfg["gradient_accumulation_steps"] is None
    names = {p.name for p in remote_state.inputs(run)}
    assert {runs.DATASET_FILE, runs.EVAL_FILE, "config.json", GENERIC_FILE} <= names
    grown = {"version": 1, "entries": {"k": "a generic answer", "k2": "another"}}
    (run.dir / GENERIC_FILE).write_text(json.dumps(grown))  # what came back from the pod
    assert keep_generic_answers(profile, run)
    assert json.loads((runs.dataset_dir(profile, res.label) / GENERIC_FILE).read_text()) == grown
