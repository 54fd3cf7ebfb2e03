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
import hashlib
import json
import math
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import data
from .stats import bootstrap_ci, mean, verdict_line

METHOD = "heldout_nll_llr_v2"


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
    return greedy_batch(model, tokenizer, [prompt], max_new_tokens)[0]


def greedy_batch(model, tokenizer, prompts: list[str], max_new_tokens: int,
                 batch_size: int = 16) -> list[str]:
    """Greedy answers to many rendered prompts, left-padded and generated together: one
    generation loop for 12 prompts costs about what one prompt does on a CPU."""
    import torch

    if not prompts:
        return []
    device = next(model.parameters()).device
    eot = sorted(data.end_of_turn_ids(tokenizer))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eot[0]
    side, tokenizer.padding_side = getattr(tokenizer, "padding_side", "right"), "left"
    out: list[str] = []
    try:
        for i in range(0, len(prompts), batch_size):
            enc = tokenizer(prompts[i:i + batch_size], add_special_tokens=False, padding=True,
                            return_tensors="pt").to(device)
            with torch.no_grad():
                gen = model.generate(input_ids=enc["input_ids"],
                                     attention_mask=enc["attention_mask"],
                                     max_new_tokens=max_new_tokens, do_sample=False,
                                     eos_token_id=eot, pad_token_id=pad)
            width = enc["input_ids"].shape[1]
            out += [tokenizer.decode(row[width:], skip_special_tokens=True).strip()
                    for row in gen]
    finally:
        tokenizer.padding_side = side
    return out


class GenericCache:
    """The base model's generic answers, computed once per dataset and kept in a JSON file.

    Keyed by base model, answer length and the rendered prompt (system prompt and template
    included), so a changed persona prompt or base model never reuses a stale answer."""

    def __init__(self, path: str | Path | None, base_model: str, max_new_tokens: int):
        self.path = Path(path) if path else None
        self.base = base_model
        base = Path(base_model).expanduser()
        if base.is_file():
            self.base += f"#{base.stat().st_size}"
        self.max_new = max_new_tokens
        self.entries: dict[str, str] = {}
        self.hits = 0
        if self.path and self.path.is_file():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                loaded = {}
            if isinstance(loaded, dict) and isinstance(loaded.get("entries"), dict):
                self.entries = {k: v for k, v in loaded["entries"].items() if isinstance(v, str)}

    def key(self, prompt: str) -> str:
        return hashlib.sha256(f"{self.base}\0{self.max_new}\0{prompt}".encode()).hexdigest()

    def answers(self, model, tokenizer, prompts: list[str]) -> list[str]:
        """Cached answers where known; the rest generated (batched) and remembered."""
        keys = [self.key(p) for p in prompts]
        todo = sorted({k: p for k, p in zip(keys, prompts) if k not in self.entries}.items())
        self.hits = sum(1 for k in keys if k in self.entries)
        if todo:
            fresh = greedy_batch(model, tokenizer, [p for _, p in todo], self.max_new)
            self.entries.update({k: a for (k, _), a in zip(todo, fresh)})
            self.save()
        return [self.entries[k] for k in keys]

    def save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps({"version": 1, "entries": self.entries}, ensure_ascii=False,
                                  indent=0) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def _disabled(model):
    fn = getattr(model, "disable_adapter", None)
    return fn() if fn else contextlib.nullcontext()


def evaluate(model, tokenizer, heldout: list[dict[str, str]], cfg, *, pad_id: int,
             best_step: int | None = None, cache: GenericCache | None = None) -> dict[str, Any]:
    """Score a peft model (adapter on) against its own base (adapter disabled)."""
    system = cfg.system_prompt
    rows, persona = [], []
    eot = data.end_of_turn_ids(tokenizer)
    for r in heldout:  # keep rows and encodings aligned (a too-long prompt drops both)
        ex = data.encode(tokenizer, r, system, cfg.max_seq_length, eot)
        if ex is not None:
            rows.append(r)
            persona.append(ex)
    if not persona:
        return _result(cfg, None, None, 0, [], [], [], best_step, ["no held-out pairs to evaluate"],
                       cache)
    bs = max(1, cfg.per_device_train_batch_size or 8)
    prompts = [data.prompt_text(tokenizer, r, system) for r in rows]
    cache = cache or GenericCache(None, cfg.base_model, cfg.eval_max_new_tokens)
    with _disabled(model):
        b_sum, b_n, b_per = response_nll(model, persona, pad_id, bs)
        generic_text = cache.answers(model, tokenizer, prompts)
    a_sum, a_n, a_per = response_nll(model, persona, pad_id, bs)
    per: list[dict[str, Any]] = []
    keep = [i for i, g in enumerate(generic_text) if g]
    generic, gb, ga = [], [], []
    if keep:
        for i in keep:
            ex = data.encode(tokenizer, {**rows[i], "output": generic_text[i]}, system,
                             cfg.max_seq_length, eot)
            generic.append(ex)
        ok = [j for j, ex in enumerate(generic) if ex is not None]
        keep, generic = [keep[j] for j in ok], [generic[j] for j in ok]
        with _disabled(model):
            _, _, gb = response_nll(model, generic, pad_id, bs)
        _, _, ga = response_nll(model, generic, pad_id, bs)
    llr_of = {i: (b_per[i] - a_per[i]) - (gb[j] - ga[j]) for j, i in enumerate(keep)
              if not any(math.isnan(x) for x in (b_per[i], a_per[i], gb[j], ga[j]))}
    for i, _ in enumerate(rows):
        per.append({"base_nll": _r(b_per[i]), "adapter_nll": _r(a_per[i]),
                    "llr": _r(llr_of.get(i))})
    n_samples = min(len(rows), max(0, cfg.eval_samples))
    adapter_text = greedy_batch(model, tokenizer, prompts[:n_samples], cfg.eval_max_new_tokens)
    samples = [{"prompt": r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else ""),
                "reference": r["output"], "base": g, "adapter": a}
               for r, g, a in zip(rows, generic_text, adapter_text)]
    return _result(cfg, b_sum / max(b_n, 1), a_sum / max(a_n, 1), len(persona), per,
                   [llr_of[i] for i in sorted(llr_of)], samples, best_step, [], cache)


