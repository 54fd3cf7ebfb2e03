"""Chat prompt build time (persona + overnight learnings + retrieval) at 100k memories.

DESIGN §13 target: building the Tier-1 system prompt costs < 30 ms at 100k memories.

    .venv/bin/python bench/chat_bench.py [--memories 100000] [--home DIR] [--queries 60]

The profile (and its 100k memory files + index) is generated once under --home (default
/tmp/mh-chat-bench-<N>) and reused by later runs. Memories are written with the memory store's own
writer (MemoryStore.prepare + write_new, no per-file index update), then the index is rebuilt.
Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PEOPLE = ["Sarah", "Tom", "Priya", "Marco", "Lena", "Ahmed", "Grace", "Yuki", "Olu", "Ines"]
PLACES = ["the harbour", "the office", "the garden", "the library", "the bakery", "the gym",
          "the station", "the workshop", "the market", "home"]
TOPICS = ["the greenhouse plan", "the quarterly report", "a new bike", "the tax forms",
          "the operator demo", "a birthday gift", "the kitchen shelves", "the API migration",
          "the book club pick", "the vacation budget", "the dentist appointment",
          "the garden tomatoes", "the release checklist", "the roof repair", "a running plan"]
FEELINGS = ["felt good about it", "was tired afterwards", "need to follow up", "it went well",
            "still unsure", "learned something", "want to try again", "it was frustrating"]
TYPES = ["observation"] * 6 + ["conversation", "reflection", "journal", "dream"]
QUERIES = ["What did Sarah say about the greenhouse plan?", "How was the API migration going?",
           "When is the dentist appointment?", "Tell me about the book club",
           "What do I think about the roof repair?", "Did I meet Priya at the library?",
           "How do I feel about running?", "hello", "What happened at the harbour last week?",
           "Remind me about the tax forms"]


def generate(root: Path, n: int, seed: int = 7) -> None:
    from metahuman_core.memory import MemoryStore
    from metahuman_core.profile import Profile, init_profile
    from metahuman_core.search import index_for

    init_profile(root)
    prof = Profile(root)
    store = MemoryStore(prof)
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    t0 = time.perf_counter()
    for i in range(n):
        who, where, what = rng.choice(PEOPLE), rng.choice(PLACES), rng.choice(TOPICS)
        text = (f"Met {who} at {where} to talk about {what}; {rng.choice(FEELINGS)}. "
                f"{rng.choice(PEOPLE)} mentioned {rng.choice(TOPICS)} too.")
        rec = store.prepare(text, type=rng.choice(TYPES), tags=[what.split()[-1]],
                            entities=[who], timestamp=start + timedelta(minutes=17 * i))
        store.write_new(rec, durable=False)
        if (i + 1) % 10000 == 0:
            print(f"  wrote {i + 1} memories ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    t1 = time.perf_counter()
    index_for(prof).rebuild()
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
