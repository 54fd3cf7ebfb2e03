"""Does llama.cpp run our GGUF exactly like transformers runs the merged model?

Used by the tests, the benchmark and the GPU check. Method (reference/training-feasibility.md
and smollm2-trial.md): identical tokenization of the chat prompt (special tokens must be CONTROL),
prompt logits within a tolerance with an f32 KV cache, and the same greedy token ids. Greedy
sequences may only diverge where transformers itself sees a near tie (top-2 logit margin below
`tie`), which float rounding can flip; anywhere else a divergence is a conversion bug.
Compare token ids, never text (partial UTF-8 decodes differently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _load_llama(gguf_path: Path, n_ctx: int):
    import llama_cpp

    params = llama_cpp.llama_model_default_params

    def no_repack():  # AMX repack SIGILL on native builds (feasibility pitfall 11)
        p = params()
        if hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p

    llama_cpp.llama_model_default_params = no_repack
    try:
        import llama_cpp.llama as mod

        mod.llama_cpp.llama_model_default_params = no_repack
    except (ImportError, AttributeError):
        pass
    return llama_cpp.Llama(str(gguf_path), n_ctx=n_ctx, n_threads=1, logits_all=True,
                           type_k=0, type_v=0, verbose=False)


def check_parity(model, tokenizer, gguf_path: str | Path, prompts: list[str], *,
                 max_new_tokens: int = 16, tie: float = 1e-2, n_ctx: int = 512) -> dict[str, Any]:
    """prompts are rendered chat prompts (text). Returns per-prompt results and a verdict."""
    import numpy as np
    import torch

    from .data import end_of_turn_ids

    eot = sorted(end_of_turn_ids(tokenizer))
    llm = _load_llama(Path(gguf_path), n_ctx)
    results, ok = [], True
    try:
        for prompt in prompts:
            ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
            lids = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
            if ids != lids:
                results.append({"prompt": prompt, "tokenization": False})
                ok = False
                continue
            with torch.no_grad():
                hf = model.generate(input_ids=torch.tensor([ids]), max_new_tokens=max_new_tokens,
                                    do_sample=False, eos_token_id=eot,
                                    pad_token_id=tokenizer.pad_token_id or eot[0])[0].tolist()
                logits = model(input_ids=torch.tensor([hf])).logits[0].float().numpy()
            hf_new = hf[len(ids):]
            llm.reset()
            ll_new: list[int] = []
            for tok in llm.generate(lids, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True):
                ll_new.append(tok)
                if tok in eot or len(ll_new) >= max_new_tokens:
                    break
            llm.reset()
            llm.eval(hf)
            scores = np.asarray(llm.scores[:len(hf)])
            diff = float(np.abs(scores - logits).max())
            first = next((i for i, (a, b) in enumerate(zip(hf_new, ll_new)) if a != b), None)
            margin = None
            if first is not None:
                top2 = np.sort(logits[len(ids) - 1 + first])[-2:]
                margin = float(top2[1] - top2[0])
            same = hf_new == ll_new
            tied = first is not None and margin is not None and margin < tie
            ok &= same or tied
            results.append({"tokenization": True, "same": same, "max_logit_diff": diff,
                            "diverged_at": first, "margin": margin, "hf": hf_new, "llama": ll_new})
    finally:
        llm.close()
    return {"ok": ok, "identical": sum(1 for r in results if r.get("same")),
            "prompts": len(prompts), "results": results,
            "max_logit_diff": max((r.get("max_logit_diff", 0.0) for r in results), default=0.0)}
