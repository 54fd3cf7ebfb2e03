#!/usr/bin/env python
"""Ingest benchmarks (issue 17, DESIGN §13), printed as a markdown table for docs/benchmarks.md.

    .venv/bin/python bench/ingest_bench.py [--mb 10] [--chat 50000] [--files 10000]
        [--baseline REV] [--baseline-timeout 900] [--workdir /tmp/mh-ingest-bench] [--keep]

Each case is the whole `mh ingest FILE --now` process on a fresh profile (10k inbox files: the
in-process import, as bench/memory_bench.py measures it):
* a 10 MB text file of prose paragraphs (every chunk starts differently);
* a 10 MB text file of near-identical paragraphs (every chunk gets the same memory id stem —
  the case that took minutes when each write re-probed every taken name);
* a WhatsApp export of N messages between two people (the person's turns become memories);
* 10k small inbox files (text, JSON, JSONL).
`--baseline REV` runs the same cases on `git archive REV` (e.g. the commit before the change)
for a side-by-side column; a baseline case still running after --baseline-timeout is reported
as "> T s".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from memory_bench import make_inbox, memory_text  # noqa: E402

PY = sys.executable


def prose(path: Path, size: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    parts, total = [], 0
    while total < size:
        part = memory_text(rng)
        parts.append(part)
        total += len(part) + 2
    path.write_text("\n\n".join(parts))


def similar(path: Path, size: int) -> None:
    """Paragraphs that all start with the same words (logs, a form letter, a pasted table)."""
    parts, total, i = [], 0, 0
    while total < size:
        part = f"Daily log entry: checked the greenhouse, watered the beds. Entry {i}. " * 6
        parts.append(part)
        total += len(part) + 2
        i += 1
    path.write_text("\n\n".join(parts))


def whatsapp(path: Path, n: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    ts = datetime(2024, 1, 1, 8, 0)
    lines = ["01/01/2024, 08:00 - Messages and calls are end-to-end encrypted. No one outside of "
             "this chat, not even WhatsApp, can read or listen to them. Tap to learn more."]
    for i in range(n):
        ts += timedelta(minutes=rng.randint(1, 240))
        who = rng.choice(("Alex", "Ana Lima"))
        text = memory_text(rng) if rng.random() > 0.05 else "<Media omitted>"
        if rng.random() < 0.1:
            text += "\n" + memory_text(rng)
        lines.append(f"{ts:%d/%m/%Y, %H:%M} - {who}: {text}")
    path.write_text("\n".join(lines) + "\n")


def checkout(rev: str, work: Path) -> Path:
    target = work / f"baseline-{rev}"
    if not target.is_dir():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True,
                                 capture_output=True).stdout
        tar_path = work / f"{rev}.tar"
        tar_path.write_bytes(archive)
        with tarfile.open(tar_path) as tf:
            tf.extractall(target, filter="data")
    return target


def mh(code: Path, home: Path, *args: str, timeout: float | None = None) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(code), MH_HOME=str(home))
    started = time.perf_counter()
    r = subprocess.run([PY, "-m", "metahuman_tui.cli.main", *args], env=env, cwd=code,
                       capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - started
    return elapsed, r.stdout + r.stderr


def ingest_case(code: Path, work: Path, name: str, src: Path, timeout: float | None,
                extra: tuple[str, ...] = ()) -> tuple[float | None, str]:
    home = work / f"home-{code.name}-{name}"
    shutil.rmtree(home, ignore_errors=True)
    mh(code, home, "init", str(home))
    try:
        secs, out = mh(code, home, "ingest", str(src), "--now", *extra, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, ""
    return secs, " ".join(out.split())


def files_case(code: Path, work: Path, n: int) -> tuple[float, str]:
    home = work / f"home-{code.name}-files"
    shutil.rmtree(home, ignore_errors=True)
    mh(code, home, "init", str(home))
    make_inbox(home / "memory" / "inbox", n)
    script = ("import sys,time,json; from metahuman_core.profile import Profile; "
              "from metahuman_core.memory.inbox import process_inbox; p=Profile(sys.argv[1]); "
              "t=time.perf_counter(); r=process_inbox(p, settle_s=0); "
              "print(json.dumps([time.perf_counter()-t, r['files'], r['memories']]))")
    out = subprocess.run([PY, "-c", script, str(home)], env=dict(os.environ, PYTHONPATH=str(code)),
                         cwd=code, capture_output=True, text=True, check=True).stdout
    secs, files, memories = json.loads(out.strip().splitlines()[-1])
    return secs, f"{files} files -> {memories} memories"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--chat", type=int, default=50_000)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--baseline", default=None)
    ap.add_argument("--baseline-timeout", type=float, default=900)
    ap.add_argument("--workdir", default="/tmp/mh-ingest-bench")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    size = int(args.mb * 1_000_000)
    data = work / "data"
    data.mkdir(exist_ok=True)
    cases = [("prose", data / "prose.txt", lambda p: prose(p, size), ()),
             ("similar", data / "similar.txt", lambda p: similar(p, size), ()),
             ("chat", data / "WhatsApp Chat with Ana Lima.txt",
              lambda p: whatsapp(p, args.chat), ("--me", "Alex"))]
    for _, path, make, _ in cases:
        if not path.exists():
            make(path)
    codes = [REPO] + ([checkout(args.baseline, work)] if args.baseline else [])
    rows = []
    labels = {"prose": f"`mh ingest` {args.mb:g} MB text, prose paragraphs",
              "similar": f"`mh ingest` {args.mb:g} MB text, paragraphs with the same first words",
              "chat": f"`mh ingest` WhatsApp export, {args.chat:,} messages"}
    for name, path, _, extra in cases:
        row = [labels[name]]
        note = ""
        for code in codes:
            if code is not REPO and name == "chat":
                row.append("(no chat importer)")
                continue
            secs, out = ingest_case(code, work, name, path, None if code is REPO else
                                    args.baseline_timeout, extra)
            row.append(f"> {args.baseline_timeout:.0f} s" if secs is None else f"{secs:.1f} s")
            if code is REPO:
                note = out.split("Imported ", 1)[-1][:160]
        rows.append(row + [note])
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    row = [f"ingest {args.files:,} inbox files (in-process)"]
    note = ""
    for code in codes:
        secs, note_ = files_case(code, work, args.files)
        row.append(f"{secs:.1f} s")
        note = note if note else note_
    rows.append(row + [note])
    head = ["What", "Now"] + ([f"Before ({args.baseline})"] if args.baseline else []) + ["Result"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
