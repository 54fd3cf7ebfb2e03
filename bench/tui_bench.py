"""TUI benchmarks (DESIGN §13): first frame, opening a 1M-line audit day, scrolling 100k memories.

    .venv/bin/python bench/tui_bench.py [--workdir /tmp/mh-tui-bench] [--lines 1000000]
                                        [--memories 100000] [--toolong /path/to/tl]

* first frame: the real `mh tui` in tmux at 120x40, from launch until the pane tabs are drawn
  (whole process: Python start, imports, profile, first paint); median of 3.
* 1M-line day: `mh tui --pane audit` on a profile whose day file has N real audit lines, until
  the info line says the day is indexed ("1,000,000 lines"); the same file opened with toolong
  (`tl FILE`, if installed, e.g. `python -m venv /tmp/tl && /tmp/tl/bin/pip install toolong`)
  until its "Scanning…" overlay is gone. RSS of each process afterwards.
* 100k memories: in process (headless Pilot, 120x40): time to list them, then per-key latency of
  PageDown/Down and of jumping to the end and back.

Generated data is cached in --workdir, so a second run only measures. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DAY = "2025-10-19"
LEVELS = ("info",) * 17 + ("warn", "warn", "error")
NOW = datetime(2025, 10, 19, 23, 0, tzinfo=timezone(timedelta(hours=2)))


# ------------------------------------------------------------------ data
def make_profile(root: Path) -> None:
    from metahuman_core import clock
    from metahuman_core.profile import init_profile

    if (root / "persona" / "core.json").exists():
        return
    clock.set_clock(clock.FixedClock(NOW - timedelta(days=9)))
    init_profile(root)
    clock.set_clock(None)
    from metahuman_core.profile import Profile

    Profile(root).config.set_value("agent.host", "http://127.0.0.1:9")  # no LLM: status "down"


def make_audit_day(root: Path, lines: int) -> Path:
    """N chained audit lines for DAY (the real line format, hashes included)."""
    from metahuman_core.audit import GENESIS, build_line

    path = root / "logs" / "audit" / f"{DAY}.ndjson"
    marker = path.with_suffix(".lines")
    if path.exists() and marker.exists() and marker.read_text() == str(lines):
        return path
    prev = GENESIS
    events = ("data_create", "skill_executed", "agent_cycle", "chat_exchange")
    with path.open("w", encoding="utf-8") as fh:
        for i in range(1, lines + 1):
            ts = f"{DAY}T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.000+02:00"
            line, prev = build_line(i, prev, ts, LEVELS[i % 20],
                                    ("system", "data", "action", "decision", "security")[i % 5],
                                    events[i % 4], ("cli", "organizer", "tui", "operator")[i % 4],
                                    {"resource": "memory", "n": i})
            fh.write(line)
    marker.write_text(str(lines))
    return path


def make_memories(root: Path, count: int) -> None:
    """N memory files written directly (the file format is the contract), then indexed."""
    from metahuman_core.profile import Profile
    from metahuman_core.search import index_for

    folder = root / "memory" / "episodic" / "2025"
    marker = folder.parent / ".bench-count"
    if marker.exists() and marker.read_text() == str(count):
        return
    folder.mkdir(parents=True, exist_ok=True)
    start = NOW - timedelta(days=400)
    kinds = ("observation", "journal", "reflection", "conversation")
    for i in range(count):
        ts = start + timedelta(minutes=5 * i)
        mid = f"evt-{ts:%Y%m%d-%H%M%S}-bench-{i}"
        (folder / f"{mid}.json").write_text(json.dumps({
            "id": mid, "timestamp": ts.isoformat(), "type": kinds[i % 4],
            "content": f"Bench memory {i}: met {('Sarah', 'Tom', 'Ana')[i % 3]} about topic {i % 97}.",
            "tags": [f"t{i % 13}"], "entities": [], "importance": 0.5, "links": [],
            "metadata": {"processed": False}}))
    t0 = time.perf_counter()
    index_for(Profile(root)).rebuild()
    print(f"  (indexed {count:,} memories in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    marker.write_text(str(count))


# ------------------------------------------------------------------ tmux timing
class Tmux:
    def __init__(self, name: str):
        self.base = ["tmux", "-L", name, "-f", "/dev/null"]

    def run(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True).stdout

    def time_until(self, command: str, done, timeout: float = 120.0) -> tuple[float, int]:
        """Seconds from launch until done(screen) is true; RSS (KiB) of the pane's process."""
        self.run("kill-server")
        t0 = time.perf_counter()
        self.run("new-session", "-d", "-s", "b", "-x", "120", "-y", "40", command)
        try:
            while time.perf_counter() - t0 < timeout:
                if done(self.run("capture-pane", "-p", "-t", "b")):
                    took = time.perf_counter() - t0
                    return took, self.rss()
                time.sleep(0.02)
            raise TimeoutError(f"timed out: {command}\n{self.run('capture-pane', '-p', '-t', 'b')}")
        finally:
            self.run("kill-server")

    def rss(self) -> int:
        pid = self.run("display", "-p", "-t", "b", "#{pane_pid}").strip()
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0


