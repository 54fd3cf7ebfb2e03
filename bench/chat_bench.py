"""Chat prompt build time (persona + overnight learnings + retrieval) at 100k memories.

DESIGN §13 target: building the Tier-1 system prompt costs < 30 ms at 100k memories.

    .venv/bin/python bench/chat_bench.py [--memories 100000] [--home DIR] [--queries 60]

The profile (its memory files + index) is generated once under --home (default
/tmp/mh-chat-bench-<N>) with bench/memory_bench.py's generator and reused by later runs. Messages
are natural questions (most share words with many memories). Prints a markdown table for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUERIES = ["What did Sarah say about the budget?", "How is the database migration going?",
           "When is the dentist appointment?", "Tell me about piano lessons",
           "What do I think about sourdough bread?", "Did I talk to Priya about chess?", "hello",
           "What happened in Lisbon?", "How was the marathon?",
           "what did I talk about with sarah at the cafe", "Any news on the roof repair?",
           "What should I cook for dinner with cheese and apples?"]


def generate(root: Path, n: int) -> None:
    """The memory benchmark's generator (bench/memory_bench.py: realistic mixed memories spread
    over three years), then a full index rebuild."""
    from bench.memory_bench import generate as write_memories
    from metahuman_core.profile import Profile, init_profile
    from metahuman_core.search import index_for

    init_profile(root)
    t0 = time.perf_counter()
    write_memories(root, n)
    print(f"  wrote {n} memories in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    t1 = time.perf_counter()
    index_for(Profile(root)).rebuild()
    print(f"  index rebuilt in {time.perf_counter() - t1:.1f} s", file=sys.stderr)
    (root / ".bench-ready").write_text(str(n))


def overnight(root: Path) -> None:
    folder = root / "memory" / "procedural" / "overnight"
    folder.mkdir(parents=True, exist_ok=True)
    for day in ("2025-10-17", "2025-10-18"):
        (folder / f"{day}.md").write_text(f"# Overnight learnings {day}\n\n" + "- prefers short, "
                                          "direct answers in the morning\n" * 20)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memories", type=int, default=100_000)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--queries", type=int, default=60)
    args = ap.parse_args(argv)
    root = args.home or Path(f"/tmp/mh-chat-bench-{args.memories}")
    ready = root / ".bench-ready"
    if not (ready.exists() and ready.read_text() == str(args.memories)):
        print(f"generating {args.memories} memories in {root} …", file=sys.stderr)
        generate(root, args.memories)
    overnight(root)

    from metahuman_core.profile import Profile
    from metahuman_core.prompt import build_system_prompt
    from metahuman_core.search import index_for

    prof = Profile(root)
    count = index_for(prof).count()
    build_system_prompt(prof, "warm up")  # open the index once, as a running chat has
    rows: dict[str, list[float]] = {"persona": [], "learnings": [], "retrieval": [], "total": []}
    grounded = 0
    for i in range(args.queries):
        built = build_system_prompt(prof, QUERIES[i % len(QUERIES)])
        grounded += bool(built.memories)
        for key in rows:
            rows[key].append(built.timings_ms[key])
    print(f"\nChat prompt build at {count:,} indexed memories ({args.queries} messages, "
          f"{grounded} grounded in retrieved memories; target: total < 30 ms)\n")
    print("| part | median ms | p95 ms | max ms |")
    print("|---|---|---|---|")
    for key, values in rows.items():
        print(f"| {key} | {statistics.median(values):.2f} | {pct(values, 95):.2f} | "
              f"{max(values):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
