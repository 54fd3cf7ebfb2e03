"""`python -m trainer --input DIR --output DIR`: the whole training run, stage by stage.

Inputs (DIR defaults /workspace/input, the seed's pod contract): config.json, unsloth_dataset.jsonl
and, when the dataset builder made a held-out split, eval_dataset.jsonl. Outputs (default /output):
adapter/{adapter_model.safetensors, adapter_config.json}, eval.json, <gguf_name>-<date>.gguf,
progress.ndjson and result.json. Exit 0 only when a GGUF was written and read back; 1 on any
failure (the failing stage is reported); 2 for bad input. Never reports a step it did not do.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from . import data
from .config import ConfigError, apply_recipe, load_config
from .progress import Progress

DATASET_FILE = "unsloth_dataset.jsonl"
EVAL_FILE = "eval_dataset.jsonl"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m trainer", description="Train a persona LoRA and "
                                 "export a merged GGUF.")
    ap.add_argument("--input", default="/workspace/input", help="folder with config.json + dataset")
    ap.add_argument("--output", default="/output", help="folder for adapter/, eval.json, the GGUF")
    ap.add_argument("--base-model", help="override config.json base_model (hub id, folder or .gguf)")
    ap.add_argument("--backend", choices=["auto", "peft", "unsloth"], help="override config backend")
    ap.add_argument("--date", help="override the date in the GGUF file name")
    return ap.parse_args(argv)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    inp, out = Path(args.input), Path(args.output)
    progress.stage("INIT", f"reading {inp / 'config.json'}")
    cfg = load_config(inp / "config.json", {"base_model": args.base_model,
                                            "backend": args.backend, "date": args.date})
    backend, why = "peft", "forced by config" if cfg.backend == "peft" else ""
    if cfg.backend in ("auto", "unsloth"):
        from .train_unsloth import available

        ok, why = available()  # imports unsloth before transformers when it can
        if ok:
            backend = "unsloth"
        elif cfg.backend == "unsloth":
            raise RuntimeError(f"backend unsloth requested but not usable: {why}")
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    progress.stage("INIT", f"backend {backend} ({why})", data={"backend": backend,
                                                               "torch": torch.__version__})

    progress.stage("DATASET", f"loading {inp / DATASET_FILE}")
    train_rows = data.load_pairs(inp / DATASET_FILE)
    if (inp / EVAL_FILE).exists():
        eval_rows = data.load_pairs(inp / EVAL_FILE)
    else:
        train_rows, eval_rows = data.split_heldout(train_rows, seed=cfg.seed)
    if not train_rows:
        raise data.DataError(f"{inp / DATASET_FILE}: no training pairs")
    progress.stage("DATASET", f"{len(train_rows)} training pairs, {len(eval_rows)} held-out",
                   data={"train": len(train_rows), "heldout": len(eval_rows)})

    progress.stage("MODEL_DOWNLOAD", f"loading base model {cfg.base_model}")
    if backend == "unsloth":
        from . import train_unsloth as impl

        model, tokenizer, info = impl.load(cfg)
    else:
        from . import train_peft as impl

        model, tokenizer, info = impl.load_base(cfg, impl.pick_device())
    progress.stage("MODEL_DOWNLOAD", f"base model ready ({info.get('source')})", data=info)

    progress.stage("PREPROCESSING", "applying the chat template, masking prompts")
    template = data.ensure_template(tokenizer, cfg.chat_template)
    train_ex, skipped = data.encode_all(tokenizer, train_rows, cfg.system_prompt, cfg.max_seq_length)
    eval_ex, _ = data.encode_all(tokenizer, eval_rows, cfg.system_prompt, cfg.max_seq_length)
    if not train_ex:
        raise data.DataError(f"every prompt is longer than max_seq_length={cfg.max_seq_length}")
    sample = tokenizer.decode(train_ex[0].input_ids)
    progress.stage("PREPROCESSING", f"template {template}; {len(train_ex)} examples, "
                   f"{skipped} skipped (too long)", data={"template": template, "sample": sample[:400]})
    recipe = apply_recipe(cfg, n_train=len(train_ex), n_params=_params(model),
                          avg_tokens=sum(len(e.input_ids) for e in train_ex) / len(train_ex),
                          device=next(model.parameters()).device.type)
    progress.stage("PREPROCESSING", f"recipe: {recipe.summary()}", data={"recipe": recipe.as_dict()})
    for key, why in recipe.reasons.items():
        progress.stage("PREPROCESSING", f"  {key} = {recipe.values[key]}: {why}")

    progress.stage("LORA_SETUP", f"LoRA r={cfg.lora_rank} alpha={cfg.alpha}")
    if backend == "peft":
        from .train_peft import add_lora

        model = add_lora(model, cfg)
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    progress.stage("LORA_SETUP", f"{n_train} trainable parameters", data={"trainable": n_train})

    from .train_peft import train_loop

    pad_id = tokenizer.pad_token_id
    result = train_loop(model, train_ex, eval_ex, cfg, progress, pad_id)

    progress.stage("SAVE_ADAPTER", f"saving adapter to {out / 'adapter'}")
    adapter_dir = out / "adapter"
    model.save_pretrained(adapter_dir)
    for required in ("adapter_model.safetensors", "adapter_config.json"):
        if not (adapter_dir / required).is_file():
            raise RuntimeError(f"{adapter_dir / required} was not written")
    if backend == "unsloth":
        from .train_unsloth import for_inference

        for_inference(model)
    from .evaluate import GenericCache, evaluate

    progress.stage("SAVE_ADAPTER", f"evaluating on {len(eval_rows)} held-out pairs")
    cache = GenericCache(_generic_cache(cfg, inp, out), cfg.base_model, cfg.eval_max_new_tokens)
    ev = evaluate(model, tokenizer, eval_rows, cfg, pad_id=pad_id, best_step=result["best_step"],
                  cache=cache)
    ev["training"] = {k: result[k] for k in ("steps", "total_steps", "best_step",
                                             "best_eval_loss", "early_stopped", "final_train_loss")}
    ev["training"]["recipe"] = recipe.summary()
    _write_json(out / "eval.json", ev)
    progress.stage("SAVE_ADAPTER", "eval: loss {} → {}, LLR gain {} (95% CI {}), passed {}".format(
        _r(ev["base_loss"]), _r(ev["adapter_loss"]), _r(ev["llr_gain"]),
        [_r(x) for x in ev["llr_ci"]] if ev["llr_ci"] else None, ev["passed"]),
        data={k: ev[k] for k in ("base_loss", "adapter_loss", "loss_ratio", "llr_gain", "llr_ci",
                                 "improved", "passed", "verdict")})
    progress.stage("SAVE_ADAPTER", ev["verdict"])

    progress.stage("GGUF_MERGE", "merging the adapter into the base weights")
    merged = out / "merged"
    if merged.exists():
        shutil.rmtree(merged)
    impl.merge_and_save(model, tokenizer, merged)
    del model
    from .gguf_export import export_gguf, validate_gguf

    gguf_path = out / cfg.gguf_filename
    progress.stage("GGUF_MERGE", f"writing {gguf_path.name} ({cfg.gguf_type})")
    summary = export_gguf(merged, gguf_path, ftype=cfg.gguf_type, pre=cfg.gguf_pre,
                          name=f"{cfg.gguf_name}-{cfg.date}")
    check = validate_gguf(gguf_path, {"tensors": summary["tensors"], "vocab": summary["vocab"]})
    if not cfg.keep_merged:
        shutil.rmtree(merged, ignore_errors=True)
    progress.stage("GGUF_MERGE", f"GGUF verified: {check['tensors']} tensors, "
                   f"{check['control_tokens']} control tokens", data=check)
    return {"backend": backend, "gguf": str(gguf_path), "gguf_bytes": summary["bytes"],
            "adapter": str(adapter_dir), "eval": str(out / "eval.json"), "eval_passed": ev["passed"],
            "samples_used": len(train_ex), "heldout": len(eval_rows), "base_model": cfg.base_model,
            "template": template, "recipe": recipe.as_dict(), "verdict": ev["verdict"],
            "cpu_seconds": round(time.process_time(), 1),  # all threads: contention-free cost
            **{k: result[k] for k in (
                "steps", "best_step", "early_stopped", "train_seconds", "eval_seconds",
                "train_tokens", "tokens_per_second")}}


GENERIC_FILE = "generic_answers.json"


def _params(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def _generic_cache(cfg, inp: Path, out: Path) -> Path:
    """config.json's generic_cache, else <output>/generic_answers.json (seeded from the input)."""
    if cfg.generic_cache:
        return Path(cfg.generic_cache)
    target = out / GENERIC_FILE
    if not target.exists() and (inp / GENERIC_FILE).is_file():
        shutil.copyfile(inp / GENERIC_FILE, target)
    return target


