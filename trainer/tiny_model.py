"""A tiny, fully local base model (Qwen2, Qwen3 or Llama) + byte-level BPE tokenizer.

Nothing may be downloaded in tests, CI or on an offline GPU box, so tests, the benchmark and
bench/gpu_train_check.sh build their base model here. The recipe and its pitfalls are in
reference/training-feasibility.md: the qwen2 split regex on both sides (HF and llama.cpp
tokenize identically), all 256 byte symbols in the vocabulary, specials marked `special`
(they become CONTROL tokens in GGUF), and initializer_range=0.2 so that a LoRA can move the
logits of a random model at all.

Usage: python -m trainer.tiny_model OUT_DIR [--arch qwen2|qwen3|llama] [--hidden 64] [--layers 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# llama.cpp's regex for tokenizer.ggml.pre = "qwen2" (the (?i:) group spelled out).
QWEN2_REGEX = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+"
               r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}")

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

DEFAULT_CORPUS = [
    "I keep a notebook by the bed and write down what I want to remember.",
    "The shop smells of pine and coffee in the morning.",
    "Biscuit sleeps by the heater while I sand the table legs.",
    "What do you do on a rainy afternoon? Read, mostly, or fix something small.",
    "Honestly, I'd rather ship something plain that works than something clever that doesn't.",
    "We walked to the harbour on Sunday and watched the boats come in.",
    "Tell me about your week. It was busy, but good busy.",
    "I think the best code is the code you can delete later without fear.",
    "My sister called about the garden; the tomatoes are finally red.",
    "user assistant system You are a helpful assistant.",
    "0 1 2 3 4 5 6 7 8 9 10 2025 12:30 $4.50 100% e-mail: a@b.c",
]


def train_tokenizer(corpus: list[str], vocab_size: int = 512):
    """A byte-level BPE with ChatML specials, wrapped as a transformers fast tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", chat_template=CHATML_TEMPLATE)


def build_tiny_model(out_dir: str | Path, *, arch: str = "qwen2", corpus: list[str] | None = None,
                     vocab_size: int = 512, hidden: int = 64, layers: int = 2, heads: int = 4,
                     kv_heads: int = 2, intermediate: int = 176, seed: int = 0,
                     max_positions: int = 512) -> Path:
    """Write a random-weight model + tokenizer into `out_dir` (save_pretrained layout)."""
    import torch
    import transformers

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(list(corpus or []) + DEFAULT_CORPUS, vocab_size)
    common = dict(  # noqa: C408 - config kwargs read best as kwargs
                  vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=intermediate,
                  num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                  max_position_embeddings=max_positions, initializer_range=0.2,
                  tie_word_embeddings=False, rms_norm_eps=1e-6,
                  bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
                  eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                  pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"))
    if arch == "qwen2":
        config = transformers.Qwen2Config(**common)
        cls = transformers.Qwen2ForCausalLM
    elif arch == "qwen3":
        config = transformers.Qwen3Config(**common, head_dim=hidden // heads * 2)
        cls = transformers.Qwen3ForCausalLM
    elif arch == "llama":
        config = transformers.LlamaConfig(**common)
        cls = transformers.LlamaForCausalLM
    else:
        raise ValueError(f"arch must be qwen2, qwen3 or llama, not {arch!r}")
    torch.manual_seed(seed)
    model = cls(config)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainer.tiny_model", description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--arch", default="qwen2", choices=["qwen2", "qwen3", "llama"])
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=176)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--corpus", help="a JSONL dataset whose instruction/input/output texts feed the BPE")
    args = ap.parse_args(argv)
    corpus: list[str] = []
    if args.corpus:
        for line in Path(args.corpus).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                corpus.extend(str(row.get(k, "")) for k in ("instruction", "input", "output"))
    path = build_tiny_model(args.out_dir, arch=args.arch, corpus=corpus, vocab_size=args.vocab,
                            hidden=args.hidden, layers=args.layers, heads=args.heads,
                            kv_heads=args.kv_heads, intermediate=args.intermediate)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
