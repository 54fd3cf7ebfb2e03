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


def test_list_keys_j_k_g_move_the_task_cursor(make_app):
    """F1 lists ↓/j ↑/k Home/g End/G for lists: the task lists answer to them too."""
    async def main():
        app = make_app(start="tasks")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_tasks(pilot)
            first = screen.current_id()
            await pilot.press("j")
            second = screen.current_id()
            assert second and second != first
            await pilot.press("k")
            assert screen.current_id() == first
            await pilot.press("G")
            last = screen.current_id()
            assert last not in (first, second)
            await pilot.press("g")
            assert screen.current_id() == first
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
            form = app.screen
            form.query_one("#task-title", Input).value = "Bad date"
            form.query_one("#task-description", Input).value = "typed with care"
            form.query_one("#task-due", Input).value = "tomorrow-ish"
            await pilot.press("ctrl+s")
            await settle(pilot)
            # the form stays open with everything typed; the message says how to fix it
            assert app.screen is form
            assert form.query_one("#task-description", Input).value == "typed with care"
            assert any("invalid due date" in n.message and "YYYY-MM-DD" in n.message
                       for n in app._notifications)
            assert not [t for t in TaskStore(tui_profile).list_active() if t["title"] == "Bad date"]
            form.query_one("#task-priority", Input).value = "P7"
            form.query_one("#task-due", Input).value = "2025-10-30"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is form and any("invalid priority" in n.message
                                              for n in app._notifications)
            form.query_one("#task-priority", Input).value = "p1"
            await pilot.press("ctrl+s")
            await settle(pilot)
            task = by_title(tui_profile, "Bad date")
            assert (task["due"], task["priority"], task["description"]) == (
                "2025-10-30", "P1", "typed with care")
    run(main())


def test_the_task_form_never_selects_what_is_there(make_app, tui_profile):
    """`e` then a letter used to replace the whole title (select_on_focus); Tab into tags and
    typing replaced the tags. Every field keeps its text and the cursor goes to its end."""
    async def main():
        app = make_app(start="tasks")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_tasks(pilot)
            task_id = screen.current_id()
            store = TaskStore(tui_profile)
            store.update(task_id, {"tags": ["admin"]}, actor="cli")
            screen.load()
            await settle(pilot)
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, TaskFormScreen), what="form")
            form = app.screen
            await pilot.press(*" now")
            assert form.query_one("#task-title", Input).value == "Renew passport now"
            await pilot.press("tab", "tab", "tab", "tab")          # description, priority, due, tags
            assert app.focused is form.query_one("#task-tags", Input)
            await pilot.press(*", travel")
            assert form.query_one("#task-tags", Input).value == "admin, travel"
            await pilot.press("shift+tab", "shift+tab", "shift+tab", "shift+tab")
            await pilot.press("!")
            assert form.query_one("#task-title", Input).value == "Renew passport now!"
            await pilot.press("ctrl+s")
            await settle(pilot)
            saved = store.get(task_id)
            assert saved["title"] == "Renew passport now!" and saved["tags"] == ["admin", "travel"]
    run(main())
