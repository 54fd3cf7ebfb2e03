"""The standalone trainer: config, formatting/masking, progress, GGUF export and parity, evaluation.

Everything runs on tiny models built here (trainer.tiny_model); nothing is downloaded.
"""

from __future__ import annotations

import json

import pytest

from trainer import data
from trainer.config import ConfigError, load_config
from trainer.progress import STAGES, Progress, read_progress

pytestmark = [pytest.mark.train,
              pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")]

ROWS = [{"instruction": f"Tell me about {t}.", "input": "",
         "output": f"{t.capitalize()}? Biscuit sleeps through it and I sand the bench."}
        for t in ("rain", "coffee", "the shop", "music", "the garden", "books", "walking", "sleep",
                  "cooking", "the harbour", "old tools", "winter", "pine", "varnish", "radio",
                  "my sister", "mornings", "weekends", "the dog", "the lake")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    pytest.importorskip("gguf")
    import torch

    torch.set_num_threads(1)
    from trainer.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("tiny")
    corpus = [r["instruction"] + " " + r["output"] for r in ROWS]
    return {arch: build_tiny_model(root / arch, arch=arch, corpus=corpus)
            for arch in ("qwen2", "qwen3", "llama")}


def _write_input(folder, cfg, rows=ROWS, heldout=4):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "unsloth_dataset.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows[heldout:]))
    if heldout:
        (folder / "eval_dataset.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows[:heldout]))
    return folder


# ------------------------------------------------------------------------------ config / data
def test_config_defaults_types_and_unknown_keys(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"base_model": "x/y", "lora_rank": 4, "learning_rate": None,
                             "comment": "ignored", "optimizer": "paged_adamw_8bit"}))
    cfg = load_config(p)
    assert (cfg.lora_rank, cfg.alpha, cfg.learning_rate) == (4, 8.0, None)  # None: the recipe's
    assert "learning_rate" not in cfg.explicit and cfg.explicit["lora_rank"] == 4
    for bad, field in (({"lora_rank": "eight"}, "lora_rank"), ({"gguf_type": "q4"}, "gguf_type"),
                       ({"num_train_epochs": 0}, "num_train_epochs"),
                       ({"date": "../../etc"}, "date")):
        p.write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match=f"field '{field}'"):
            load_config(p)
    with pytest.raises(ConfigError, match="missing"):
        load_config(tmp_path / "nope.json")


def test_load_pairs_names_file_and_line(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"instruction": "a", "output": "b"}\n\n{"instruction": "a"}\n')
    with pytest.raises(data.DataError, match=r"d.jsonl:3: field 'output'"):
        data.load_pairs(p)
    p.write_text('{"instruction": "a", "output": "b"}\nnot json\n')
    with pytest.raises(data.DataError, match=r"d.jsonl:2: invalid JSON"):
        data.load_pairs(p)


def test_loss_only_on_response_and_end_of_turn(tiny):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny["qwen2"])
    assert data.ensure_template(tok) == "model"
    row = {"instruction": "Tell me about rain.", "input": "Be brief.", "output": "Rain is fine."}
    ex = data.encode(tok, row, "You are Greg.", 512)
    prompt = tok.decode(ex.input_ids[:ex.prompt_len])
    assert prompt.endswith("<|im_start|>assistant\n") and "Be brief." in prompt
    assert all(label == data.IGNORE for label in ex.labels[:ex.prompt_len])
    target = tok.decode([t for t in ex.labels if t != data.IGNORE])
    assert target == "Rain is fine.<|im_end|>"  # the trailing "\n" after <|im_end|> is not trained
    assert data.encode(tok, row, "You are Greg.", ex.prompt_len) is None  # prompt alone: no room


