"""Approval queue pane: what waits, approve (executes through the core), reject with a reason,
and live updates when another process decides or queues an item."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from textual.widgets import DataTable, Input

from metahuman_core.approvals import ApprovalQueue
from metahuman_tui.screens.approval_detail import ApprovalDetailScreen
from metahuman_tui.screens.modals import ConfirmScreen, PromptScreen

from . import data
from .conftest import REPO_ENV, screen_text, settle, wait_for

FIRST = "apr-20251019-153000-00000001"
SECOND = "apr-20251019-155200-00000002"
THIRD = "apr-20251019-155500-00000003"
NEW_PLAN = ("# Q4 plan\nnew line\n" + "".join(f"step {i} of the plan\n" for i in range(120))
            + "THE END\n")


def run(coro):
    return asyncio.run(coro)


async def open_queue(pilot):
    await settle(pilot)
    await pilot.press("f5")
    await settle(pilot)
    return pilot.app.screen


def test_lists_skill_args_risk_requester_and_age(make_app):
    async def main():
        app = make_app(start="approvals")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_queue(pilot)
            table = screen.query_one(DataTable)
            assert table.row_count == 2
            age, skill, risk, by, status, args = table.get_row_at(0)
            assert (age, skill, str(risk), by, status) == ("30m", "fs_write", "medium",
                                                           "operator", "pending")
            assert '"path":"out/plan.md"' in args
            assert "apr-20251019-153000-00000001 · fs_write" in screen_text(app)
    run(main())


def test_j_k_move_and_the_args_stay_visible_at_80x24(make_app, tui_profile):
    """The queue answers to the list keys F1 lists (j/k), and the detail shows the args right
    under the id, so a long `why` never pushes them off an 80x24 screen."""
    async def main():
        app = make_app(start="approvals")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_queue(pilot)
            table = screen.query_one(DataTable)
            assert table.cursor_row == 0
            await pilot.press("j")
            assert table.cursor_row == 1 and screen.current_id() == SECOND
            await pilot.press("k")
            assert table.cursor_row == 0 and screen.current_id() == FIRST
            lines = screen_text(app).splitlines()
            at = next(i for i, line in enumerate(lines) if FIRST in line)
            assert lines[at + 1].strip().startswith("out/plan.md · overwrite: false · a new file")
            assert lines[at + 2].strip().startswith('args: {"path": "out/plan.md"')
            assert "h: all decisions" in lines[1]
    run(main())


def test_approve_asks_then_executes(make_app, tui_profile):
    async def main():
        app = make_app(start="approvals")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_queue(pilot)
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            await pilot.press("y")
            await settle(pilot)
            item = ApprovalQueue(tui_profile).get(FIRST)
            assert item["status"] == "executed" and item["decided_by"] == "human"
            assert (tui_profile.root / "out" / "plan.md").read_text() == "# Q4 plan\n"
            assert screen.query_one(DataTable).row_count == 1   # only the other one waits
            assert "1 pending" in screen_text(app).splitlines()[-2]
    run(main())


def test_reject_needs_a_reason(make_app, tui_profile):
    async def main():
        app = make_app(start="approvals")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_queue(pilot)
            await pilot.press("down", "r")
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), what="reason")
            await pilot.press("enter")                         # empty: refused, still asking
            assert isinstance(app.screen, PromptScreen)
            app.screen.query_one(Input).value = "keep the old notes"
            await pilot.press("enter")
            await settle(pilot)
            item = ApprovalQueue(tui_profile).get(SECOND)
            assert item["status"] == "rejected" and item["reason"] == "keep the old notes"
            assert screen.query_one(DataTable).row_count == 1
            await pilot.press("h")                             # history shows the decision
            await settle(pilot)
            assert screen.query_one(DataTable).row_count == 2
    run(main())


def test_updates_when_another_process_changes_the_queue(make_app, tui_profile):
    code = ("from metahuman_core.profile import Profile; from metahuman_core.approvals import "
            "ApprovalQueue; ApprovalQueue(Profile(%r)).reject(%r, by='cli', reason='from cli')"
            % (str(tui_profile.root), FIRST))

    async def main():
        app = make_app(start="approvals")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_queue(pilot)
            assert screen.query_one(DataTable).row_count == 2
            subprocess.run([sys.executable, "-c", code], check=True, env=REPO_ENV,
                           timeout=60)
            screen.poll()           # what the one-second timer calls: sees the folder changed
            await settle(pilot)
            assert screen.query_one(DataTable).row_count == 1
            before = screen._mtime
            screen.poll()           # nothing changed: no reload
            assert screen._mtime == before
    run(main())


def queue_overwrite(profile) -> None:
    """out/plan.md exists; the operator asks to overwrite it with a long new version."""
    (profile.root / "out").mkdir(exist_ok=True)
    (profile.root / "out" / "plan.md").write_text("# Q4 plan\nold line\n")
    data.write_approval(profile, THIRD, "fs_write",
                        {"path": "out/plan.md", "content": NEW_PLAN, "overwrite": True},
                        "medium", data.at(19, 15, 55))


def test_enter_shows_the_full_args_size_sha_and_a_diff(make_app, tui_profile):
    import hashlib

    queue_overwrite(tui_profile)

    async def main():
        app = make_app(start="approvals")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_queue(pilot)
            await pilot.press("G")
            assert screen.current_id() == THIRD
            # the panel under the table says what matters before any scrolling
            panel = " ".join(screen_text(app).split())
            assert "overwrite" in panel and "replaces" in panel
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ApprovalDetailScreen),
                           what="detail")
            text = app.screen.text
            raw = NEW_PLAN.encode()
            assert f"{len(raw):,} bytes" in text and hashlib.sha256(raw).hexdigest() in text
            assert "THE END" in text and "…" not in text
            assert "overwrite: true" in text
            assert "-old line" in text and "+new line" in text          # the diff
            assert "THE END" not in screen_text(app)                   # long: it scrolls
            await pilot.press("end")
            await pilot.pause()
            assert "THE END" in screen_text(app)
            await pilot.press("escape")
            assert app.screen is screen
    run(main())


def test_the_confirm_dialog_shows_every_argument(make_app, tui_profile):
    queue_overwrite(tui_profile)

    async def main():
        app = make_app(start="approvals")
        async with app.run_test(size=(80, 24)) as pilot:
            await open_queue(pilot)
            await pilot.press("G", "a")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            body = app.screen.body
            assert "THE END" in body and "overwrite: true" in body and "…" not in body
            assert "-old line" in body
            await pilot.press("n")
            await settle(pilot)
            assert ApprovalQueue(tui_profile).get(THIRD)["status"] == "pending"
    run(main())


def test_a_new_file_and_a_refused_path_are_said_plainly(make_app, tui_profile):
    from metahuman_tui.screens.approval_detail import describe

    item = ApprovalQueue(tui_profile).get(FIRST)
    text = describe(tui_profile, item)
    assert "new file" in text and "overwrite: false" in text
    bad = dict(item, args={"path": "../etc/passwd", "content": "x", "overwrite": True})
    assert "cannot" in describe(tui_profile, bad)               # the sandbox's reason, no crash


def test_ages_move_on_while_the_pane_is_open(make_app):
    from datetime import timedelta

    from metahuman_core import clock

    async def main():
        app = make_app(start="approvals")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_queue(pilot)
            table = screen.query_one(DataTable)
            assert table.get_row_at(0)[0] == "30m"
            clock.set_clock(clock.FixedClock(data.NOW + timedelta(hours=2)))
            screen.poll()                 # the queue did not change; the ages still move on
            await settle(pilot)
            assert table.get_row_at(0)[0] == "2h"
    run(main())


def test_the_confirm_buttons_stay_on_screen_at_80x24(make_app, tui_profile):
    queue_overwrite(tui_profile)

    async def main():
        app = make_app(start="approvals")
        async with app.run_test(size=(80, 24)) as pilot:
            await open_queue(pilot)
            await pilot.press("G", "a")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            await pilot.pause()
            app.clear_notifications()
            await pilot.pause()
            text = screen_text(app)
            assert "Approve (y)" in text and "Cancel (n)" in text
    run(main())
