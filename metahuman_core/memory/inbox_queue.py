"""Queueing files into memory/inbox/ (`mh ingest PATH…`): copies under a hidden temp name, then an
exclusive final name, so the ingestor never sees half a file and nothing is overwritten.

* A file named explicitly is always queued (unreadable content ends in _failed/ with its reason).
* A folder: its top-level files; binary files are left where they are (reported), except a zip
  holding a chat export or notes; subfolders are reported as skipped, or walked with
  `recursive`. A vault (a folder with `.obsidian/`, or any folder with format "markdown") is
  packed into one `<vault>.zip` of its notes: one import, one archive entry.
* `format` and `me` are remembered beside each queued file (inbox_ledger hints), so the
  ingestor agent imports it later exactly as `--now` would.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import events
from ..errors import ValidationFailed
from .importers import ParseError, Source, detect
from .inbox_ledger import drop_hints, write_hints


@dataclass
class Skipped:
    binary: list[Path] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)


def claim(folder: Path, name: str) -> Path:
    """An empty file `folder/name` (or `name-2`, `name-3`… before the extension) that is ours."""
    folder.mkdir(parents=True, exist_ok=True)
    for target in _candidates(folder, name):
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return target
        except FileExistsError:
            continue
    raise ValidationFailed(f"no free name for {name} in {folder}")


def move_unique(src: Path, folder: Path) -> Path:
    target = claim(folder, src.name)
    os.replace(src, target)
    return target


def _candidates(folder: Path, name: str):
    stem, suffix = os.path.splitext(name)
    if not stem:
        stem, suffix = name, ""
    for n in range(1, 100_000):
        yield folder / (name if n == 1 else f"{stem}-{n}{suffix}")


def _link_unique(src: Path, folder: Path, name: str, hints: dict) -> Path:
    """Give the complete file `src` a free name in `folder` in one step (a hard link never
    overwrites and never shows an empty file), its hints written first; falls back to claim +
    rename where there are no hard links."""
    for target in _candidates(folder, name):
        if target.exists():
            continue
        if hints or target.name != name:
            write_hints(folder, target.name, {"from": name, **hints})
        try:
            os.link(src, target)
            return target
        except FileExistsError:
            continue
        except OSError:   # no hard links on this file system
            drop_hints(folder, target.name)
            target = claim(folder, name)
            if hints or target.name != name:
                write_hints(folder, target.name, {"from": name, **hints})
            os.replace(src, target)
            return target
        except BaseException:
            drop_hints(folder, target.name)
            raise
    raise ValidationFailed(f"no free name for {name} in {folder}")


def _looks_binary(path: Path) -> bool:
    with path.open("rb") as fh:
        return b"\0" in fh.read(8192)


def _importable_zip(path: Path) -> bool:
    src = Source(path.name, path)
    try:
        return src.is_zip and detect(src).name != "text"
    except (ParseError, OSError):
        return False
    finally:
        src.close()


def is_vault(folder: Path, format: str | None) -> bool:
    return format == "markdown" or (folder / ".obsidian").is_dir()


def pack_vault(folder: Path, target: Path) -> int:
    """Zip the notes of a vault (Markdown files only; hidden folders left out) under the vault's
    name. Returns the number of notes."""
    notes = 0
    root = folder.resolve()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or not name.lower().endswith((".md", ".markdown")):
                    continue
                path = Path(dirpath) / name
                zf.write(path, f"{root.name}/{path.relative_to(root).as_posix()}")
                notes += 1
    return notes


def _folder_files(folder: Path, recursive: bool, skipped: Skipped) -> list[Path]:
    out: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if recursive and not entry.is_symlink():   # a linked folder may loop back
                out += _folder_files(entry, True, skipped)
            else:
                skipped.folders.append(entry)
        elif entry.is_file():
            if _looks_binary(entry) and not _importable_zip(entry):
                skipped.binary.append(entry)
            else:
                out.append(entry)
    return out


def _kind(p: Path) -> str:
    mode = p.stat().st_mode
    for test, name in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a pipe"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def ingest_paths(profile, paths: list[Path], *, actor: str = "human",
                 skipped: Skipped | list[Path] | None = None, recursive: bool = False,
                 format: str | None = None, me: list[str] | None = None) -> list[Path]:
    """Copy files (a folder: its files, see above) into memory/inbox/. Returns the inbox paths.
    `skipped` (a Skipped, or a list for binary files only) collects what was left out."""
    report = skipped if isinstance(skipped, Skipped) else Skipped()
    hints = {k: v for k, v in (("format", format), ("me", list(me or []))) if v}
    vaults: list[Path] = []
    sources: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            if is_vault(p, format):
                vaults.append(p)
            else:
                sources += _folder_files(p, recursive, report)
        elif p.is_file():
            sources.append(p)
        elif p.exists():
            raise ValidationFailed(f"{p}: {_kind(p)}, not a file or folder; nothing to import",
                                   hint="mh ingest FILE|FOLDER…")
        else:
            raise ValidationFailed(f"{p}: no such file or folder", hint="mh ingest FILE|FOLDER…")
    if isinstance(skipped, list):
        skipped += report.binary
    inbox = profile.home.inbox
    inbox.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sources:
        out.append(_queue(profile, inbox, src, src.name, hints, actor,
                          lambda tmp, s=src: shutil.copyfile(s, tmp)))
    for vault in vaults:
        name = (vault.resolve().name or "vault") + ".zip"
        out.append(_queue(profile, inbox, vault, name, {**hints, "format": "markdown"}, actor,
                          lambda tmp, v=vault: pack_vault(v, tmp)))
    return out


def _queue(profile, inbox: Path, src: Path, name: str, hints: dict, actor: str, fill) -> Path:
    tmp = inbox / f".{name}.{os.getpid()}.partial"
    fill(tmp)
    try:
        target = _link_unique(tmp, inbox, name, hints)
    finally:
        tmp.unlink(missing_ok=True)
    profile.audit.append(events.INBOX_FILE_QUEUED, category="data", actor=actor,
                         details={"file": target.name, "from": src.name,
                                  "bytes": target.stat().st_size,
                                  **({"format": hints["format"]} if "format" in hints else {})})
    return target