def _r(x):
    return None if x is None else round(x, 4)


class Terminated(Exception):
    """SIGTERM (mh train stop, a pod being shut down): report it like any other failure."""


def _on_sigterm(signum, _frame):
    raise Terminated(f"terminated by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress(out)
    result_path = out / "result.json"
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        result = run(args, progress)
    except (ConfigError, data.DataError) as exc:
        progress.failed(str(exc))
        _write_json(result_path, {"success": False, "error": str(exc), "stage": progress.current})
        print(f"[trainer] ERROR: {exc}", file=sys.stderr)
        return 2
    except BaseException as exc:  # noqa: BLE001 - report every failure in its stage, exit non-zero
        msg = f"{type(exc).__name__}: {exc}"
        progress.failed(msg)
        _write_json(result_path, {"success": False, "error": msg, "stage": progress.current,
                                  "traceback": traceback.format_exc()[-4000:]})
        print(f"[trainer] ERROR in {progress.current}: {msg}", file=sys.stderr)
        if isinstance(exc, KeyboardInterrupt):
            return 130
        return 143 if isinstance(exc, Terminated) else 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    gguf = Path(result["gguf"])
    if not gguf.is_file() or gguf.stat().st_size == 0:
        progress.failed(f"no GGUF at {gguf}")
        _write_json(result_path, {"success": False, "error": f"no GGUF at {gguf}"})
        return 1
    _write_json(result_path, {"success": True, **result})
    progress.done(f"done: {gguf.name}", data={"gguf": str(gguf), "eval_passed": result["eval_passed"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
