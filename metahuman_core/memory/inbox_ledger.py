"""The inbox's bookkeeping in memory/inbox/_ledger/ (append-only lines, torn last lines ignored):

* imported.ndjson — files imported, by sha256 (the same file dropped again is a duplicate);
* keys.ndjson     — message identities imported ({"id", "keys"}): a re-import, or a later and
                    longer export of the same chat, adds only messages not listed here;
* journal.ndjson  — the crash journal of the current run (see Journal);
* hints/<name>.json — what `mh ingest` was told about one queued file ({"from", "format", "me"}),
                    so the ingestor agent imports it the same way later.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from ..storage import atomic_write_json, read_json


def append_lines(path: Path, objs: list[dict]) -> None:
    if not objs:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_lines(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue  # a torn last line after a crash
        if isinstance(obj, dict):
            out.append(obj)
    return out


def read_keys(path: Path) -> set[str]:
    return {k for e in read_lines(path) for k in e.get("keys") or () if isinstance(k, str)}


# ---------------------------------------------------------------------- hints
def hints_path(inbox: Path, name: str) -> Path:
    return inbox / "_ledger" / "hints" / f"{name}.json"


def write_hints(inbox: Path, name: str, hints: dict[str, Any]) -> None:
    path = hints_path(inbox, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, hints)


def read_hints(inbox: Path, name: str) -> dict[str, Any]:
    try:
        data = read_json(hints_path(inbox, name))
    except (FileNotFoundError, ValueError, OSError):
        return {}
    except Exception:  # noqa: BLE001 - a damaged hint file only loses the hint
        return {}
    return data if isinstance(data, dict) else {}


def drop_hints(inbox: Path, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        hints_path(inbox, name).unlink()


# ---------------------------------------------------------------------- crash journal
class Journal:
    """Crash journal of one import run (and of an interrupted one before it): one line per chunk
    state — pending (with its planned file stem), then done (with its id, and the message keys
    it covers) — so a crash at any point is recoverable without duplicates. Keyed chunks
    ("k…", from a message identity) are found whatever file they came from: a later export may
    carry the messages an interrupted import was writing."""

    def __init__(self, path: Path):
        self.path = path
        self.done: dict[str, dict[str, str]] = {}
        self.pending: dict[str, dict[str, str]] = {}
        self.keyed_pending: dict[str, str] = {}
        self.keys: set[str] = set()
        for entry in read_lines(path):
            sha, chunk = entry.get("sha256"), entry.get("chunk")
            if not isinstance(sha, str) or not isinstance(chunk, str):
                continue
            if "id" in entry:
                self.done.setdefault(sha, {})[chunk] = entry["id"]
                self.keys.update(k for k in entry.get("keys") or () if isinstance(k, str))
                self.keyed_pending.pop(chunk, None)
            elif "stem" in entry:
                self.pending.setdefault(sha, {})[chunk] = entry["stem"]
                if chunk.startswith("k"):
                    self.keyed_pending[chunk] = entry["stem"]
        self.mentioned = set(self.done) | set(self.pending)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def pending_stem(self, sha: str, chunk: str) -> str | None:
        return self.pending.get(sha, {}).get(chunk) or self.keyed_pending.get(chunk)

    def mark(self, sha: str, chunk: str, **kw) -> None:
        self.mentioned.add(sha)
        line = json.dumps({"sha256": sha, "chunk": chunk, **kw}, ensure_ascii=False) + "\n"
        os.write(self.fd, line.encode("utf-8"))

    def close(self, finished: set[str]) -> None:
        """Forget the journal once every file it mentions is recorded as imported."""
        os.close(self.fd)
        if self.mentioned <= finished:
            os.truncate(self.path, 0)
