"""What `mh ingest` prints: one line per file (format, messages read, turns imported, skipped,
duplicates, or why it failed), and a progress bar on a terminal while a large file is written.
Rich is imported only when stderr is a terminal (the core gets a plain callback)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from . import common

Progress = Callable[[str, int, int], None]


def _n(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"


def file_line(r: dict[str, Any]) -> str:
    name = r.get("from") or r["file"]
    if r.get("status") == "duplicate":
        return f"{name}: already imported (same content), nothing added"
    if r.get("status") == "failed":
        return f"{name}: {r.get('reason', 'failed')}"
    parts = [r.get("format", "?")]
    if "messages" in r:
        parts += [_n(r["messages"], "message") + " read", _n(r["turns"], "turn") + " imported",
                  f"{r.get('skipped', 0)} skipped (system/media)"]
    else:
        parts += [_n(r.get("items", 0), "item") + " read", _n(r.get("memories", 0), "memory", "memories")]
        if r.get("skipped"):
            parts.append(f"{r['skipped']} skipped")
    parts.append(_n(r.get("duplicates", 0), "duplicate"))
    return f"{name}: " + ", ".join(parts)


def print_result(result: dict[str, Any]) -> None:
    reports = result.get("reports") or []
    common.echo(f"Imported {result['files']} file(s) as {_n(result['memories'], 'memory', 'memories')}; "
                f"{result['failed']} failed, {result['skipped']} skipped")
    for r in reports:
        if r.get("status") != "failed":
            common.echo("  " + file_line(r))
    for r in reports:
        if r.get("status") == "failed":
            common.echo(f"error: {file_line(r)}", err=True)
    if result["failed"]:
        common.echo("  hint: failed files are in memory/inbox/_failed/ with a .error.txt beside "
                    "each; fix and ingest again", err=True)


@contextlib.contextmanager
def progress_bar() -> Iterator[Progress | None]:
    """A transient bar per file on a terminal; None elsewhere (pipes, CI, --json)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn,
                               TimeRemainingColumn)

    tasks: dict[str, Any] = {}
    with Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
             TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(f"importing {name}", total=total)
            bar.update(tasks[name], completed=done, total=total)

        yield update
