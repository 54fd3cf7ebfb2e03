"""Real evaluation of an adapter on held-out pairs (the person's own words), base vs adapter.

Metrics (reference/smollm2-trial.md, Recommendation (c)), response tokens only:
* held-out loss of base and adapter, token-weighted NLL, and its delta;
* persona-vs-generic log-likelihood-ratio gain: for each held-out prompt the *generic* answer is
  the base model's own greedy answer, and
  LLR = mean_i[(NLL_base(persona_i) − NLL_adapter(persona_i)) − (NLL_base(generic_i) − NLL_adapter(generic_i))]
  which cancels what every fine-tune shares (format, length) and keeps rising while held-out loss
  turns U-shaped;
* a readable sample of base vs adapter answers.
Replaces the original's "adapter file is 10–100 MB" heuristic.

Standalone: python -m trainer.evaluate --adapter DIR --heldout FILE [--config FILE] --output eval.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import data

METHOD = "heldout_nll_llr_v1"


def response_nll(model, examples: list[data.Example], pad_id: int, batch_size: int = 8
                 ) -> tuple[float, int, list[float]]:
    """(sum of NLL, number of response tokens, mean NLL per example) under `model`."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    total, count, per = 0.0, 0, []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            batch = data.collate(examples[i:i + batch_size], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"],
                           attention_mask=batch["attention_mask"]).logits.float()
            labels = batch["labels"][:, 1:]
            nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)),
                                  labels.reshape(-1), ignore_index=data.IGNORE,
                                  reduction="none").view(labels.shape)
            mask = labels != data.IGNORE
            sums, ns = (nll * mask).sum(1), mask.sum(1)
            for s, n in zip(sums.tolist(), ns.tolist()):
                per.append(s / n if n else float("nan"))
                total += s
                count += n
    if was_training:
        model.train()
    return total, count, per


def greedy(model, tokenizer, prompt: str, max_new_tokens: int) -> str:
    """The model's greedy answer to a rendered prompt, cut at its end-of-turn token."""
    import torch

    device = next(model.parameters()).device
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"].to(device)
    eot = sorted(data.end_of_turn_ids(tokenizer))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eot[0]
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                             max_new_tokens=max_new_tokens, do_sample=False,
                             eos_token_id=eot, pad_token_id=pad)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def _disabled(model):
    fn = getattr(model, "disable_adapter", None)
    return fn() if fn else contextlib.nullcontext()


def evaluate(model, tokenizer, heldout: list[dict[str, str]], cfg, *, pad_id: int,
             best_step: int | None = None) -> dict[str, Any]:
    """Score a peft model (adapter on) against its own base (adapter disabled)."""
    system = cfg.system_prompt
    persona, _ = data.encode_all(tokenizer, heldout, system, cfg.max_seq_length)
    if not persona:
        return _result(cfg, None, None, None, [], [], best_step, ["no held-out pairs to evaluate"])
    bs = max(1, cfg.per_device_train_batch_size)
    with _disabled(model):
        b_sum, b_n, b_per = response_nll(model, persona, pad_id, bs)
        generic_text = [greedy(model, tokenizer, data.prompt_text(tokenizer, r, system),
                               cfg.eval_max_new_tokens) for r in heldout]
    a_sum, a_n, a_per = response_nll(model, persona, pad_id, bs)
    generic_rows = [{**r, "output": g} for r, g in zip(heldout, generic_text) if g]
    llr: list[float] = []
    if generic_rows:
        generic, _ = data.encode_all(tokenizer, generic_rows, system, cfg.max_seq_length)
        with _disabled(model):
            _, _, gb = response_nll(model, generic, pad_id, bs)
        _, _, ga = response_nll(model, generic, pad_id, bs)
        keep = [i for i, (r, g) in enumerate(zip(heldout, generic_text)) if g]
        for j, i in enumerate(keep[:len(gb)]):
            if not any(math.isnan(x) for x in (b_per[i], a_per[i], gb[j], ga[j])):
                llr.append((b_per[i] - a_per[i]) - (gb[j] - ga[j]))
    samples = []
    for r, g in list(zip(heldout, generic_text))[:max(0, cfg.eval_samples)]:
        prompt = data.prompt_text(tokenizer, r, system)
        samples.append({"prompt": r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else ""),
                        "reference": r["output"], "base": g,
                        "adapter": greedy(model, tokenizer, prompt, cfg.eval_max_new_tokens)})
    return _result(cfg, b_sum / max(b_n, 1), a_sum / max(a_n, 1), len(persona), llr, samples,
                   best_step, [])


def _result(cfg, base_loss, adapter_loss, n, llr, samples, best_step, reasons) -> dict[str, Any]:
    gain = sum(llr) / len(llr) if llr else None
    delta = None if base_loss is None else adapter_loss - base_loss
    reasons = list(reasons)
    if delta is not None and not delta < cfg.eval_max_loss_delta:
        reasons.append(f"held-out loss did not improve enough: delta {delta:+.4f} "
                       f"(needs < {cfg.eval_max_loss_delta:+.4f})")
    if delta is not None and (gain is None or not gain > cfg.eval_min_llr_gain):
        reasons.append(f"persona-vs-generic LLR gain {gain if gain is None else round(gain, 4)} "
                       f"(needs > {cfg.eval_min_llr_gain})")
    return {
        "method": METHOD, "evaluatedAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "heldout": n or 0, "base_loss": base_loss, "adapter_loss": adapter_loss,
        "loss_delta": delta, "base_ppl": math.exp(base_loss) if base_loss is not None else None,
        "adapter_ppl": math.exp(adapter_loss) if adapter_loss is not None else None,
        "llr_gain": gain, "llr_positive": sum(1 for x in llr if x > 0), "llr_count": len(llr),
        "best_step": best_step, "samples": samples, "passed": not reasons, "reasons": reasons,
        "criteria": {"max_loss_delta": cfg.eval_max_loss_delta,
                     "min_llr_gain": cfg.eval_min_llr_gain},
    }


def main(argv: list[str] | None = None) -> int:
    """Re-evaluate a saved adapter (e.g. one trained remotely without eval.json)."""
    from .config import TrainerConfig, load_config
    from .train_peft import load_base, pick_device

    ap = argparse.ArgumentParser(prog="python -m trainer.evaluate")
    ap.add_argument("--adapter", required=True, help="folder with adapter_config.json")
    ap.add_argument("--heldout", required=True, help="held-out JSONL {instruction,input,output}")
    ap.add_argument("--config", help="the run's config.json (base_model, system_prompt, …)")
    ap.add_argument("--base", help="override base_model")
    ap.add_argument("--output", required=True)
    args = ap.parse_args(argv)
    cfg = load_config(args.config, {"base_model": args.base}) if args.config else TrainerConfig()
    if args.base:
        cfg.base_model = args.base
    from peft import PeftModel

    model, tokenizer, _ = load_base(cfg, pick_device())
    data.ensure_template(tokenizer, cfg.chat_template)
    model = PeftModel.from_pretrained(model, args.adapter)
    result = evaluate(model, tokenizer, data.load_pairs(args.heldout), cfg,
                      pad_id=tokenizer.pad_token_id)
    Path(args.output).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: result[k] for k in ("base_loss", "adapter_loss", "llr_gain", "passed")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