def test_chatml_fallback_when_the_model_has_no_template(tiny):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny["qwen2"])
    tok.chat_template = None
    assert data.ensure_template(tok) == "chatml"
    text = data.prompt_text(tok, {"instruction": "hi", "input": ""}, "sys")
    assert text == "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_progress_lines_on_stdout_and_file(tmp_path, capsys):
    prog = Progress(tmp_path)
    prog.stage("INIT", "hello")
    prog.training(5, 10, 1.25)
    prog.done("ok")
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["stage"] for x in lines] == ["INIT", "TRAINING", "COMPLETE"]
    assert {"stage", "pct", "step", "loss", "message", "ts"} <= set(lines[1])
    assert lines[1]["pct"] == 50.5 and lines[1]["loss"] == 1.25 and lines[2]["status"] == "done"
    with open(tmp_path / "progress.ndjson", "a") as fh:
        fh.write('{"stage": "TRAI')  # a torn last line (writer killed mid-write)
    assert [x["stage"] for x in read_progress(tmp_path / "progress.ndjson")] == \
        ["INIT", "TRAINING", "COMPLETE"]
    with pytest.raises(ValueError):
        prog.stage("WARMUP")


# ------------------------------------------------------------------------------ GGUF export
@pytest.mark.parametrize("arch", ["qwen2", "qwen3", "llama"])
def test_gguf_export_reads_back_and_matches_llama_cpp(tiny, tmp_path, arch):
    import gguf

    from trainer.gguf_export import export_gguf, validate_gguf

    out = tmp_path / f"{arch}.gguf"
    summary = export_gguf(tiny[arch], out, ftype="f32")
    info = validate_gguf(out, {"arch": arch, "tensors": summary["tensors"]})
    assert info["control_tokens"] == 3 and info["chat_template"] and info["pre"] == "qwen2"
    reader = gguf.GGUFReader(str(out))
    types = reader.get_field("tokenizer.ggml.token_type").contents()
    tokens = reader.get_field("tokenizer.ggml.tokens").contents()
    assert [tokens[i] for i, t in enumerate(types) if t == 3] == \
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert "<|im_start|>" in reader.get_field("tokenizer.chat_template").contents()
    if arch == "qwen3":
        assert reader.get_field("qwen3.attention.key_length").contents() == 32
    pytest.importorskip("llama_cpp")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.parity import check_parity

    tok = AutoTokenizer.from_pretrained(tiny[arch])
    model = AutoModelForCausalLM.from_pretrained(tiny[arch])
    prompts = [data.prompt_text(tok, r, None) for r in ROWS[:2]]
    res = check_parity(model, tok, out, prompts, max_new_tokens=12)
    assert res["ok"], res  # llama needs the q/k permutation: without it logits differ by ~10
    assert res["max_logit_diff"] < 1e-3


def test_bf16_weights_and_f16_output(tiny, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from trainer.gguf_export import export_gguf, validate_gguf

    src = tmp_path / "bf16"
    AutoModelForCausalLM.from_pretrained(tiny["qwen2"], dtype=torch.bfloat16).save_pretrained(src)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        (src / name).write_bytes((tiny["qwen2"] / name).read_bytes())
    summary = export_gguf(src, tmp_path / "m.gguf", ftype="f16")
    assert validate_gguf(tmp_path / "m.gguf")["tensors"] == summary["tensors"]


def test_export_refuses_what_it_cannot_convert(tiny, tmp_path):
    from trainer.gguf_export import ExportError, detect_pre, export_gguf

    src = tmp_path / "sp"
    src.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer_config.json"):
        (src / name).write_bytes((tiny["qwen2"] / name).read_bytes())
    (src / "tokenizer.json").write_text(json.dumps({"model": {"type": "Unigram", "vocab": []}}))
    with pytest.raises(ExportError, match="only byte-level BPE"):
        export_gguf(src, tmp_path / "x.gguf")
    cfg = json.loads((src / "config.json").read_text())
    cfg.update(architectures=["GPT2LMHeadModel"], model_type="gpt2")
    (src / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ExportError, match="unsupported architecture"):
        export_gguf(src, tmp_path / "x.gguf")
    smollm = {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, {"type": "ByteLevel"}]}}
    assert detect_pre(smollm, "llama") == "smollm"
    assert detect_pre({"pre_tokenizer": {"type": "ByteLevel"}}, "llama") == "gpt2"