def mh_cmd(root: Path, *args: str) -> str:
    env = f"env MH_HOME={root} MH_FAKE_NOW={NOW.isoformat()} TERM=xterm-256color"
    return f"{env} {REPO / '.venv' / 'bin' / 'mh'} {' '.join(args)}"


# ------------------------------------------------------------------ in-process scrolling
async def scroll_memories(root: Path, count: int) -> dict[str, float]:
    from metahuman_core.profile import Profile
    from metahuman_tui.app import create_app
    from metahuman_tui.screens.services import Services, TuiSettings
    from metahuman_tui.widgets.memory_list import MemoryList

    prof = Profile(root)
    app = create_app(prof, services=Services(prof, TuiSettings(poll=False)), start="memory")
    out: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        lst = app.screen.query_one(MemoryList)
        t0 = time.perf_counter()
        while lst.count < count:
            await asyncio.sleep(0.01)
            if time.perf_counter() - t0 > 120:
                raise TimeoutError("memory list never filled")
        await pilot.pause()
        out["list"] = time.perf_counter() - t0

        height = lst.scrollable_content_region.height

        def redraw() -> None:
            """What one key costs the list: move, then draw every visible row."""
            for y in range(height):
                lst.render_line(y)

        def per_key(action, n: int) -> float:
            times = []
            for _ in range(n):
                t = time.perf_counter()
                action()
                redraw()
                times.append(time.perf_counter() - t)
            return statistics.median(times)

        out["pagedown"] = per_key(lambda: lst.action_page(1), 100)
        out["down"] = per_key(lambda: lst.action_cursor(1), 200)
        out["end"] = per_key(lst.action_last, 1)
        out["home"] = per_key(lst.action_first, 1)
        await pilot.pause()
        assert lst.cursor == 0
        # the same keys through the whole app (key event → binding → redraw), median of 20
        times = []
        for _ in range(20):
            t = time.perf_counter()
            await pilot.press("pagedown")
            times.append(time.perf_counter() - t)
        out["pilot"] = statistics.median(times)
    return out


# ------------------------------------------------------------------ main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="/tmp/mh-tui-bench")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--memories", type=int, default=100_000)
    ap.add_argument("--toolong", default=shutil.which("tl") or "/tmp/toolong-venv/bin/tl")
    args = ap.parse_args()
    if not shutil.which("tmux"):
        print("tmux is needed for the whole-process timings", file=sys.stderr)
        return 2
    work = Path(args.workdir)
    audit_home, mem_home = work / "audit-home", work / "memory-home"
    for home in (audit_home, mem_home):
        make_profile(home)
    print("preparing data…", file=sys.stderr)
    day = make_audit_day(audit_home, args.lines)
    make_memories(mem_home, args.memories)
    tmux = Tmux(f"mh-tui-bench-{os.getpid()}")

    firsts = [tmux.time_until(mh_cmd(audit_home, "tui"), lambda s: "F2 Chat" in s)[0]
              for _ in range(3)]
    want = f"{args.lines:,} lines"
    ours, ours_rss = tmux.time_until(mh_cmd(audit_home, "tui", "--pane", "audit"),
                                     lambda s: want in s and "indexing" not in s)
    rows = [("First frame (`mh tui`, whole process, median of 3)", f"{statistics.median(firsts):.2f} s",
             "≤ 1.5 s"),
            (f"Open a {args.lines:,}-line audit day (`mh tui --pane audit`, until indexed)",
             f"{ours:.2f} s, RSS {ours_rss / 1024:.0f} MiB", "≤ 2 s")]
    tl = Path(args.toolong)
    if tl.exists():
        theirs, theirs_rss = tmux.time_until(
            f"env TERM=xterm-256color {tl} {day}",
            lambda s: "{" in s and "Scanning" not in s)
        rows.append(("  toolong 1.5 opening the same file (until its scan is done)",
                     f"{theirs:.2f} s, RSS {theirs_rss / 1024:.0f} MiB", "side by side"))
    else:
        rows.append(("  toolong", "not installed (see --toolong)", ""))
    scroll = asyncio.run(scroll_memories(mem_home, args.memories))
    rows += [(f"List {args.memories:,} memories (browse, in process)", f"{scroll['list']:.2f} s", ""),
             ("  PageDown / Down: move + draw the visible rows (median)",
              f"{scroll['pagedown'] * 1000:.2f} ms / {scroll['down'] * 1000:.2f} ms",
              "no lag (< 16 ms)"),
             ("  jump to the end / back to the top (same)",
              f"{scroll['end'] * 1000:.2f} ms / {scroll['home'] * 1000:.2f} ms", ""),
             ("  PageDown through the whole app (Pilot key press, median of 20)",
              f"{scroll['pilot'] * 1000:.1f} ms", "")]
    print(f"\nTUI benchmarks ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"{datetime.now():%Y-%m-%d})\n")
    print("| What | Measured | Target (DESIGN §13) |")
    print("|---|---|---|")
    for what, measured, target in rows:
        print(f"| {what} | {measured} | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
