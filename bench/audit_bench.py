"""Audit log benchmark: append throughput (lock + hash chain) and verify time at 1M lines.

    .venv/bin/python bench/audit_bench.py [--lines 1000000] [--keep DIR]

Prints a markdown table (paste into docs/benchmarks.md). Targets (DESIGN §13): append ≥ 5,000
lines/s; verify of 1M lines ≤ 10 s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metahuman_core.audit import AuditLog


def _appender(args):
    logs, n = args
    log = AuditLog(Path(logs))
    for i in range(n):
        log.append("bench_event", category="action", actor="bench",
                   details={"i": i, "path": "memory/episodic/2025/evt-x.json", "ok": True})
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--keep", default=None)
    args = ap.parse_args()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="mh-audit-bench-"))
    logs = tmp / "logs"
    rows = []

    # single process append rate
    n1 = 20_000
    log = AuditLog(logs)
    t = time.perf_counter()
    for i in range(n1):
        log.append("bench_event", category="action", actor="bench", details={"i": i})
    dt = time.perf_counter() - t
    rows.append(("append, 1 process", f"{n1:,} lines", f"{n1 / dt:,.0f} lines/s", "≥ 5,000 lines/s"))

    # concurrent append rate
    per = 10_000
    t = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.procs) as pool:
        pool.map(_appender, [(str(logs), per)] * args.procs)
    dt = time.perf_counter() - t
    total = per * args.procs
    rows.append((f"append, {args.procs} processes", f"{total:,} lines", f"{total / dt:,.0f} lines/s",
                 "≥ 5,000 lines/s"))

    # fill to N lines (fast path, one process) then verify
    have = n1 + total
    remaining = max(0, args.lines - have)
    t = time.perf_counter()
    for i in range(remaining):
        log.append("bench_event", category="action", actor="bench", details={"i": i})
    fill = time.perf_counter() - t
    if remaining:
        rows.append(("append (fill), 1 process", f"{remaining:,} lines",
                     f"{remaining / fill:,.0f} lines/s", "≥ 5,000 lines/s"))
    t = time.perf_counter()
    res = log.verify(all_days=True)
    dt = time.perf_counter() - t
    assert res.ok, res.first_problem()
    size = sum(p.stat().st_size for p in (logs / "audit").glob("*.ndjson"))
    rows.append(("verify --all", f"{res.checked:,} lines ({size / 1e6:.0f} MB)", f"{dt:.2f} s",
                 "≤ 10 s at 1M"))

    # damage: cut the last line by hand; the next append records it (a full scan, once)
    log.close()
    day = max((logs / "audit").glob("*.ndjson"))
    with day.open("rb+") as fh:
        data = fh.read()
        fh.truncate(data.rstrip(b"\n").rfind(b"\n") + 1)
    log = AuditLog(logs)
    t = time.perf_counter()
    log.append("bench_event", category="action", actor="bench", details={"after": "damage"})
    dt = time.perf_counter() - t
    assert log.last_repair is not None
    rows.append(("first append after damage (records audit_chain_repaired)",
                 f"{res.checked:,} lines", f"{dt:.2f} s", "(once per damage)"))
    t = time.perf_counter()
    res = log.verify(all_days=True)
    dt = time.perf_counter() - t
    assert not res.ok and len(res.problems) == 2, res.problems
    rows.append(("verify --all of the damaged log (2 problems reported)",
                 f"{res.checked:,} lines", f"{dt:.2f} s", "≤ 10 s at 1M"))

    print("| what | size | result | target |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
