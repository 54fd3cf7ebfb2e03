"""SVG snapshots of every pane at 80x24 and 120x40 with the fixture profile, the fixed clock
and the fake Ollama server. Update on purpose only:
    .venv/bin/python -m pytest tests/tui/test_snapshots.py --snapshot-update
(pinned: textual 8.2.8, pytest-textual-snapshot 1.1.0; baselines made on Python 3.11)."""

from __future__ import annotations

import sys

import pytest

from metahuman_tui.widgets.prompt_area import PromptArea

from .conftest import settle, snap_ready

PANES = ("chat", "memory", "tasks", "approvals", "audit", "training")
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11),
                                reason="snapshot baselines are made on Python 3.11")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("pane", PANES)
def test_pane(snap_compare, make_app, fake_llm, pane, size):
    assert snap_compare(make_app(start=pane), terminal_size=SIZES[size], run_before=snap_ready())


def test_chat_with_a_streamed_reply(snap_compare, make_app, fake_llm):
    fake_llm.script([{"content": "Focus on the **Q4 plan** first:\n\n1. numbers for Sarah\n"
                                 "2. the passport (due Saturday)\n\n```\nmh task list\n```"}])

    async def run_before(pilot):
        await settle(pilot)
        box = pilot.app.screen.query_one("#chat-input", PromptArea)
        box.value = "What should I focus on?"
        await pilot.press("enter")
        await settle(pilot)
        pilot.app.clear_notifications()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_yolo_confirmation(snap_compare, make_app, fake_llm):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=snap_ready("f8"))


def test_help(snap_compare, make_app, fake_llm):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=snap_ready("f1"))


def test_chat_multi_line_draft(snap_compare, make_app, fake_llm):
    async def run_before(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#chat-input", PromptArea).value = (
            "Three things for today:\n- the Q4 numbers for Sarah\n- call the plumber")
        await settle(pilot)
        pilot.app.clear_notifications()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_raise_trust_confirmation(snap_compare, make_app, fake_llm):
    assert snap_compare(make_app(), terminal_size=(80, 24),
                        run_before=snap_ready("f10", "down", "enter"))


@pytest.mark.parametrize("size", SIZES)
def test_approval_details(snap_compare, make_app, fake_llm, size):
    assert snap_compare(make_app(start="approvals"), terminal_size=SIZES[size],
                        run_before=snap_ready("enter"))
