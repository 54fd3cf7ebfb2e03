"""TUI test fixtures: a profile full of fixture data, the fake Ollama server, an app factory
with a fixed clock and no timers, and helpers to wait for background workers.

Snapshot discipline (posting/harlequin): fixed sizes, fixed clock, no cursor blink, no
animation, no timers, notifications cleared, workers awaited before the screenshot.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Input, TextArea
from textual.worker import WorkerState

from metahuman_core import clock
from metahuman_core.profile import Profile
from tests.fakes.fake_ollama import FakeOllama

from . import data

REPO = Path(__file__).resolve().parents[2]
# Environment for helper subprocesses: this checkout, and the fixture's "now".
REPO_ENV = {**os.environ, "PYTHONPATH": str(REPO), "MH_FAKE_NOW": data.NOW.isoformat()}

# No LLM unless a test asks for the fake one: a closed loopback port answers "down" at once.
CLOSED_PORT = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _no_blink(monkeypatch):
    """The cursor stays visible: a blinking cursor makes screenshots flaky."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setattr(TextArea, "_toggle_cursor_blink_visible", lambda self: None)


@pytest.fixture(scope="session")
def tui_template(tmp_path_factory):
    """The fixture profile, built once through the real core; each test gets a copy."""
    from metahuman_core.profile import init_profile
    from metahuman_core.search import index_for

    fixed = clock.FixedClock(data.at(10, 8))
    clock.set_clock(fixed)
    try:
        root = tmp_path_factory.mktemp("tui-template") / "home"
        init_profile(root)
        prof = Profile(root)
        prof.config.set_value("agent.host", CLOSED_PORT)
        data.build(prof, fixed)
        index_for(prof).close()
        prof.audit.close()
    finally:
        clock.set_clock(None)
    return root


@pytest.fixture
def tui_home(tmp_path, monkeypatch, tui_template):
    """A private copy of the fixture profile; MH_HOME points at it; the clock is fixed."""
    root = tmp_path / "home"
    shutil.copytree(tui_template, root, symlinks=True)
    fixed = clock.FixedClock(data.NOW)
    clock.set_clock(fixed)
    monkeypatch.setenv("MH_HOME", str(root))
    yield root, fixed
    clock.set_clock(None)


@pytest.fixture
def fake_llm(tui_home):
    """A real HTTP server speaking Ollama's protocol on 127.0.0.1; etc/agent.json points at it."""
    with FakeOllama(models=["qwen3:1.7b"]) as fake:
        Profile(tui_home[0]).config.set_value("agent.host", fake.url)
        yield fake


@pytest.fixture
def tui_profile(tui_home) -> Profile:
    return Profile(tui_home[0])


@pytest.fixture
def make_app(tui_profile):
    from metahuman_tui.app import create_app
    from metahuman_tui.screens.services import Services, TuiSettings

    def factory(profile: Profile | None = None, start: str = "chat", **settings):
        prof = profile or tui_profile
        svc = Services(prof, TuiSettings(poll=False, **settings))
        return create_app(prof, clock=clock.FixedClock(data.NOW), services=svc, start=start)

    return factory


async def settle(pilot, timeout: float = 10.0) -> None:
    """Wait until every worker is done (no worker waits on a person: modals use callbacks),
    then let the UI redraw."""
    app = pilot.app
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await pilot.pause()
    while loop.time() < deadline:
        busy = [w for w in app.workers
                if w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        if not busy:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError(f"workers still running: {busy}")
    await pilot.pause()
    await pilot.pause()


async def wait_for(pilot, predicate, timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def screen_text(app) -> str:
    """What the terminal shows, as plain text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True,
                                                       screen_stack=app._background_screens))
    return console.export_text()


def snap_ready(*keys: str):
    """A run_before for snap_compare: settle, press keys (settling after each), clear toasts."""
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()
    return run_before
