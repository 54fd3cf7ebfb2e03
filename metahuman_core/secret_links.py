"""Secrets reached through a hard link (docs/security.md, "Hard links").

A hard link is the same file under another name, so a name check alone lets `docs/notes.txt` (a
link to etc/secrets/api-token) read the secret. Reads therefore refuse:
* a file whose (dev, inode) is a secret file's: etc/secrets/**, secret-named entries at the top
  of the home (.env*, *.pem, …) and the top-level .ssh/.gnupg/.aws folders;
* any regular file with more than one name, unless every name is found in its own folder and
  none of them is secret (the other names of an inode cannot be listed without scanning the whole
  disk, so a link we cannot account for is refused rather than guessed safe).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def secret_inodes(root: Path) -> dict[tuple[int, int], str]:
    """(dev, inode) -> home-relative name of every secret file we can enumerate cheaply."""
    from .sandbox import secret_reason

    found: dict[tuple[int, int], str] = {}

    def walk(folder: Path, shown: str, depth: int) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            name = f"{shown}/{entry.name}" if shown else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found[(st.st_dev, st.st_ino)] = name
            elif stat.S_ISDIR(st.st_mode) and depth < 4:
                walk(Path(entry.path), name, depth + 1)

    walk(root / "etc" / "secrets", "etc/secrets", 0)
    for folder in (".ssh", ".gnupg", ".aws"):
        walk(root / folder, folder, 1)
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            if secret_reason([entry.name]) and entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                found[(st.st_dev, st.st_ino)] = entry.name
    return found


def check_hard_link(root: Path, st: os.stat_result, rel: tuple[str, ...], shown: str) -> None:
    """Raise SandboxViolation when the open file `st` (home-relative `rel`) may be a secret."""
    from .sandbox import SandboxViolation, secret_reason

    if st.st_nlink <= 1:
        return  # its only name is the one resolve_read already checked
    secret = secret_inodes(root).get((st.st_dev, st.st_ino))
    if secret is not None:
        raise SandboxViolation(f"cannot read {shown!r}: it is the same file as {secret} "
                               "(a hard link to a secret)")
    siblings = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(root.joinpath(*rel[:-1])):
            with contextlib.suppress(OSError):
                est = entry.stat(follow_symlinks=False)
                if (est.st_dev, est.st_ino) == (st.st_dev, st.st_ino):
                    siblings.append(entry.name)
    bad = next((n for n in siblings if secret_reason([*rel[:-1], n])), None)
    if bad is not None:
        raise SandboxViolation(f"cannot read {shown!r}: it is the same file as "
                               f"{'/'.join([*rel[:-1], bad])} (a hard link to a secret)")
    if len(siblings) < st.st_nlink:
        raise SandboxViolation(
            f"cannot read {shown!r}: it is a hard link ({st.st_nlink} names) whose other names "
            "cannot be checked; fs_read refuses a hard link it cannot prove is not a secret",
            hint="copy the file instead of hard-linking it")
