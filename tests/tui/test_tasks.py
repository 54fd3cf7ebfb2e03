"""Task board: one grouped list at 80 columns, columns at 120; moves, priority, create, edit."""

from __future__ import annotations

import asyncio

from textual.widgets import Input, OptionList

from metahuman_core.tasks import TaskStore
from metahuman_tui.screens.task_modals import TaskFormScreen

from .conftest import screen_text, settle, wait_for


def run(coro):
    return asyncio.run(coro)


async def open_tasks(pilot):
    await settle(pilot)
    await pilot.press("f4")
    await settle(pilot)
    return pilot.app.screen


def by_title(profile, title):
    store = TaskStore(profile)
    return next(t for t in store.list_active() + store.list_completed() if t["title"] == title)


def test_narrow_is_one_grouped_list_with_priorities(make_app):
    async def main():
        app = make_app(start="tasks")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_tasks(pilot)
            assert screen.has_class("-narrow")
            narrow = screen.query_one("#task-list-narrow", OptionList)
            assert narrow.display and not screen.query_one("#board").display
            text = screen_text(app)
            for heading in ("To do (2)", "In progress (1)", "Blocked (1)", "Done (2)"):
                assert heading in text
            assert "P0 Renew passport  due 2025-10-25" in text
            assert screen.current_id() == by_title(screen.profile, "Renew passport")["id"]
    run(main())


def test_wide_shows_columns_and_keys_move_between_them(make_app, tui_profile):
    async def main():
        app = make_app(start="tasks")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_tasks(pilot)
            assert screen.has_class("-wide") and screen.query_one("#board").display
            assert screen.focused.id == "list-todo"
            await pilot.press("right_square_bracket")          # todo → in progress
            await settle(pilot)
            assert by_title(tui_profile, "Renew passport")["status"] == "in_progress"
            assert screen.focused.id == "list-in_progress"     # the focus follows the task
            await pilot.press("right")                         # next column: blocked
            assert screen.focused.id == "list-blocked"
            await pilot.press("d")
            await settle(pilot)
            assert by_title(tui_profile, "Call the plumber")["status"] == "done"
    run(main())


def test_priority_create_and_edit(make_app, tui_profile):
    async def main():
        app = make_app(start="tasks")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_tasks(pilot)
            await pilot.press("p")                             # P0 → P1
            await settle(pilot)
            assert by_title(tui_profile, "Renew passport")["priority"] == "P1"

            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, TaskFormScreen), what="form")
            app.screen.query_one("#task-title", Input).value = "Book dentist"
            app.screen.query_one("#task-priority", Input).value = "p0"
            app.screen.query_one("#task-due", Input).value = "2025-10-30"
            await pilot.press("ctrl+s")
            await settle(pilot)
            task = by_title(tui_profile, "Book dentist")
            assert task["priority"] == "P0" and task["due"] == "2025-10-30"
            assert screen.current_id() == task["id"]

            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, TaskFormScreen), what="edit")
            app.screen.query_one("#task-title", Input).value = "Book the dentist"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert TaskStore(tui_profile).get(task["id"])["title"] == "Book the dentist"
            assert "Book the dentist" in screen_text(app)
    run(main())


def test_bad_input_is_refused_with_a_message(make_app, tui_profile):
    async def main():
        app = make_app(start="tasks")
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await open_tasks(pilot)
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, TaskFormScreen), what="form")
            app.screen.query_one("#task-title", Input).value = "Bad date"
            app.screen.query_one("#task-due", Input).value = "tomorrow-ish"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert any("task not created" in n.message for n in app._notifications)
            assert not [t for t in TaskStore(tui_profile).list_active() if t["title"] == "Bad date"]
    run(main())
