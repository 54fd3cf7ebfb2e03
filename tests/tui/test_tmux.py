"""The real `mh` in a real terminal: tmux at 80x24, switch panes with keys, read the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from . import data
from .conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def mh_command() -> list[str]:
    """./bin/mh when its venv is already bootstrapped (else it would install first)."""
    venv = REPO / ".venv"
    stamp = venv / ".mh-stamp-api"
    import hashlib

    want = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:16]
    if stamp.is_file() and stamp.read_text().strip() == want:
        return [str(REPO / "bin" / "mh")]
    if (venv / "bin" / "mh").exists():
        return [str(venv / "bin" / "mh")]
    pytest.skip("no bootstrapped mh to run (./bin/mh would install its venv first)")


class Tmux:
    def __init__(self, socket: str):
        self.base = ["tmux", "-L", socket, "-f", "/dev/null"]

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True,
                              timeout=30).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "mh")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")


def start(tmux: Tmux, root: Path, width: int = 80, height: int = 24) -> None:
    env = {"MH_HOME": str(root), "MH_FAKE_NOW": data.NOW.isoformat(), "TERM": "xterm-256color",
           "PYTHONPATH": str(REPO)}
    command = " ".join(["env", *(f"{k}={v}" for k, v in env.items()), *mh_command()])
    tmux("new-session", "-d", "-s", "mh", "-x", str(width), "-y", str(height), command)
    tmux("set-option", "-t", "mh", "escape-time", "0")


def keys(tmux: Tmux, *names: str) -> None:
    for name in names:
        tmux("send-keys", "-t", "mh", name)
        time.sleep(0.15)          # a person's pace: each key is its own read


def test_switch_panes_in_a_real_terminal(tui_home):
    root: Path = tui_home[0]
    tmux = Tmux(f"mh-tui-test-{os.getpid()}")
    start(tmux, root)
    try:
        first = tmux.wait_for("2 pending")   # counted in the background after the first frame
        assert "Talk to your twin" in first and "F2 Chat" in first
        lines = first.splitlines()
        assert len(lines) <= 24 and max(len(line) for line in lines) <= 80
        for key, text in (("F3", "8 memories, newest first"), ("F4", "To do (2)"),
                          ("F5", "fs_delete"), ("F6", "chain ✓"), ("F7", "● TRAINING 50%")):
            tmux("send-keys", "-t", "mh", key)
            tmux.wait_for(text)
        tmux("send-keys", "-t", "mh", "F1")
        assert "Id (etc/tui.json)" in tmux.wait_for("Keys")
        tmux("send-keys", "-t", "mh", "Escape")
        tmux.wait_for("Start local run")
        tmux("send-keys", "-t", "mh", "C-q")
        deadline = time.monotonic() + 15
        while "mh" in tmux("list-sessions") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "mh:" not in tmux("list-sessions")          # Ctrl+Q quit the app
    finally:
        tmux("kill-server")


def test_a_draft_survives_focus_leaving_and_coming_back(tui_home):
    """Type a draft, Tab away and Shift+Tab back, type one more character: the whole draft is
    still there (Input used to select it on focus, so the key replaced it)."""
    tmux = Tmux(f"mh-tui-draft-{os.getpid()}")
    start(tmux, tui_home[0])
    try:
        tmux.wait_for("Message your twin")
        tmux("send-keys", "-t", "mh", "-l", "my careful draft")
        tmux.wait_for("my careful draft")
        keys(tmux, "Tab", "BTab")
        tmux("send-keys", "-t", "mh", "-l", "!")
        shown = tmux.wait_for("my careful draft!")
        assert "\n!" not in shown
    finally:
        tmux("kill-server")


def test_a_bracketed_paste_keeps_all_three_lines(tui_home):
    tmux = Tmux(f"mh-tui-paste-{os.getpid()}")
    start(tmux, tui_home[0])
    try:
        tmux.wait_for("Message your twin")
        tmux("set-buffer", "first pasted line\nsecond pasted line\nthird pasted line")
        tmux("paste-buffer", "-p", "-t", "mh")      # -p: bracketed, as a terminal pastes
        shown = tmux.wait_for("third pasted line")
        assert "first pasted line" in shown and "second pasted line" in shown
        lines = shown.splitlines()
        at = [i for i, line in enumerate(lines) if "pasted line" in line]
        assert len(at) == 3 and at == list(range(at[0], at[0] + 3))   # three rows, in order
    finally:
        tmux("kill-server")
