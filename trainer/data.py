"""Dataset loading and formatting: pairs → chat-template token ids with the prompt masked.

The base model's own chat template is used (ChatML when it has none), because the GGUF carries
that template and llama.cpp/Ollama format prompts with it at inference: training on any other
format (the seed's "### Instruction:" text) gives nonsense answers. Loss covers only the response
and its end-of-turn token; the prompt and anything after the end-of-turn (ChatML's trailing "\n")
are labelled -100.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}")
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>")
IGNORE = -100


class DataError(ValueError):
    """A dataset line is unusable; the message names the file and line."""


def load_pairs(path: str | Path) -> list[dict[str, str]]:
    """Read {instruction, input, output} JSONL. Lines without instruction/output are errors."""
    path = Path(path)
    rows: list[dict[str, str]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{no}: invalid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{no}: expected an object")
        for key in ("instruction", "output"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise DataError(f"{path}:{no}: field '{key}' must be a non-empty string")
        inp = row.get("input") or ""
        if not isinstance(inp, str):
            raise DataError(f"{path}:{no}: field 'input' must be a string")
        rows.append({"instruction": row["instruction"], "input": inp, "output": row["output"]})
    return rows


def split_heldout(rows: list[dict], fraction: float = 0.15, seed: int = 42,
                  minimum: int = 12) -> tuple[list, list]:
    """Used only when no eval_dataset.jsonl came with the run: a seeded random held-out slice
    of max(12, 15%) pairs, at most half of them."""
    if len(rows) < 10:
        return rows, []
    idx = list(range(len(rows)))
    random.Random(seed).shuffle(idx)
    n = min(len(rows) // 2, max(minimum, round(len(rows) * fraction)))
    held = set(idx[:n])
    return [r for i, r in enumerate(rows) if i not in held], [rows[i] for i in sorted(held)]


def ensure_template(tokenizer, choice: str = "auto") -> str:
    """Install ChatML when the model has no template (or when asked); returns which one is used."""
    if choice == "chatml" or not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_TEMPLATE
        return "chatml"
    return "model"


def messages(row: dict[str, str], system_prompt: str | None) -> list[dict[str, str]]:
    user = row["instruction"].strip()
    if row.get("input", "").strip():
        user = f"{user}\n\n{row['input'].strip()}"
    msgs = [{"role": "system", "content": system_prompt}] if system_prompt else []
    msgs.append({"role": "user", "content": user})
    return msgs


def prompt_text(tokenizer, row: dict[str, str], system_prompt: str | None) -> str:
    return tokenizer.apply_chat_template(messages(row, system_prompt), tokenize=False,
                                         add_generation_prompt=True)


def _ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def end_of_turn_ids(tokenizer) -> set[int]:
    ids = set()
    for text in END_OF_TURN:
        tid = tokenizer.convert_tokens_to_ids(text)
        if isinstance(tid, int) and tid >= 0 and tid != tokenizer.unk_token_id:
            ids.add(tid)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    prompt_len: int


def encode(tokenizer, row: dict[str, str], system_prompt: str | None, max_len: int,
           eot: set[int] | None = None) -> Example | None:
    """Token ids of prompt + response with labels on the response only; None if nothing fits."""
    prompt = prompt_text(tokenizer, row, system_prompt)
    full = tokenizer.apply_chat_template(
        messages(row, system_prompt) + [{"role": "assistant", "content": row["output"].strip()}],
        tokenize=False)
    p_ids, f_ids = _ids(tokenizer, prompt), _ids(tokenizer, full)
    n = 0
    while n < min(len(p_ids), len(f_ids)) and p_ids[n] == f_ids[n]:
        n += 1  # the prompt is normally a token prefix; templates that differ still mask safely
    eot = end_of_turn_ids(tokenizer) if eot is None else eot
    end = len(f_ids)
    for i in range(n, len(f_ids)):
        if f_ids[i] in eot:
            end = i + 1
            break
    f_ids = f_ids[:min(end, max_len)]
    if n >= len(f_ids):
        return None
    labels = [IGNORE] * n + f_ids[n:]
    return Example(f_ids, labels, n)


def encode_all(tokenizer, rows: list[dict[str, str]], system_prompt: str | None,
               max_len: int) -> tuple[list[Example], int]:
    """Encoded examples and the number skipped because the prompt alone exceeds max_len."""
    eot = end_of_turn_ids(tokenizer)
    out, skipped = [], 0
    for row in rows:
        ex = encode(tokenizer, row, system_prompt, max_len, eot)
        if ex is None:
            skipped += 1
        else:
            out.append(ex)
    return out, skipped


def collate(batch: list[Example], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors: input_ids, attention_mask, labels."""
    import torch

    width = max(len(ex.input_ids) for ex in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, ex in enumerate(batch):
        n = len(ex.input_ids)
        ids[i, :n] = torch.tensor(ex.input_ids)
        labels[i, :n] = torch.tensor(ex.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
