"""systemd user units for agents: the real service manager restarts, logs and stops them
(the original grew five home-made ways to start an agent, original.md §10.1)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..storage import atomic_write_text


def mh_command() -> list[str]:
    """Absolute command that runs this installation's `mh`: the venv's console script when it
    exists (not resolved: the venv's python symlink must stay the venv's), else python -m."""
    bindir = Path(os.path.abspath(sys.executable)).parent
    script = bindir / "mh"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [os.path.abspath(sys.executable), "-m", "metahuman_tui.cli.main"]


def _quote(arg: str) -> str:
    """systemd ExecStart quoting: double quotes, with backslash, quote and $ escaped."""
    if arg and all(c.isalnum() or c in "/._-:+=@" for c in arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
    return f'"{escaped}"'


def unit_path(name: str) -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user" / f"metahuman-{name}.service"


def unit_text(profile, name: str) -> str:
    argv = [*mh_command(), "--home", str(profile.root), "agent", "run", name]
    exec_start = " ".join(_quote(a) for a in argv)
    return (
        "[Unit]\n"
        f"Description=MetaHuman OS agent {name} ({profile.root})\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={exec_start}\n"
        f"WorkingDirectory={str(profile.root).replace('%', '%%')}\n"
        "Environment=PYTHONUNBUFFERED=1\n"
        "Restart=on-failure\n"
        "RestartSec=10\n"
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=60\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def write_unit(path: Path, text: str) -> Path:
    atomic_write_text(path, text)
    return path
