"""`mh tui` / `mh serve-tui` from the command line (real subprocesses)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from metahuman_tui.cli.tui_cmd import serve_command

from .conftest import REPO, REPO_ENV


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """Local addresses listening on `port`, from /proc/net/tcp{,6} (hex, as the kernel says)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if int(hexport, 16) == port and state == "0A":    # LISTEN
                found.add(addr)
    return found


def test_serve_tui_serves_the_app_on_loopback_only(tui_home):
    pytest.importorskip("textual_serve")
    root = tui_home[0]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "metahuman_tui.cli.main", "--home", str(root),
                             "serve-tui", "--port", str(port)], cwd=REPO, env=REPO_ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        page = None
        while time.monotonic() < deadline:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert page is not None and page.status_code == 200, "server never answered"
        assert "MetaHuman OS" in page.text and "ws://127.0.0.1" in page.text
        assert listening_addresses(port) == {"0100007F"}      # 127.0.0.1, nothing else
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}" in out


def test_serve_command_opens_this_profile():
    cmd = serve_command("/tmp/some home")
    assert cmd.endswith("--home '/tmp/some home' tui") and "metahuman_tui.cli.main" in cmd


def test_tui_rejects_an_unknown_pane(tui_home):
    out = subprocess.run([sys.executable, "-m", "metahuman_tui.cli.main", "--home",
                          str(tui_home[0]), "tui", "--pane", "nope"], cwd=REPO, env=REPO_ENV,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--pane must be one of" in out.stderr
