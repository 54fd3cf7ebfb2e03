"""The unsloth path: used when CUDA is present and `import unsloth` works (on a pod or a local GPU).

unsloth must be imported before transformers to patch it, so `available()` is called first thing
by __main__. It loads the base (4-bit QLoRA by default), adds the LoRA with unsloth's fused
kernels and gradient checkpointing, then trains with the same loop, masking and early stopping as
the peft path. The merge goes through `save_pretrained_merged(..., "merged_16bit")` and the GGUF
through our own writer: unsloth's save_pretrained_gguf needs the network (it clones llama.cpp and
runs apt-get), so it is never called.
"""

from __future__ import annotations

from pathlib import Path


def available() -> tuple[bool, str]:
    """(usable, why). On CPU-only machines unsloth may even import (its CPU backend): not used."""
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, "no CUDA device"
    try:
        import unsloth  # noqa: F401  (must precede transformers)
    except Exception as exc:  # noqa: BLE001 - ImportError, NotImplementedError, RuntimeError…
        return False, f"unsloth does not import: {type(exc).__name__}: {exc}"
    return True, f"unsloth on {torch.cuda.get_device_name(0)}"


def load(cfg):
    """(peft model, tokenizer, info) with the LoRA already attached."""
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=str(Path(cfg.base_model).expanduser()) if Path(cfg.base_model).expanduser().exists()
        else cfg.base_model,
        max_seq_length=cfg.max_seq_length, dtype=None, load_in_4bit=cfg.load_in_4bit)
    model = FastLanguageModel.get_peft_model(
        model, r=cfg.lora_rank, lora_alpha=cfg.alpha, lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules, bias="none", use_gradient_checkpointing="unsloth",
        random_state=cfg.seed)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    FastLanguageModel.for_training(model)
    return model, tokenizer, {"source": "unsloth", "load_in_4bit": cfg.load_in_4bit}


def for_inference(model) -> None:
    from unsloth import FastLanguageModel

    FastLanguageModel.for_inference(model)


def merge_and_save(model, tokenizer, out_dir: Path) -> Path:
    """16-bit merged weights as safetensors (bf16 is read through torch by gguf_export)."""
    try:
        model.save_pretrained_merged(str(out_dir), tokenizer, save_method="merged_16bit",
                                     safe_serialization=True)
    except TypeError:  # older unsloth without the keyword: safetensors is its default anyway
        model.save_pretrained_merged(str(out_dir), tokenizer, save_method="merged_16bit")
    return out_dir
