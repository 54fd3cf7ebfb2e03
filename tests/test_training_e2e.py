"""Persona training end to end on CPU, and the seed's three emergency controls.

memories → `mh adapter build` → approve → `mh train local` (a real detached trainer on a tiny
model built here; nothing downloaded) → adapter + GGUF + run-summary + progress through COMPLETE
→ GGUFReader → llama.cpp greedy parity (when installed) → `mh adapter eval` → activate against
the fake Ollama server → rollback by deleting the file → deactivate.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from metahuman_core.active_model import active_model
from metahuman_core.memory import MemoryStore
from metahuman_core.training import gates, pipeline
from tests.conftest import MH, REPO
from tests.fakes.fake_ollama import FakeOllama

DATE = "2025-10-19"
T0 = datetime(2025, 10, 1, 8, 0, tzinfo=timezone(timedelta(hours=2)))
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")
TOPICS = ["rain", "coffee", "the shop", "music", "my sister", "the garden", "books", "walking",
          "sleep", "cooking", "the harbour", "old tools", "winter", "pine", "varnish", "the radio"]
TEMPLATES = ["Spent the morning on {t}. Biscuit slept by the heater.",
             "Thinking about {t} again; the bench needs sanding first.",
             "Told my sister about {t}. Biscuit barked at the door."]


def write_memories(profile, n=36):
    store = MemoryStore(profile)
    texts = []
    for i in range(n):
        t = TOPICS[i % len(TOPICS)]
        text = TEMPLATES[i % 3].format(t=t)
        if i >= len(TOPICS) * 3:
            text += f" (again, {i})"
        rec = store.prepare(text, type="conversation" if i % 3 == 2 else "observation",
                            tags=[t], timestamp=T0 + timedelta(hours=i))
        store.write_new(rec, durable=False)
        texts.append(text)
    return texts


def audit_events(profile):
    out = []
    for f in sorted(profile.home.audit_dir.glob("*.ndjson")):
        out += [json.loads(line)["event"] for line in f.read_text().splitlines() if line]
    return out


@pytest.mark.slow
@pytest.mark.train
def test_persona_training_end_to_end(home, profile, mh, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    gguf = pytest.importorskip("gguf")
    from trainer.tiny_model import build_tiny_model

    texts = write_memories(profile)
    base = build_tiny_model(tmp_path / "tiny-base", corpus=texts + ["Who are you? I'm Alex."])
    profile.config.update("training", {
        "base_model": "/nonexistent/overridden-on-the-command-line", "lora_rank": 8,
        "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1,
        "learning_rate": 0.005, "max_seq_length": 160,
        "trainer": {"max_steps": 48, "eval_every_steps": 4, "gguf_type": "f32", "threads": 1,
                    "eval_max_new_tokens": 12, "eval_samples": 2}})

    # dataset → review → approve (training is refused before approval)
    built = mh("adapter", "build", DATE, "--json")
    assert built.returncode == 0, built.stderr
    info = json.loads(built.stdout)
    assert info["label"] == DATE and info["heldout"] >= 3
    refused = mh("train", "local", str(base), "--date", DATE)
    assert refused.returncode == 1 and "not approved" in refused.stderr
    assert mh("adapter", "approve", DATE, "--notes", "sounds like me").returncode == 0

    # `mh train local BASE` in its own session; "closing the terminal" (SIGHUP to the whole
    # process group) must not stop the detached training
    env = {**os.environ, "MH_HOME": str(home), "PYTHONPATH": str(REPO)}
    watcher = subprocess.Popen([*MH, "train", "local", str(base), "--date", DATE], env=env,
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    first = watcher.stdout.readline()
    assert first.startswith(f"run: {DATE}"), first + watcher.stderr.read()
    os.killpg(watcher.pid, signal.SIGHUP)
    watcher.wait(timeout=30)
    followed = mh("train", "status", DATE, "--follow", timeout=1200)  # 2 shared cores
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert "COMPLETE" in followed.stdout and "TRAINING" in followed.stdout

    # the directory contract
    run_dir = home / "metahuman-runs" / DATE
    out_dir = home / "out" / "adapters" / DATE
    for name in ("unsloth_dataset.jsonl", "config.json", "run-summary.json", "progress.ndjson"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "run-summary.json").read_text())
    assert summary["training_success"] is True and summary["status"] == "completed"
    assert summary["base_model"] == str(base) and summary["samples_used"] == info["train"]
    recipe = summary["recipe"]  # what etc/training.json set is used exactly; the rest is chosen
    assert {"per_device_train_batch_size", "gradient_accumulation_steps", "learning_rate",
            "max_steps", "eval_every_steps"} <= set(recipe["explicit"])
    assert recipe["values"]["learning_rate"] == 0.005 and recipe["values"]["total_steps"] == 48
    assert recipe["reasons"]["lr_scheduler"] != "set in config" and summary["verdict"]
    stages = [json.loads(x)["stage"] for x in (run_dir / "progress.ndjson").read_text().splitlines()]
    assert list(dict.fromkeys(stages)) == ["INIT", "DATASET", "MODEL_DOWNLOAD", "PREPROCESSING",
                                           "LORA_SETUP", "TRAINING", "SAVE_ADAPTER", "GGUF_MERGE",
                                           "COMPLETE"]
    assert (out_dir / f"{DATE}.jsonl").is_file()
    assert (out_dir / "adapter" / "adapter_model.safetensors").is_file()
    assert (out_dir / "adapter" / "adapter_config.json").is_file()
    gguf_path = out_dir / f"persona-{DATE}.gguf"
    assert gguf_path.is_file()

    # the GGUF, read back independently
    reader = gguf.GGUFReader(str(gguf_path))
    assert reader.get_field("general.architecture").contents() == "qwen2"
    assert "<|im_start|>" in reader.get_field("tokenizer.chat_template").contents()
    types = reader.get_field("tokenizer.ggml.token_type").contents()
    assert sum(1 for t in types if t == 3) == 3
    assert not any("lora" in t.name for t in reader.tensors)

    cfg = json.loads((run_dir / "config.json").read_text())
    if _has_llama_cpp():
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from trainer import data
        from trainer.parity import check_parity

        torch.set_num_threads(1)
        tok = AutoTokenizer.from_pretrained(base)
        merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base),
                                           out_dir / "adapter").merge_and_unload()
        prompts = [data.prompt_text(tok, {"instruction": q, "input": ""}, cfg["system_prompt"])
                   for q in ("Tell me about rain.", "What's on your mind?", "Who are you?")]
        parity = check_parity(merged, tok, gguf_path, prompts, max_new_tokens=16)
        assert parity["ok"] and parity["identical"] >= 2, parity

    # evaluation: the trainer's eval.json was verified by the core when the run finished…
    state = json.loads(mh("adapter", "list", "--json").stdout)[0]
    assert state["status"] == "evaluated" and state["evalPassed"] is True
    assert state["eval"]["run"] == DATE and state["eval"]["trainerPassed"] is True
    # …and `mh adapter eval --rerun` recomputes it with the trainer in a subprocess
    ev_run = mh("adapter", "eval", DATE, "--rerun", "--json", timeout=180)
    assert ev_run.returncode == 0, ev_run.stdout + ev_run.stderr
    ev = json.loads(ev_run.stdout)
    assert ev["passed"] and ev["adapter_loss"] < ev["base_loss"] and ev["llr_gain"] > 0
    assert ev["heldout"] == info["heldout"] and (run_dir / "eval.json").is_file()
    assert len(list(run_dir.glob("eval-*.json"))) == 1  # the run's own eval.json is kept
    assert json.loads((out_dir / "eval.json").read_text())["passed"] is True

    # activation through Ollama's blob + create API (the fake server records it)
    with FakeOllama(models=["qwen3:1.7b"]) as fake:
        profile.config.set_value("agent.host", fake.url)
        act = mh("adapter", "activate", DATE, "--json")
        assert act.returncode == 0, act.stderr
        rec = json.loads(act.stdout)
        assert rec["model"] == f"persona-{DATE}" and rec["evalPassed"] and not rec["forced"]
        created = fake.created[-1]
        digest = created["files"][gguf_path.name]
        assert fake.blobs[digest] == gguf_path.read_bytes()
        assert "<|im_start|>" in created["template"] and "<|im_end|>" in created["parameters"]["stop"]
        assert created["system"] == cfg["system_prompt"]
        assert "Alex" not in created["system"]  # the untouched template persona names nobody
        listed = json.loads(mh("adapter", "list", "--json").stdout)
        assert listed[0]["status"] == "active"
        assert active_model(profile)["model"] == f"persona-{DATE}"

        # emergency control 1: rm active-adapter.json → the base model at the very next call
        profile.home.active_adapter.unlink()
        now = active_model(profile)
        assert now["source"] == "base" and now["model"] == profile.config.get("agent").model

        assert mh("adapter", "activate", DATE).returncode == 0
        assert active_model(profile)["source"] == "adapter"
        off = mh("adapter", "deactivate")
        assert off.returncode == 0 and "base model" in off.stdout
        assert not profile.home.active_adapter.exists()
        assert active_model(profile)["source"] == "base"

    seen = audit_events(profile)
    for event in ("lora_dataset_built", "lora_dataset_approved", "lora_training_started",
                  "lora_training_completed", "lora_adapter_evaluated", "lora_adapter_activated",
                  "lora_adapter_deactivated"):
        assert event in seen, event


def _has_llama_cpp() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.train
def test_activation_is_refused_unless_evaluation_passed(home, profile, mh, tmp_path):
    """A trained adapter whose eval failed cannot be activated; --force works and is audited."""
    pytest.importorskip("gguf")
    from trainer.gguf_export import export_gguf
    from trainer.tiny_model import build_tiny_model

    write_memories(profile, 12)
    assert mh("adapter", "build", DATE).returncode == 0
    assert mh("adapter", "approve", DATE).returncode == 0
    out_dir = home / "out" / "adapters" / DATE
    export_gguf(build_tiny_model(tmp_path / "b"), out_dir / f"persona-{DATE}.gguf", ftype="f32")
    (out_dir / "eval.json").write_text(json.dumps({"passed": False, "reasons": ["loss went up"]}))
    with FakeOllama() as fake:
        profile.config.set_value("agent.host", fake.url)
        refused = mh("adapter", "activate", DATE)
        assert refused.returncode == 1 and "failed evaluation" in refused.stderr
        assert not fake.created and not profile.home.active_adapter.exists()
        forced = mh("adapter", "activate", DATE, "--force", "--json")
        assert forced.returncode == 0, forced.stderr
        assert json.loads(forced.stdout)["forced"] is True and fake.created
    assert "lora_adapter_activation_forced" in audit_events(profile)


# ------------------------------------------------------------------------------ emergency controls
def test_auto_approval_disabled_stops_automation(profile, fixed_clock):
    write_memories(profile, 36)
    profile.config.update("sleep", {"adapters": {"prompt": True, "lora": True}})
    profile.config.update("auto-approval", {"enabled": False, "dryRun": False, "autoTrain": True})
    res = pipeline.run_pipeline(profile, actor="sleep-service")
    assert res["ran"] and res["approval"]["decision"] == "disabled"
    assert "training" not in res
    state = gates.dataset_state(profile, res["date"])
    assert state["status"] == "pending" and not state["approved"]
    assert not (profile.home.runs).exists()
    seen = audit_events(profile)
    assert "lora_dataset_auto_approved" not in seen and "lora_pipeline_skipped" in seen
    assert pipeline.activate_if_allowed(profile, res["date"]) == {
        "activated": False, "reason": "etc/auto-approval.json enabled is false"}
    # the same data with automation on (dry run) is scored: proof the switch is what stopped it
    profile.config.update("auto-approval", {"enabled": True, "dryRun": True})
    res = pipeline.run_pipeline(profile, actor="sleep-service")
    assert res["approval"]["decision"] == "approved" and res["approval"]["dryRun"]


def test_sleep_lora_false_stops_dataset_generation(profile, fixed_clock):
    write_memories(profile, 6)
    profile.config.update("sleep", {"adapters": {"prompt": True, "lora": False}})
    allowed, why = gates.lora_pipeline_allowed(profile)
    assert allowed is False and "adapters.lora" in why
    res = pipeline.run_pipeline(profile)
    assert res == {"ran": False, "reason": why}
    assert not list(profile.home.adapters.glob("20*"))
    assert "lora_pipeline_skipped" in audit_events(profile)
    profile.config.update("sleep", {"adapters": {"prompt": True, "lora": True}})
    assert gates.lora_pipeline_allowed(profile)[0] is True


@pytest.mark.train
def test_bin_mh_train_local_honours_its_model_argument_and_reports_failure(home, profile, mh):
    """bin/mh-train-local MODEL → `mh train local MODEL`; a trainer that fails is reported as
    failed (exit 1, lora_training_failed), never as success, and the dataset stays untrained."""
    import sys

    pytest.importorskip("torch")
    write_memories(profile, 12)
    assert mh("adapter", "build", DATE).returncode == 0
    assert mh("adapter", "approve", DATE).returncode == 0
    env = {**os.environ, "MH_HOME": str(home), "MH_VENV": sys.prefix, "PYTHONPATH": str(REPO),
           "MH_TRAIN_PYTHON": "/bin/false"}  # a "trainer" that dies at once
    proc = subprocess.run([str(REPO / "bin" / "mh-train-local"), "/models/my-base", "--date", DATE],
                          env=env, capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "failed" in proc.stderr and "no GGUF" in proc.stderr
    summary = json.loads((home / "metahuman-runs" / DATE / "run-summary.json").read_text())
    assert summary["base_model"] == "/models/my-base" and summary["training_success"] is False
    assert json.loads((home / "metahuman-runs" / DATE / "config.json").read_text())["base_model"] \
        == "/models/my-base"
    assert gates.dataset_state(profile, DATE)["status"] == "approved"
    assert "lora_training_failed" in audit_events(profile)


def test_train_stop_cancels_a_detached_run(home, profile, mh, tmp_path):
    """`mh train local --detach` returns at once; `mh train stop` ends the run as cancelled."""
    import time

    write_memories(profile, 12)
    assert mh("adapter", "build", DATE).returncode == 0
    assert mh("adapter", "approve", DATE).returncode == 0
    slow = tmp_path / "slow-trainer"
    slow.write_text("#!/bin/sh\nexec sleep 60\n")  # stands in for a long training run
    slow.chmod(0o755)
    env = {"MH_TRAIN_PYTHON": str(slow)}
    started = mh("train", "local", "--date", DATE, "--detach", env=env)
    assert started.returncode == 0 and "mh train status" in started.stdout, started.stderr
    deadline = time.monotonic() + 30
    while json.loads(mh("train", "status", DATE, "--json").stdout)["status"] != "running":
        assert time.monotonic() < deadline, "the supervisor never started"
        time.sleep(0.2)
    busy = mh("train", "local", "--date", DATE, env=env)
    assert busy.returncode == 1 and "already in progress" in busy.stderr
    assert not (home / "metahuman-runs" / f"{DATE}-2").exists()
    assert mh("train", "stop", DATE).returncode == 0
    done = mh("train", "status", DATE, "--follow", "--json", timeout=60)
    assert done.returncode == 1
    final = json.loads(done.stdout)
    assert final["status"] == "cancelled" and final["training_success"] is False
    assert gates.dataset_state(profile, DATE)["status"] == "approved"