# ------------------------------------------------------------------------------ training / eval
def test_an_untrained_adapter_fails_evaluation(tiny):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.config import TrainerConfig
    from trainer.evaluate import evaluate
    from trainer.train_peft import add_lora

    tok = AutoTokenizer.from_pretrained(tiny["qwen2"])
    model = add_lora(AutoModelForCausalLM.from_pretrained(tiny["qwen2"]), TrainerConfig())
    cfg = TrainerConfig(eval_max_new_tokens=6, eval_samples=1, max_seq_length=128)
    ev = evaluate(model, tok, ROWS[:4], cfg, pad_id=tok.pad_token_id)
    assert ev["heldout"] == 4 and abs(ev["loss_delta"]) < 1e-6 and abs(ev["llr_gain"]) < 1e-6
    assert ev["passed"] is False and ev["reasons"]  # LoRA B starts at 0: the adapter is the base


def test_generic_answers_are_cached_and_reused(tiny, tmp_path, monkeypatch):
    """The base model's generic answers are generated once per dataset: a second evaluation
    takes them from the cache file (a planted answer proves where they came from)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer import evaluate as ev_mod
    from trainer.config import TrainerConfig
    from trainer.train_peft import add_lora

    tok = AutoTokenizer.from_pretrained(tiny["qwen2"])
    model = add_lora(AutoModelForCausalLM.from_pretrained(tiny["qwen2"]), TrainerConfig(lora_rank=4))
    cfg = TrainerConfig(eval_max_new_tokens=6, eval_samples=2, max_seq_length=128,
                        base_model=str(tiny["qwen2"]))
    path = tmp_path / "generic_answers.json"
    calls = []
    real = ev_mod.greedy_batch
    monkeypatch.setattr(ev_mod, "greedy_batch",
                        lambda m, t, prompts, n, **kw: calls.append(len(prompts)) or real(m, t, prompts, n))
    cache = ev_mod.GenericCache(path, cfg.base_model, cfg.eval_max_new_tokens)
    first = ev_mod.evaluate(model, tok, ROWS[:4], cfg, pad_id=tok.pad_token_id, cache=cache)
    assert calls == [4, 2] and first["generic_cache"]["reused"] == 0  # generic, then samples
    stored = json.loads(path.read_text())["entries"]
    assert len(stored) == 4
    key = cache.key(data.prompt_text(tok, ROWS[0], cfg.system_prompt))
    stored[key] = "PLANTED generic answer about the weather"
    path.write_text(json.dumps({"version": 1, "entries": stored}))
    calls.clear()
    again = ev_mod.GenericCache(path, cfg.base_model, cfg.eval_max_new_tokens)
    second = ev_mod.evaluate(model, tok, ROWS[:4], cfg, pad_id=tok.pad_token_id, cache=again)
    assert calls == [2]  # only the adapter's samples were generated
    assert second["generic_cache"]["reused"] == 4
    assert second["samples"][0]["base"] == "PLANTED generic answer about the weather"
    other = ev_mod.GenericCache(path, cfg.base_model, cfg.eval_max_new_tokens + 1)
    assert other.key("x") != again.key("x")  # another answer length is another cache entry
    for field in ("loss_ratio", "llr_ci", "improved", "per_prompt", "verdict"):
        assert field in second


def test_trainer_chooses_what_config_json_leaves_open(tiny, tmp_path, capsys):
    """No hyper-parameters in config.json: the recipe picks them from the data and says why;
    the one key that is set (learning_rate) is used exactly."""
    from trainer.__main__ import main

    cfg = {"base_model": str(tiny["qwen2"]), "learning_rate": 0.004, "max_seq_length": 128,
           "gguf_name": "greg", "date": "2025-10-19", "gguf_type": "f32",
           "eval_max_new_tokens": 4, "eval_samples": 1, "threads": 1}
    inp = _write_input(tmp_path / "in", cfg)
    out = tmp_path / "out"
    assert main(["--input", str(inp), "--output", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    recipe = result["recipe"]
    assert recipe["explicit"] == ["learning_rate"]
    assert recipe["values"]["learning_rate"] == 0.004
    assert recipe["reasons"]["learning_rate"] == "set in config"
    assert recipe["values"]["per_device_train_batch_size"] * \
        recipe["values"]["gradient_accumulation_steps"] == 4  # 16 pairs: small updates
    assert recipe["values"]["total_steps"] >= 20 and result["steps"] <= recipe["values"]["total_steps"]
    printed = capsys.readouterr().out
    assert "recipe: batch" in printed and "gradient_accumulation_steps = 1" in printed
    assert (out / "generic_answers.json").is_file()
    assert json.loads((out / "eval.json").read_text())["verdict"]


def test_a_gguf_base_is_dequantized_once_then_loaded_from_the_copy(tiny, tmp_path, monkeypatch):
    import torch

    from trainer.config import TrainerConfig
    from trainer.gguf_export import export_gguf
    from trainer.train_peft import dense_cache_dir, load_base

    gguf_path = tmp_path / "base.gguf"
    export_gguf(tiny["llama"], gguf_path, ftype="f32")
    monkeypatch.setenv("MH_TRAINER_CACHE", str(tmp_path / "cache"))
    cfg = TrainerConfig(base_model=str(gguf_path))
    first_model, first_tok, first = load_base(cfg, "cpu")
    copy = dense_cache_dir(gguf_path)
    assert first["source"] == "local" and (copy / "model.safetensors").is_file()
    second_model, second_tok, second = load_base(cfg, "cpu")
    assert second["source"] == "local (dequantized copy)"
    text = "<|im_start|>user\nTell me about rain 2025.<|im_end|>\n"
    ids = first_tok(text, add_special_tokens=False)["input_ids"]
    assert second_tok(text, add_special_tokens=False)["input_ids"] == ids
    with torch.no_grad():
        a = first_model(torch.tensor([ids])).logits
        b = second_model(torch.tensor([ids])).logits
    assert torch.allclose(a, b, atol=1e-5)
    monkeypatch.setenv("MH_TRAINER_CACHE", "off")
    assert dense_cache_dir(gguf_path) is None


def test_trainer_cli_end_to_end_in_process(tiny, tmp_path, capsys):
    from trainer.__main__ import main

    cfg = {"base_model": str(tiny["qwen2"]), "per_device_train_batch_size": 8,
           "gradient_accumulation_steps": 1, "learning_rate": 0.005, "max_steps": 40,
           "eval_every_steps": 4, "max_seq_length": 128, "gguf_name": "greg",
           "date": "2025-10-19", "gguf_type": "f16", "eval_max_new_tokens": 8, "eval_samples": 1,
           "threads": 1}
    inp = _write_input(tmp_path / "in", cfg)
    out = tmp_path / "out"
    assert main(["--input", str(inp), "--output", str(out)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    stages = list(dict.fromkeys(x["stage"] for x in lines))
    assert stages == list(STAGES)
    assert lines[-1]["status"] == "done"
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "greg-2025-10-19.gguf").stat().st_size > 0 and not (out / "merged").exists()
    ev = json.loads((out / "eval.json").read_text())
    assert ev["passed"] and ev["adapter_loss"] < ev["base_loss"] and ev["llr_gain"] > 0
    assert ev["heldout"] == 4 and ev["training"]["best_step"] > 0
    result = json.loads((out / "result.json").read_text())
    assert result["success"] and result["backend"] == "peft"


def test_trainer_exits_non_zero_and_reports_the_stage(tmp_path, capsys):
    from trainer.__main__ import main

    inp = _write_input(tmp_path / "in", {"base_model": str(tmp_path / "missing-model")})
    rc = main(["--input", str(inp), "--output", str(tmp_path / "out")])
    assert rc == 1
    last = read_progress(tmp_path / "out" / "progress.ndjson")[-1]
    assert last["status"] == "failed" and last["stage"] == "MODEL_DOWNLOAD"
    assert not list((tmp_path / "out").glob("*.gguf"))
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["success"] is False
    (inp / "config.json").write_text('{"lora_rank": "x"}')
    assert main(["--input", str(inp), "--output", str(tmp_path / "out2")]) == 2
    assert "field 'lora_rank'" in capsys.readouterr().err


def test_unsloth_is_not_used_without_cuda():
    pytest.importorskip("torch")
    import torch

    from trainer.train_unsloth import available

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    ok, why = available()
    assert ok is False and why == "no CUDA device"


def test_trainer_package_stands_alone(tmp_path):
    """On a pod only trainer/ is uploaded: it must import without metahuman_core (or torch)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parent.parent / "trainer"
    shutil.copytree(src, tmp_path / "trainer", ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import sys, trainer.__main__, trainer.gguf_export, trainer.evaluate, trainer.progress;"
            "bad = [m for m in sys.modules if m.startswith(('metahuman', 'torch'))];"
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, check=False,
                          text=True, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
