"""Audit viewer: days, filters, entry detail, chain status, live follow, big days on demand."""

from __future__ import annotations

import asyncio
import json

from textual.widgets import Input

from metahuman_tui.screens.modals import ChoiceScreen, TextViewScreen
from metahuman_tui.widgets.audit_view import AuditLines

from . import data
from .conftest import screen_text, settle, wait_for


def run(coro):
    return asyncio.run(coro)


async def open_audit(pilot):
    await settle(pilot)
    await pilot.press("f6")
    await settle(pilot)
    return pilot.app.screen


async def apply_filter(pilot, screen, text: str) -> None:
    box = screen.query_one("#audit-filter", Input)
    box.value = text
    box.focus()
    await pilot.press("enter")
    await settle(pilot)


def events_shown(lines: AuditLines) -> list[str]:
    return [lines.entry(lines.line_no(i))[0]["event"] for i in range(lines.count)]


def test_opens_today_at_the_newest_entry_with_chain_status(make_app, tui_profile):
    async def main():
        app = make_app(start="audit")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_audit(pilot)
            lines = screen.query_one(AuditLines)
            total = sum(1 for _ in tui_profile.audit.entries("2025-10-19"))
            assert screen.date == "2025-10-19" and lines.count == total
            assert lines.cursor == total - 1
            info = screen_text(app)
            assert f"2025-10-19 · {total} lines" in info and f"chain ✓ {total} verified" in info
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, TextViewScreen)
            entry = json.loads(app.screen.text)
            assert entry["event"] == "lora_training_started" and len(entry["hash"]) == 64
    run(main())


def test_filters_by_level_category_event_actor_and_text(make_app):
    async def main():
        app = make_app(start="audit")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_audit(pilot)
            lines = screen.query_one(AuditLines)
            await apply_filter(pilot, screen, "level:warn")
            assert events_shown(lines) == ["security_event"]
            await apply_filter(pilot, screen, "cat:decision actor:operator")
            assert events_shown(lines) == ["approval_queued", "approval_queued"]
            await apply_filter(pilot, screen, "event:lora_")
            assert events_shown(lines) == ["lora_training_started"]
            await apply_filter(pilot, screen, "PASSWD")                  # any case
            assert events_shown(lines) == ["security_event"]
            assert "'PASSWD': 1" in screen_text(app)
            await apply_filter(pilot, screen, "level:loud")              # refused, kept
            assert events_shown(lines) == ["security_event"]
            screen.query_one("#audit-filter", Input).focus()
            await pilot.press("escape")                                  # clear
            await settle(pilot)
            assert lines.subset is None and lines.count > 10
            assert app.focused is lines                      # and out of the filter box
    run(main())


def test_days_can_be_picked(make_app):
    async def main():
        app = make_app(start="audit")
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            screen = await open_audit(pilot)
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="days")
            await pilot.press("down", "enter")                           # 2025-10-18
            await settle(pilot)
            assert screen.date == "2025-10-18"
            assert set(events_shown(screen.query_one(AuditLines))) == {"data_create"}
            await pilot.press("right_square_bracket")
            await settle(pilot)
            assert screen.date == "2025-10-19"
            lines = screen.query_one(AuditLines)
            lines.cursor = 3
            await pilot.press("right_square_bracket")        # no later day: said, not reloaded
            await settle(pilot)
            assert screen.date == "2025-10-19" and lines.cursor == 3
            assert any("No later audit day" in n.message for n in app._notifications)
    run(main())


def test_follow_shows_new_entries_and_a_tampered_chain_is_flagged(make_app, tui_profile):
    async def main():
        app = make_app(start="audit")
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            screen = await open_audit(pilot)
            lines = screen.query_one(AuditLines)
            before = lines.count
            tui_profile.audit.append("user_event", actor="cli", details={"note": "live"})
            screen.poll_follow()                      # what the follow timer calls
            await pilot.pause()
            assert lines.count == before + 1 and lines.cursor == before
            assert "user_event" in screen_text(app)

            path = tui_profile.audit.day_path("2025-10-19")
            text = path.read_text().replace('"actor":"cli"', '"actor":"evil"', 1)
            path.write_text(text)
            await pilot.press("v")
            await settle(pilot)
            assert "chain ✗" in screen_text(app)
            assert any("Audit chain broken" == n.title for n in app._notifications)
    run(main())