def _r(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else round(x, 5)


def _result(cfg, base_loss, adapter_loss, n, per, llr, samples, best_step, reasons,
            cache) -> dict[str, Any]:
    gain = mean(llr)
    ci = bootstrap_ci(llr)
    delta = None if base_loss is None else adapter_loss - base_loss
    ratio = None if not base_loss else adapter_loss / base_loss
    improved = sum(1 for p in per if p["base_nll"] is not None and p["adapter_nll"] is not None
                   and p["adapter_nll"] < p["base_nll"])
    reasons = list(reasons)
    if delta is not None and not delta < cfg.eval_max_loss_delta:
        reasons.append(f"held-out loss did not improve enough: delta {delta:+.4f} "
                       f"(needs < {cfg.eval_max_loss_delta:+.4f})")
    if delta is not None and (gain is None or not gain > cfg.eval_min_llr_gain):
        reasons.append(f"persona-vs-generic LLR gain {gain if gain is None else round(gain, 4)} "
                       f"(needs > {cfg.eval_min_llr_gain})")
    if delta is not None and gain is not None and (ci is None or not ci[0] > 0):
        reasons.append("the gain is not clearly positive: its 95% interval "
                       + (f"{ci[0]:+.3f}…{ci[1]:+.3f} reaches 0" if ci else "is unknown"))
    result = {
        "method": METHOD, "evaluatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "heldout": n or 0, "base_loss": base_loss, "adapter_loss": adapter_loss,
        "loss_delta": delta, "loss_ratio": ratio,
        "base_ppl": math.exp(base_loss) if base_loss is not None else None,
        "adapter_ppl": math.exp(adapter_loss) if adapter_loss is not None else None,
        "llr_gain": gain, "llr_ci": list(ci) if ci else None,
        "llr_positive": sum(1 for x in llr if x > 0), "llr_count": len(llr),
        "improved": improved if per else None, "per_prompt": per,
        "best_step": best_step, "samples": samples, "passed": not reasons, "reasons": reasons,
        "generic_cache": {"path": str(cache.path) if cache and cache.path else None,
                          "reused": cache.hits if cache else 0},
        "criteria": {"max_loss_delta": cfg.eval_max_loss_delta,
                     "min_llr_gain": cfg.eval_min_llr_gain, "ci_lower_above": 0.0},
    }
    result["verdict"] = verdict_line(result)
    return result


def main(argv: list[str] | None = None) -> int:
    """Re-evaluate a saved adapter (e.g. one trained remotely without eval.json)."""
    from .config import TrainerConfig, load_config
    from .train_peft import load_base, pick_device

    ap = argparse.ArgumentParser(prog="python -m trainer.evaluate")
    ap.add_argument("--adapter", required=True, help="folder with adapter_config.json")
    ap.add_argument("--heldout", required=True, help="held-out JSONL {instruction,input,output}")
    ap.add_argument("--config", help="the run's config.json (base_model, system_prompt, …)")
    ap.add_argument("--base", help="override base_model")
    ap.add_argument("--generic-cache", help="JSON cache of the base model's generic answers")
    ap.add_argument("--output", required=True)
    args = ap.parse_args(argv)
    cfg = load_config(args.config, {"base_model": args.base}) if args.config else TrainerConfig()
    if args.base:
        cfg.base_model = args.base
    from peft import PeftModel

    model, tokenizer, _ = load_base(cfg, pick_device())
    data.ensure_template(tokenizer, cfg.chat_template)
    model = PeftModel.from_pretrained(model, args.adapter)
    cache = GenericCache(args.generic_cache or cfg.generic_cache, cfg.base_model,
                         cfg.eval_max_new_tokens)
    result = evaluate(model, tokenizer, data.load_pairs(args.heldout), cfg,
                      pad_id=tokenizer.pad_token_id, cache=cache)
    Path(args.output).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: result[k] for k in ("base_loss", "adapter_loss", "llr_gain", "passed")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
