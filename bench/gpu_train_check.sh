#!/usr/bin/env bash
# bench/gpu_train_check.sh — the trainer on a CUDA machine with no internet access.
#
# Builds a small model locally (trainer/tiny_model.py: Qwen2 architecture, random weights,
# byte-level BPE; nothing is downloaded), then runs the real trainer (`python -m trainer`) three
# ways on the same data: the peft path, the unsloth path (16-bit) and unsloth QLoRA (4-bit).
# Each run trains, evaluates on held-out pairs, merges and writes + verifies a GGUF. Prints a
# markdown table: training throughput (tokens/s), seconds per stage, peak GPU memory, eval result.
#
# Usage: bench/gpu_train_check.sh [PYTHON]         (default python3)
#   PYTHON needs torch with CUDA, transformers, peft, safetensors, tokenizers, gguf, numpy;
#   the unsloth rows also need unsloth, unsloth_zoo, trl, bitsandbytes, xformers (bring wheels:
#   pip install --no-index --find-links WHEELS -r trainer/requirements.txt). Missing unsloth
#   only skips its rows.
# Env: STEPS (default 80), HIDDEN (1024), LAYERS (12), SEQ (512), BATCH (8), KEEP=dir (keep files),
#      ALLOW_CPU=1 (rehearse the script on a machine without a GPU: peft row only, tiny sizes)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${1:-python3}"
STEPS="${STEPS:-80}"; HIDDEN="${HIDDEN:-1024}"; LAYERS="${LAYERS:-12}"; SEQ="${SEQ:-512}"
BATCH="${BATCH:-8}"
WORK="${KEEP:-$(mktemp -d /tmp/gpu-train-check.XXXXXX)}"
mkdir -p "$WORK"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1
export TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

echo "## GPU training check ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
if [[ "${ALLOW_CPU:-0}" == 1 ]]; then
  echo "GPU: none (ALLOW_CPU=1 rehearsal on the CPU)"
elif command -v nvidia-smi >/dev/null 2>&1; then
  echo "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)"
else
  echo "error: nvidia-smi not found: this script needs an NVIDIA GPU" >&2; exit 1
fi
ALLOW_CPU="${ALLOW_CPU:-0}" "$PY" - <<'PY'
import importlib.util, os, sys
import torch
if not torch.cuda.is_available() and os.environ["ALLOW_CPU"] != "1":
    sys.exit("error: torch cannot see a CUDA device (torch %s)" % torch.__version__)
mods = {}
for m in ("transformers", "peft", "gguf", "unsloth", "trl", "bitsandbytes", "xformers", "triton"):
    spec = importlib.util.find_spec(m)
    mods[m] = "absent" if spec is None else "present"
import transformers, peft
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), transformers {transformers.__version__}, "
      f"peft {peft.__version__}; " + ", ".join(f"{k} {v}" for k, v in mods.items() if k not in ("transformers", "peft")))
PY

# ---------------------------------------------------------------- data + base model
"$PY" - "$WORK" <<'PY'
import json, random, sys
from pathlib import Path
work = Path(sys.argv[1])
rng = random.Random(7)
topics = ["rain", "coffee", "oak", "walnut", "the dog", "my sister", "the garden", "jazz", "winter",
          "the river", "chisels", "glue", "the market", "bread", "the bike", "the lake", "books"]
verbs = ["fixed", "sanded", "planned", "talked about", "walked past", "cleaned", "sketched", "finished"]
def answer():
    t, v = rng.choice(topics), rng.choice(verbs)
    extra = " ".join(rng.choice(topics) for _ in range(rng.randint(4, 30)))
    return f"I {v} {t} today. Biscuit slept. Then {extra}."
rows = [{"instruction": f"What did you do about {rng.choice(topics)}?", "input": "",
         "output": answer()} for _ in range(1100)]
