"""MCP server benchmark: start-up of `mh mcp` to a ready server, and one tool call's round trip.

    .venv/bin/python bench/mcp_bench.py [--runs 10]

"Ready" = the process is spawned, the client's `initialize` is answered: what a desktop client
waits for before it shows the tools. Each run spawns a fresh `mh --home TMP mcp` (as a client
does), writes the JSON-RPC lines itself (no SDK on the client side, so only the server's cost
is measured), then closes stdin. Also timed: `mh --help` (plain start-up, which must not change)
and a `memory_search` call after initialize. Prints a markdown table for docs/benchmarks.md.
Target (issue 22): start-up to ready ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MH = [sys.executable, "-m", "metahuman_tui.cli.main"]
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "bench", "version": "0"}}}
CALL = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "memory_search", "arguments": {"query": "lighthouse"}}}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MH_HOME"}
    env["PYTHONPATH"] = str(REPO)
    return env


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a live process (Linux /proc): what its start-up costs on an idle
    machine, whatever the load of this one."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(home: Path) -> tuple[float, float, float, float]:
    """(seconds to the initialize reply, seconds for one tools/call, seconds to exit, CPU
    seconds the server used until ready)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([*MH, "--home", str(home), "mcp"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env(),
                            text=True, cwd=REPO)
    assert proc.stdin and proc.stdout
    proc.stdin.write(json.dumps(INIT) + "\n")
    proc.stdin.flush()
    reply = json.loads(proc.stdout.readline())
    ready = time.perf_counter() - t0
    cpu = cpu_seconds(proc.pid)
    assert reply.get("id") == 1 and "result" in reply, reply
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
    t1 = time.perf_counter()
    proc.stdin.write(json.dumps(CALL) + "\n")
    proc.stdin.flush()
    answer = json.loads(proc.stdout.readline())
    call = time.perf_counter() - t1
    assert answer.get("id") == 2 and not answer["result"].get("isError"), answer
    t2 = time.perf_counter()
    proc.stdin.close()
    rc = proc.wait(timeout=30)
    assert rc == 0, rc
    return ready, call, time.perf_counter() - t2, cpu


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a whole short command."""
    t0 = time.perf_counter()
    before = os.times()
    subprocess.run(argv, capture_output=True, check=True, env=_env(), cwd=REPO)
    after = os.times()
    cpu = (after.children_user - before.children_user) + \
        (after.children_system - before.children_system)
    return time.perf_counter() - t0, cpu


SDK_ONLY = [sys.executable, "-c",  # os._exit: count the import, not the teardown
            "import os, mcp.server.lowlevel, mcp.server.stdio; os._exit(0)"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mh-mcp-bench-") as tmp:
        home = Path(tmp) / "home"
        subprocess.run([*MH, "init", str(home)], capture_output=True, check=True, env=_env(),
                       cwd=REPO)
        subprocess.run([*MH, "--home", str(home), "capture",
                        "Lunch with Ada about the lighthouse project"], capture_output=True, check=True, env=_env(),
                       cwd=REPO)
        one_run(home)  # warm the OS file cache, as a second launch by a client would be
        runs = [one_run(home) for _ in range(args.runs)]
        helps = [timed([*MH, "--help"]) for _ in range(args.runs)]
        sdk = [timed(SDK_ONLY) for _ in range(args.runs)]
    ready = sorted(r[0] for r in runs)
    calls = sorted(r[1] for r in runs)
    exits = sorted(r[2] for r in runs)
    ready_cpu = sorted(r[3] for r in runs)

    def row(name: str, values: list[float], target: str, unit: float = 1.0, fmt: str = "{:.2f} s"):
        med, worst = statistics.median(values) * unit, values[-1] * unit
        return f"| {name} | {fmt.format(med)} | {fmt.format(worst)} | {target} |"

    load = os.getloadavg()[0]
    print(f"{args.runs} runs, {os.cpu_count()} CPUs, load {load:.1f}\n")
    print("| What | median | worst | target |\n|---|---|---|---|")
    print(row("`mh mcp` spawn → initialize answered (ready), wall", ready, "≤ 1 s"))
    print(row("… CPU time the server used until ready", ready_cpu, "≤ 1 s"))
    print(row("the SDK's import alone (`import mcp.server.lowlevel, mcp.server.stdio`), wall",
              sorted(w for w, _ in sdk), "—"))
    print(row("… its CPU time", sorted(c for _, c in sdk), "—"))
    print(row("`memory_search` tools/call round trip", calls, "—", 1000, "{:.0f} ms"))
    print(row("stdin closed → process exited", exits, "clean exit"))
    print(row("`mh --help` (plain start-up, for comparison), wall", sorted(w for w, _ in helps),
              "unchanged"))


if __name__ == "__main__":
    main()
