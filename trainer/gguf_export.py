"""Merged HF model folder → GGUF (f32/f16), our own converter for the llama/qwen2/qwen3 families.

Why our own: the `gguf` package ships no HF converter, llama.cpp's converter rejects self-trained
tokenizers, and unsloth's save_pretrained_gguf needs the network (reference/training-feasibility.md).
What matters, each verified against llama.cpp there:
* special tokens are CONTROL (else llama.cpp splits `<|im_start|>` into pieces);
* `tokenizer.ggml.pre` matches the HF pre-tokenizer regex (else silent tokenization drift);
* llama-arch q/k weights are permuted from HF's rotate-half layout to GGML's interleaved RoPE;
* the chat template is embedded, so Ollama/llama.cpp format prompts like training did;
* bf16 shards are read through torch (numpy has no bfloat16).
Tensors are streamed one at a time, so a 30B model needs one tensor's worth of RAM, not 60 GB.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

ARCHS = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "llama",
         "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3"}
MODEL_TYPES = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3"}

_CASE_GROUP = "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
_CASE_EXPANDED = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
_TAIL = r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
KNOWN_REGEXES = {
    _CASE_EXPANDED + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}" + _TAIL: "qwen2",
    _CASE_EXPANDED + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}" + _TAIL: "llama-bpe",
}
EOT_TEXTS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>")


class ExportError(RuntimeError):
    """The model folder cannot be converted; the message names the file/field."""


# ------------------------------------------------------------------------------------- reading
def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{path}: missing (is this a save_pretrained folder?)") from None
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path}: invalid JSON: {exc}") from None


def detect_arch(config: dict[str, Any], where: Path) -> str:
    for name in config.get("architectures") or []:
        if name in ARCHS:
            return ARCHS[name]
    arch = MODEL_TYPES.get(str(config.get("model_type")))
    if arch:
        return arch
    raise ExportError(f"{where}: unsupported architecture {config.get('architectures')} "
                      f"(model_type {config.get('model_type')!r}); supported: llama, mistral, qwen2, qwen3")


def _shards(model_dir: Path) -> list[Path]:
    index = model_dir / "model.safetensors.index.json"
    if index.exists():
        files = sorted(set(_read_json(index)["weight_map"].values()))
        return [model_dir / f for f in files]
    single = model_dir / "model.safetensors"
    if single.exists():
        return [single]
    raise ExportError(f"{model_dir}: no model.safetensors (save the merged model with safe_serialization)")


def _tensor_names(shards: list[Path]) -> list[tuple[Path, str]]:
    from safetensors import safe_open

    out = []
    for shard in shards:
        with safe_open(str(shard), framework="numpy") as fh:
            out.extend((shard, name) for name in fh.keys())  # noqa: SIM118 - safe_open has no __iter__
    return out


def _load_tensor(shard: Path, name: str) -> np.ndarray:
    from safetensors import safe_open

    try:
        with safe_open(str(shard), framework="numpy") as fh:
            return fh.get_tensor(name)
    except TypeError:  # bfloat16: numpy cannot represent it, go through torch
        with safe_open(str(shard), framework="pt") as fh:
            return fh.get_tensor(name).float().numpy()


def _rope_theta(config: dict[str, Any]) -> float:
    params = config.get("rope_parameters") or {}
    return float(params.get("rope_theta") or config.get("rope_theta") or 10000.0)


def _rope_scaling(config: dict[str, Any]) -> dict[str, Any]:
    scaling = config.get("rope_scaling") or config.get("rope_parameters") or {}
    kind = scaling.get("rope_type") or scaling.get("type") or "default"
    return {**scaling, "rope_type": kind}


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF rotate-half → GGML interleaved RoPE layout (llama arch only; qwen uses NeoX RoPE)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def _llama3_rope_freqs(config: dict[str, Any], head_dim: int) -> np.ndarray:
    """rope_freqs tensor for Llama 3.1+ 'llama3' rope scaling (as llama.cpp's converter does)."""
    sc = _rope_scaling(config)
    base = _rope_theta(config)
    factor = float(sc.get("factor", 8.0))
    low, high = float(sc.get("low_freq_factor", 1.0)), float(sc.get("high_freq_factor", 4.0))
    old_len = float(sc.get("original_max_position_embeddings", 8192))
    freqs = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    low_wl, high_wl = old_len / low, old_len / high
    out = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wl:
            out.append(1.0)
        elif wavelen > low_wl:
            out.append(factor)
        else:
            smooth = (old_len / wavelen - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(out, dtype=np.float32)


# ----------------------------------------------------------------------------------- tokenizer
def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None


def detect_pre(tok_json: dict[str, Any], arch: str) -> str:
    """llama.cpp pre-tokenizer name for this tokenizer.json (qwen2, llama-bpe, smollm or gpt2)."""
    pre = tok_json.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers") if pre.get("type") == "Sequence" else [pre]
    parts = [p for p in parts or [] if isinstance(p, dict)]
    for part in parts:
        if part.get("type") == "Split":
            regex = (part.get("pattern") or {}).get("Regex", "").replace(_CASE_GROUP, _CASE_EXPANDED)
            if regex in KNOWN_REGEXES:
                return KNOWN_REGEXES[regex]
    types = [p.get("type") for p in parts]
    if "Digits" in types and "ByteLevel" in types:
        return "smollm"
    if types == ["ByteLevel"]:
        return "gpt2"
    return "qwen2" if arch in ("qwen2", "qwen3") else "gpt2"


def read_tokenizer(model_dir: Path, vocab_size: int, arch: str, pre: str | None) -> dict[str, Any]:
    """Tokens, types, merges, special ids and chat template from a transformers tokenizer folder."""
    tj_path = model_dir / "tokenizer.json"
    tj = _read_json(tj_path)
    model = tj.get("model") or {}
    if model.get("type") != "BPE":
        raise ExportError(f"{tj_path}: only byte-level BPE tokenizers are supported "
                          f"(found {model.get('type')!r}); SentencePiece models need llama.cpp's converter")
    vocab: dict[str, int] = dict(model.get("vocab") or {})
    types: dict[int, int] = {}
    for added in tj.get("added_tokens") or []:
        vocab[added["content"]] = added["id"]
        types[added["id"]] = 3 if added.get("special") else 4  # CONTROL / USER_DEFINED
    n = max(vocab_size, max(vocab.values()) + 1)
    tokens = [f"[PAD{i}]" for i in range(n)]
    token_types = [5] * n  # UNUSED padding rows
    for text, idx in vocab.items():
        tokens[idx] = text
        token_types[idx] = types.get(idx, 1)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    cfg_path = model_dir / "tokenizer_config.json"
    tcfg = _read_json(cfg_path) if cfg_path.exists() else {}
    template = None
    jinja = model_dir / "chat_template.jinja"
    if jinja.exists():
        template = jinja.read_text(encoding="utf-8")
    elif isinstance(tcfg.get("chat_template"), str):
        template = tcfg["chat_template"]
    elif isinstance(tcfg.get("chat_template"), list):
        named = {t.get("name"): t.get("template") for t in tcfg["chat_template"]}
        template = named.get("default") or next(iter(named.values()), None)

    def tid(key: str) -> int | None:
        text = _token_text(tcfg.get(key))
        return vocab.get(text) if text else None

    add_bos = tcfg.get("add_bos_token")
    if add_bos is None:
        post = json.dumps(tj.get("post_processor") or {})
        bos_text = _token_text(tcfg.get("bos_token"))
        add_bos = bool(bos_text) and f'"{bos_text}"' in post
    eot = next((vocab[t] for t in EOT_TEXTS if t in vocab and types.get(vocab[t]) == 3), None)
    return {"tokens": tokens, "types": token_types, "merges": merges, "template": template,
            "bos": tid("bos_token"), "eos": tid("eos_token"), "pad": tid("pad_token"),
            "unk": tid("unk_token"), "eot": eot, "add_bos": bool(add_bos),
            "pre": pre or detect_pre(tj, arch)}


# -------------------------------------------------------------------------------------- export
def _plan(model_dir: Path, config: dict[str, Any], arch: str, ftype: str
          ) -> list[tuple[str, Path | None, str, np.dtype, tuple[int, ...]]]:
    """(gguf name, shard, hf name, out dtype, shape) for every tensor, in write order."""
    import gguf
    from safetensors import safe_open

    n_layer = int(config["num_hidden_layers"])
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], n_layer)
    tied = bool(config.get("tie_word_embeddings", False))
    plan = []
    for shard, name in _tensor_names(_shards(model_dir)):
        if name.endswith("rotary_emb.inv_freq"):
            continue
        if name == "lm_head.weight" and tied:
            continue
        new = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise ExportError(f"{model_dir}: tensor {name!r} has no GGUF name for arch {arch} "
                              "(is this a merged model? LoRA tensors must be merged first)")
        with safe_open(str(shard), framework="numpy") as fh:
            shape = tuple(fh.get_slice(name).get_shape())
        out = np.float16 if (ftype == "f16" and len(shape) == 2) else np.float32
        plan.append((new, shard, name, np.dtype(out), shape))
    return plan