inp = work / "data"; inp.mkdir(parents=True, exist_ok=True)
(inp / "all.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
(inp / "unsloth_dataset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:1024]))
(inp / "eval_dataset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[1024:1056]))
PY
"$PY" -m trainer.tiny_model "$WORK/base" --hidden "$HIDDEN" --layers "$LAYERS" --heads 16 \
  --kv-heads 4 --intermediate $((HIDDEN * 11 / 4)) --vocab 4096 --corpus "$WORK/data/all.jsonl" >/dev/null
PARAMS=$("$PY" -c "import json,sys; c=json.load(open('$WORK/base/config.json')); h,l,f,v=c['hidden_size'],c['num_hidden_layers'],c['intermediate_size'],c['vocab_size']; print(round((2*v*h + l*(2*h*h + 2*h*h//4 + 3*h*f))/1e6,1))")
echo "Base model: Qwen2 architecture built locally, hidden $HIDDEN, $LAYERS layers, ~${PARAMS}M parameters;"
echo "1024 training / 32 held-out pairs, batch $BATCH, max_seq_length $SEQ, $STEPS steps."
echo

run() {  # run NAME BACKEND LOAD_IN_4BIT
  local name="$1" backend="$2" q4="$3" dir="$WORK/$1"
  mkdir -p "$dir/in"
  cp "$WORK/data/unsloth_dataset.jsonl" "$WORK/data/eval_dataset.jsonl" "$dir/in/"
  cat > "$dir/in/config.json" <<JSON
{"base_model": "$WORK/base", "backend": "$backend", "load_in_4bit": $q4, "lora_rank": 16,
 "per_device_train_batch_size": $BATCH, "gradient_accumulation_steps": 1, "learning_rate": 0.0005,
 "max_steps": $STEPS, "eval_every_steps": 20, "early_stopping_patience": 100,
 "max_seq_length": $SEQ, "gguf_name": "check", "date": "gpu", "gguf_type": "f16",
 "eval_max_new_tokens": 16, "eval_samples": 1}
JSON
  local t0=$SECONDS rc=0
  "$PY" - "$dir" <<'PY' || rc=$?
import json, runpy, sys, threading, time
from pathlib import Path
d = Path(sys.argv[1])
peak = [0]
def watch():
    try:
        import torch
        while True:
            if torch.cuda.is_initialized():
                peak[0] = max(peak[0], torch.cuda.max_memory_reserved())
            time.sleep(0.5)
    except Exception:
        pass
threading.Thread(target=watch, daemon=True).start()
sys.argv = ["trainer", "--input", str(d / "in"), "--output", str(d / "out")]
try:
    runpy.run_module("trainer", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
else:
    code = 0
import torch
if torch.cuda.is_available():
    peak[0] = max(peak[0], torch.cuda.max_memory_reserved())
(d / "peak.json").write_text(json.dumps({"peak_bytes": peak[0], "exit": code}))
sys.exit(code)
PY
  echo "$rc $((SECONDS - t0))" > "$dir/rc"
}

"$PY" -c "import peft" 2>/dev/null && run peft peft false > "$WORK/peft.log" 2>&1 || true
if "$PY" -c "import unsloth" >/dev/null 2>&1; then
  run unsloth16 unsloth false > "$WORK/unsloth16.log" 2>&1 || true
  run unsloth4 unsloth true > "$WORK/unsloth4.log" 2>&1 || true
else
  echo "(unsloth does not import here: its rows are skipped; see $WORK for details)"
  "$PY" -c "import unsloth" > "$WORK/unsloth-import.log" 2>&1 || true
fi

"$PY" - "$WORK" <<'PY'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
print("| path | exit | tokens/s | train s | steps | stages (s) | peak GPU mem | held-out loss base → adapter | GGUF |")
print("|---|---|---|---|---|---|---|---|---|")
rows = {}
for name in ("peft", "unsloth16", "unsloth4"):
    d = work / name
    if not (d / "rc").exists():
        continue
    rc, wall = (d / "rc").read_text().split()
    res = json.loads((d / "out" / "result.json").read_text()) if (d / "out" / "result.json").exists() else {}
    ev = json.loads((d / "out" / "eval.json").read_text()) if (d / "out" / "eval.json").exists() else {}
    peak = json.loads((d / "peak.json").read_text()) if (d / "peak.json").exists() else {}
    stages = {}
    prog = d / "out" / "progress.ndjson"
    if prog.exists():
        last = [json.loads(x) for x in prog.read_text().splitlines() if x.strip()][-1]
        stages = (last.get("data") or {}).get("stage_seconds") or {}
    tps = res.get("tokens_per_second")
    rows[name] = tps
    stage_txt = ", ".join(f"{k[:5]} {v:.1f}" for k, v in stages.items() if v >= 0.1)
    loss = (f"{ev['base_loss']:.3f} → {ev['adapter_loss']:.3f}" if ev.get("base_loss") is not None else "-")
    gguf = f"{res.get('gguf_bytes', 0) / 1e6:.1f} MB" if res.get("success") else (res.get("error") or "none")[:60]
    print(f"| {name} ({res.get('backend', '?')}) | {rc} | {tps or '-'} | {res.get('train_seconds', '-')} | "
          f"{res.get('steps', '-')} | {stage_txt} | {peak.get('peak_bytes', 0) / 2**30:.2f} GiB | {loss} | {gguf} |")
if rows.get("peft") and rows.get("unsloth16"):
    print(f"\nunsloth (16-bit) vs peft throughput: {rows['unsloth16'] / rows['peft']:.2f}x")
if rows.get("peft") and rows.get("unsloth4"):
    print(f"unsloth (4-bit QLoRA) vs peft throughput: {rows['unsloth4'] / rows['peft']:.2f}x")
print(f"\nlogs and outputs: {work}")
PY
