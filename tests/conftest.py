"""Shared fixtures. Every test runs with:
* a network guard: any connection to a non-loopback address fails the test;
* an isolated MH_HOME (never the developer's real profile) and a fixed, injectable clock.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from datetime import datetime, timezone, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MH = [sys.executable, "-m", "metahuman_tui.cli.main"]
FIXED_NOW = datetime(2025, 10, 19, 16, 0, 0, tzinfo=timezone(timedelta(hours=2)))


# ------------------------------------------------------------------ network guard
class ExternalNetworkAccess(AssertionError):
    pass


def _is_loopback(address) -> bool:
    if isinstance(address, (str, bytes)) and not isinstance(address, tuple):
        return True  # AF_UNIX path
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a hostname other than localhost: would need DNS → external


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise ExternalNetworkAccess(f"test tried to reach a non-loopback address: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise ExternalNetworkAccess(f"test tried to reach a non-loopback address: {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _no_external_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield


# ------------------------------------------------------------------ isolation
@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No test ever touches the real ~/.local/share/metahuman or the repo's own profile data."""
    fallback = tmp_path_factory.mktemp("no-home")
    monkeypatch.setenv("MH_HOME", str(fallback / "unset-home"))
    monkeypatch.setenv("HOME", str(fallback))
    for var in ("RUNPOD_API_KEY", "OLLAMA_HOST", "MH_FAKE_NOW", "MH_FAKE_NOW_STEP",
                "MH_FAKE_NOW_MODE", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    from metahuman_core import clock

    clock.set_clock(None)
    yield
    clock.set_clock(None)


@pytest.fixture
def fixed_clock():
    from metahuman_core import clock

    fc = clock.FixedClock(FIXED_NOW)
    clock.set_clock(fc)
    yield fc
    clock.set_clock(None)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An initialised profile in a temp dir; MH_HOME points at it."""
    from metahuman_core.profile import init_profile

    root = tmp_path / "home"
    init_profile(root)
    monkeypatch.setenv("MH_HOME", str(root))
    return root


@pytest.fixture
def profile(home):
    from metahuman_core.profile import Profile

    return Profile(home)


@pytest.fixture
def ollama(profile):
    """A fake Ollama server (tests/fakes/fake_ollama.py) that the test profile points at."""
    from tests.fakes.fake_ollama import FakeOllama

    with FakeOllama(models=["qwen3:1.7b"]) as fake:
        profile.config.set_value("agent.host", fake.url)
        yield fake


def run_mh(*args, home=None, env=None, input=None, timeout=60, cwd=None):
    """Run the real `mh` in a subprocess; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    if home is not None:
        full_env["MH_HOME"] = str(home)
    full_env.setdefault("PYTHONPATH", str(REPO))
    if env:
        full_env.update(env)
    return subprocess.run([*MH, *map(str, args)], capture_output=True, text=True, env=full_env,
                          input=input, timeout=timeout, cwd=cwd or REPO)


@pytest.fixture
def mh(home):
    """`mh(*args)` runs the CLI as a subprocess against the test home."""
    def _run(*args, **kw):
        kw.setdefault("home", home)
        return run_mh(*args, **kw)
    return _run
