"""git_status: the real `git status` of the home, read-only.

Only a repository rooted at the home itself is reported (a home inside some other repository,
such as a dotfiles checkout, would leak names from outside the home). Git runs with fsmonitor
off (a repository's config could name a program to run) and no optional locks (status must not
write the index).
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, Any

from ..errors import MHError
from .deadline import timeout as time_left
from .registry import Args, Skill, register

if TYPE_CHECKING:
    from ..profile import Profile

MAX_ENTRIES = 1000
TIMEOUT = 20


class NoArgs(Args):
    pass


def _git(root: str, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    limit = time_left(TIMEOUT, f"git {argv[0]}")  # read-only: the caller's budget may cut it
    try:
        return subprocess.run(
            ["git", "-c", "core.fsmonitor=false", "-c", "core.quotepath=false", *argv],
            cwd=root, env=env, capture_output=True, timeout=limit)
    except FileNotFoundError:
        raise MHError("git is not installed", hint="install git to use git_status") from None
    except subprocess.TimeoutExpired:
        raise MHError(f"git {argv[0]} took longer than {limit:.3g} s") from None


def _branch(header: str) -> dict:
    """Parse '## main...origin/main [ahead 1, behind 2]' and its special forms."""
    text = header[3:] if header.startswith("## ") else header
    info: dict[str, Any] = {"branch": None, "upstream": None, "ahead": 0, "behind": 0}
    if text.startswith("No commits yet on "):
        info["branch"] = text[len("No commits yet on "):]
        return info
    if text.startswith("HEAD (no branch)"):
        info["branch"] = "HEAD (detached)"
        return info
    track = ""
    if " [" in text and text.endswith("]"):
        text, track = text[: text.index(" [")], text[text.index(" [") + 2:-1]
    local, _, upstream = text.partition("...")
    info["branch"], info["upstream"] = local, upstream or None
    for part in track.split(", "):
        word, _, num = part.partition(" ")
        if word in ("ahead", "behind") and num.isdigit():
            info[word] = int(num)
    return info


def git_status(profile: Profile, args: NoArgs, actor: str) -> dict:
    root = os.path.realpath(profile.root)
    top = _git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise MHError(f"the home ({root}) is not a git repository",
                      hint="run `git init` in the home to track it with git")
    toplevel = os.path.realpath(top.stdout.decode("utf-8", "replace").strip())
    if toplevel != root:
        raise MHError(f"the home ({root}) is not a git repository of its own (it lies inside "
                      f"{toplevel}); git_status only reports a repository rooted at the home")
    proc = _git(root, "status", "--porcelain=v1", "--branch", "-z", "--untracked-files=normal")
    if proc.returncode != 0:
        raise MHError("git status failed: " + proc.stderr.decode("utf-8", "replace").strip())
    records = proc.stdout.decode("utf-8", "replace").split("\0")
    info = {"branch": None, "upstream": None, "ahead": 0, "behind": 0}
    header = ""
    entries: list[dict] = []
    i = 0
    while i < len(records):
        rec = records[i]
        i += 1
        if not rec:
            continue
        if rec.startswith("## "):
            header = rec
            info = _branch(rec)
            continue
        code, path = rec[:2], rec[3:]
        entry = {"status": code, "path": path}
        if code[0] in "RC" and i < len(records):
            entry["from"] = records[i]
            i += 1
        entries.append(entry)
    last = _git(root, "log", "-1", "--format=%h %s")
    lines = [header] if header else []
    for e in entries[:MAX_ENTRIES]:
        lines.append(f"{e['status']} {e['from']} -> {e['path']}" if "from" in e
                     else f"{e['status']} {e['path']}")
    return {**info, "clean": not entries, "entries": entries[:MAX_ENTRIES],
            "count": len(entries), "truncated": len(entries) > MAX_ENTRIES,
            "last_commit": last.stdout.decode("utf-8", "replace").strip() if last.returncode == 0
            else None,
            "text": "\n".join(lines) + ("\nnothing to commit, working tree clean" if not entries
                                        else "")}


register(Skill(
    id="git_status", category="git", risk="low", min_trust="observe", args=NoArgs, fn=git_status,
    description="Show the git status of the home: branch, whether it is clean, and changed files.",
    summary=lambda r: {"branch": r.get("branch"), "clean": r.get("clean"), "count": r.get("count")}))