def export_gguf(model_dir: str | Path, out_path: str | Path, *, ftype: str = "f16",
                name: str | None = None, pre: str | None = None) -> dict[str, Any]:
    """Write `out_path` from a merged save_pretrained folder; returns a summary of what was written."""
    import gguf

    model_dir, out_path = Path(model_dir), Path(out_path)
    if ftype not in ("f16", "f32"):
        raise ExportError(f"gguf type must be f16 or f32, not {ftype!r}")
    config = _read_json(model_dir / "config.json")
    arch = detect_arch(config, model_dir / "config.json")
    n_head = int(config["num_attention_heads"])
    n_kv = int(config.get("num_key_value_heads") or n_head)
    hidden = int(config["hidden_size"])
    head_dim = int(config.get("head_dim") or hidden // n_head)
    tok = read_tokenizer(model_dir, int(config["vocab_size"]), arch, pre)
    plan = _plan(model_dir, config, arch, ftype)
    extra: list[tuple[str, np.ndarray]] = []
    if arch == "llama" and _rope_scaling(config)["rope_type"] == "llama3":
        extra.append(("rope_freqs.weight", _llama3_rope_freqs(config, head_dim)))

    w = gguf.GGUFWriter(str(out_path), arch)
    w.add_name(name or model_dir.name)
    w.add_context_length(int(config.get("max_position_embeddings", 2048)))
    w.add_embedding_length(hidden)
    w.add_block_count(int(config["num_hidden_layers"]))
    w.add_feed_forward_length(int(config["intermediate_size"]))
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(_rope_theta(config))
    w.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if ftype == "f16" else gguf.LlamaFileType.ALL_F32)
    if head_dim != hidden // n_head or arch == "qwen3":
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if arch == "llama":
        w.add_rope_dimension_count(head_dim)
        w.add_vocab_size(len(tok["tokens"]))
    scaling = _rope_scaling(config)
    if scaling["rope_type"] == "linear" and scaling.get("factor"):
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(float(scaling["factor"]))
    elif scaling["rope_type"] == "yarn" and scaling.get("factor"):
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(float(scaling["factor"]))
        w.add_rope_scaling_orig_ctx_len(int(scaling.get("original_max_position_embeddings", 0)))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(tok["pre"])
    w.add_token_list(tok["tokens"])
    w.add_token_types(tok["types"])
    w.add_token_merges(tok["merges"])
    for key, adder in (("bos", w.add_bos_token_id), ("eos", w.add_eos_token_id),
                       ("pad", w.add_pad_token_id), ("unk", w.add_unk_token_id),
                       ("eot", w.add_eot_token_id)):
        if tok[key] is not None:
            adder(tok[key])
    w.add_add_bos_token(tok["add_bos"])
    if tok["template"]:
        w.add_chat_template(tok["template"])

    for gname, arr in extra:
        w.add_tensor_info(gname, arr.shape, arr.dtype, arr.nbytes)
    for gname, _shard, _hf, dtype, shape in plan:
        w.add_tensor_info(gname, shape, dtype, int(np.prod(shape)) * dtype.itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for _gname, arr in extra:
        w.write_tensor_data(arr)
    for _gname, shard, hf_name, dtype, _shape in plan:
        w.write_tensor_data(_prepare(_load_tensor(shard, hf_name), hf_name, arch, n_head, n_kv, dtype))
    w.close()
    return {"path": str(out_path), "arch": arch, "ftype": ftype, "pre": tok["pre"],
            "tensors": len(plan) + len(extra), "vocab": len(tok["tokens"]),
            "control_tokens": sum(1 for t in tok["types"] if t == 3),
            "chat_template": bool(tok["template"]), "bytes": out_path.stat().st_size}


def _prepare(arr: np.ndarray, hf_name: str, arch: str, n_head: int, n_kv: int,
             dtype: np.dtype) -> np.ndarray:
    if arch == "llama" and hf_name.endswith("q_proj.weight"):
        arr = _permute(arr, n_head)
    elif arch == "llama" and hf_name.endswith("k_proj.weight"):
        arr = _permute(arr, n_kv)
    return np.ascontiguousarray(arr.astype(dtype, copy=False))


# ---------------------------------------------------------------------------------- validation
def validate_gguf(path: str | Path, expect: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read the file back with gguf.GGUFReader and check what a loader depends on."""
    import gguf

    reader = gguf.GGUFReader(str(path))

    def field(key: str):
        f = reader.get_field(key)
        if f is None:
            raise ExportError(f"{path}: GGUF key {key!r} is missing")
        return f

    arch = field("general.architecture").contents()
    tokens = field("tokenizer.ggml.tokens")
    types = np.asarray(field("tokenizer.ggml.token_type").contents())
    info = {"arch": arch, "tensors": len(reader.tensors), "vocab": len(tokens.data),
            "control_tokens": int((types == 3).sum()),
            "pre": field("tokenizer.ggml.pre").contents(),
            "chat_template": bool(reader.get_field("tokenizer.chat_template")),
            "block_count": int(field(f"{arch}.block_count").contents())}
    names = {t.name for t in reader.tensors}
    for required in ("token_embd.weight", "output_norm.weight", "blk.0.attn_q.weight"):
        if required not in names:
            raise ExportError(f"{path}: tensor {required!r} is missing")
    if any("lora" in n for n in names):
        raise ExportError(f"{path}: contains unmerged LoRA tensors")
    for key, want in (expect or {}).items():
        if key in info and info[key] != want:
            raise ExportError(f"{path}: {key} is {info[key]!r}, expected {want!r}")
    return info