def test_a_big_day_is_indexed_not_loaded(make_app, tui_profile):
    path = tui_profile.audit.day_path("2025-10-17")
    data.write_big_audit_day(path, 30_000)

    async def main():
        app = make_app(start="audit")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_audit(pilot)
            screen.open_day("2025-10-17")
            await settle(pilot)
            lines = screen.query_one(AuditLines)
            assert lines.count == 30_000 and lines.cursor == 29_999
            assert len(lines._cache) < 100            # rows are parsed only when drawn
            await apply_filter(pilot, screen, "level:error actor:tui")
            assert lines.count == 2000                # i % 5 == 4 and i % 3 == 2
            assert {lines.entry(lines.line_no(i))[0]["actor"] for i in range(5)} == {"tui"}
    run(main())


def test_follow_pauses_while_the_person_reads_and_resumes_with_end_or_f(make_app, tui_profile):
    """Like `less +F`: moving up stops the jump to the newest entry; End (or f) follows again."""
    for i in range(40):                                  # more than a screen of entries
        tui_profile.audit.append("user_event", actor="cli", details={"n": i})

    async def main():
        app = make_app(start="audit")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_audit(pilot)
            lines = screen.query_one(AuditLines)
            last = lines.count - 1
            await pilot.press("k", "k")
            assert screen.follow is False and "follow paused" in screen_text(app)
            tui_profile.audit.append("user_event", actor="cli", details={"note": "while reading"})
            screen.poll_follow()
            await pilot.pause()
            assert lines.count == last + 2 and lines.cursor == last - 2     # not yanked down
            await pilot.press("end")
            assert screen.follow is True and lines.cursor == lines.count - 1
            tui_profile.audit.append("user_event", actor="cli", details={"note": "followed"})
            screen.poll_follow()
            await pilot.pause()
            assert lines.cursor == lines.count - 1
            await pilot.press("k", "f")                     # f resumes too
            assert screen.follow is True and lines.cursor == lines.count - 1
            lines.scroll_to(y=0, animate=False, immediate=True)   # the mouse wheel, no cursor
            await pilot.pause()
            tui_profile.audit.append("user_event", actor="cli", details={"note": "wheel"})
            screen.poll_follow()
            await pilot.pause()
            assert screen.follow is False and lines.scroll_offset.y == 0
    run(main())


def test_a_broken_chain_stays_visible_in_the_pane(make_app, tui_profile):
    async def main():
        app = make_app(start="audit")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_audit(pilot)
            path = tui_profile.audit.day_path("2025-10-19")
            path.write_text(path.read_text().replace('"actor":"cli"', '"actor":"evil"', 1))
            await pilot.press("v")
            await settle(pilot)
            app.clear_notifications()                      # the toast is gone…
            await pilot.pause()
            problem = screen.query_one("#audit-problem")
            assert problem.display                          # …the reason is still on screen
            flat = " ".join(screen_text(app).split())
            assert "chain broken" in flat and "2025-10-19" in flat and "line" in flat
            path.write_text(path.read_text().replace('"actor":"evil"', '"actor":"cli"', 1))
            await pilot.press("v")
            await settle(pilot)
            assert not problem.display
    run(main())


def test_actor_filter_takes_a_prefix_for_mcp_clients(make_app, tui_profile):
    tui_profile.audit.append("mcp_session_started", actor="mcp:claude-desktop")
    tui_profile.audit.append("skill_executed", actor="mcp:cursor")

    async def main():
        app = make_app(start="audit")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_audit(pilot)
            lines = screen.query_one(AuditLines)
            await apply_filter(pilot, screen, "actor:mcp*")
            assert events_shown(lines) == ["mcp_session_started", "skill_executed"]
            await apply_filter(pilot, screen, "actor:mcp:cursor")
            assert events_shown(lines) == ["skill_executed"]
    run(main())
