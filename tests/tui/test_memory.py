"""Memory browser: listing, debounced search (stale results never shown), detail, tags, capture,
and a 100k-row list that only ever reads the rows on screen."""

from __future__ import annotations

import asyncio

from textual.widgets import Input, TextArea

from metahuman_core.memory import MemoryStore
from metahuman_tui.screens.memory import SearchFinished
from metahuman_tui.screens.memory_modals import CaptureScreen, MemoryDetailScreen
from metahuman_tui.screens.modals import PromptScreen
from metahuman_tui.widgets.memory_list import MemoryList, MemoryRow

from .conftest import screen_text, settle, wait_for


def run(coro):
    return asyncio.run(coro)


async def open_memory(pilot):
    await settle(pilot)
    await pilot.press("f3")
    await settle(pilot)
    return pilot.app.screen


def test_lists_newest_first_with_count(make_app):
    async def main():
        app = make_app(start="memory")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_memory(pilot)
            lst = screen.query_one(MemoryList)
            assert lst.count == 8
            assert lst.row(0).id.startswith("evt-20251019-120000")
            assert lst.row(7).id.startswith("evt-20251012-090000")
            assert "8 memories, newest first" in screen_text(app)
    run(main())


def test_search_is_debounced_and_stale_results_are_dropped(make_app):
    seen = []

    async def main():
        app = make_app(start="memory", search_debounce=0.15)
        async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
            screen = await open_memory(pilot)
            await pilot.press("slash")
            assert screen.focused is screen.query_one("#memory-search", Input)
            await pilot.press(*"sarah")                 # five keystrokes, one search
            await pilot.pause(0.4)
            await settle(pilot)
            lst = screen.query_one(MemoryList)
            assert lst.count == 2
            assert all("sarah" in (lst.row(i).text + lst.row(i).tags).lower()
                       for i in range(lst.count))
            assert "\x02" in "".join(lst.row(i).text for i in range(lst.count))  # highlighted
            assert "2 hits for 'sarah'" in screen_text(app)
            screen.query_one("#memory-search", Input).value = "type:journal"
            screen.query_one("#memory-search", Input).focus()
            await pilot.press("enter")
            await settle(pilot)
            assert {lst.row(i).type for i in range(lst.count)} == {"journal"}
    run(main())
    searches = list({id(m): m for m in seen if isinstance(m, SearchFinished)}.values())
    queries = [m.query for m in searches]
    assert "s" not in queries and "sa" not in queries      # debounced: no per-key searches
    assert "sarah" in queries


def test_stale_search_result_is_ignored(make_app):
    async def main():
        app = make_app(start="memory")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_memory(pilot)
            lst = screen.query_one(MemoryList)
            before = lst.count
            screen._seq += 1            # a newer search started; an old one reports late
            screen.post_message(SearchFinished(screen._seq - 1, "old", [], 0))
            await pilot.pause()
            assert lst.count == before
    run(main())


def test_detail_edit_tags_and_capture(make_app, tui_profile):
    async def main():
        app = make_app(start="memory")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_memory(pilot)
            await pilot.press("down", "enter")                 # the Sarah meeting
            await pilot.pause()
            assert isinstance(app.screen, MemoryDetailScreen)
            assert "She wants numbers by Friday" in screen_text(app)
            await pilot.press("t")
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), what="tags")
            app.screen.query_one(Input).value = "work, q4, #sarah"
            await pilot.press("enter")
            await wait_for(pilot, lambda: "#q4" in screen.query_one(MemoryList).row(1).tags,
                           what="row updated")
            mem_id = screen.query_one(MemoryList).row(1).id
            assert MemoryStore(tui_profile).get(mem_id)["tags"] == ["work", "q4", "sarah"]

            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, CaptureScreen), what="capture")
            app.screen.query_one(TextArea).text = "Bought a new kettle."
            app.screen.query_one("#capture-tags", Input).value = "home"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.query_one(MemoryList).count == 9
            found = MemoryStore(tui_profile).list(tag="home")
            assert any(m["content"] == "Bought a new kettle." for m in found)
    run(main())


def test_tag_prompt_appends_and_esc_leaves_the_search_box(make_app, tui_profile):
    """The tags prompt opens with the cursor after the old tags (typing adds, it does not
    replace them all); Esc in the search box goes back to the list, keeping the query."""
    async def main():
        app = make_app(start="memory")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_memory(pilot)
            lst = screen.query_one(MemoryList)
            mem_id = lst.current.id
            old = MemoryStore(tui_profile).get(mem_id).get("tags") or []
            await pilot.press("t")
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), what="tags")
            await pilot.press(*", extra")
            await pilot.press("enter")
            await settle(pilot)
            assert MemoryStore(tui_profile).get(mem_id)["tags"] == [*old, "extra"]

            await pilot.press("slash")
            box = screen.query_one("#memory-search", Input)
            assert app.focused is box
            await pilot.press(*"kettle")
            await pilot.press("escape")
            assert app.focused is lst and box.value == "kettle"
            await pilot.press("slash", "escape", "j")          # and keys act on the list again
            assert app.focused is lst
    run(main())


def test_header_follows_the_width_when_the_preview_appears(make_app):
    async def main():
        app = make_app(start="memory")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_memory(pilot)
            await pilot.resize_terminal(130, 30)
            await settle(pilot)
            assert screen.has_class("-wide")
            lst = screen.query_one(MemoryList)
            header = str(screen.query_one("#memory-header").render())
            assert header.rstrip() == lst.header(lst.scrollable_content_region.width).rstrip()
            assert "Tags" in header


def test_header_and_rows_line_up_with_a_scrollbar_at_60_columns(make_app, tmp_path):
    """With more rows than fit, the scrollbar takes columns: the header must be computed for
    the rows' width (at 60 columns it showed a Tags column the rows did not have)."""
    async def main():
        app = make_app(start="memory")
        async with app.run_test(size=(60, 20)) as pilot:
            screen = await open_memory(pilot)
            lst = screen.query_one(MemoryList)
            rows = [MemoryRow(f"evt-20250101-0000{i:02d}-m", "2025-01-01 00:00", "journal",
                              f"memory {i}", "#tag") for i in range(60)]
            lst.set_rows(rows)
            await pilot.pause()
            screen._update_header()                   # what a finished search does
            await pilot.pause()
            lines = screen_text(app).splitlines()
            header = next(line for line in lines if line.startswith("When"))
            row = next(line for line in lines if "memory 0" in line)
            assert ("Tags" in header) == ("#tag" in row)
            assert header.index("Memory") == row.index("memory 0")
    run(main())


def test_hundred_thousand_rows_are_virtual(make_app, tmp_path):
    """100k (id, path) rows: scrolling to the end reads only the rows that are drawn."""
    async def main():
        app = make_app(start="memory")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_memory(pilot)
            lst = screen.query_one(MemoryList)
            rows = [(f"evt-20250101-000000-m{i}", tmp_path / f"missing-{i}.json")
                    for i in range(100_000)]
            rows[-1] = MemoryRow("evt-20250101-000000-last", "2025-01-01 00:00", "journal",
                                 "the very last memory", "")
            lst.set_rows(rows)
            await pilot.pause()
            await pilot.press("G")
            await pilot.pause()
            assert lst.cursor == 99_999
            assert "the very last memory" in screen_text(app)
            assert len(lst._cache) < 100                       # only visible rows were read
            await pilot.press("pageup", "pageup", "k")
            assert lst.cursor < 99_999 - 30
    run(main())


def test_memories_captured_elsewhere_appear_live(make_app, tui_profile):
    """Another process (the CLI, an agent) and the chat in this process capture memories: the
    list refreshes on its poll, and the cursor stays on the memory the person was reading."""
    import subprocess
    import sys

    from .conftest import REPO_ENV

    code = ("from metahuman_core.profile import Profile; from metahuman_core.memory import "
            "MemoryStore; MemoryStore(Profile(%r)).capture('Captured from the CLI.', "
            "type='observation', actor='cli')" % str(tui_profile.root))

    async def main():
        app = make_app(start="memory")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_memory(pilot)
            lst = screen.query_one(MemoryList)
            await pilot.press("j", "j")
            reading = lst.current.id
            screen.poll_index()                    # what the timer calls: nothing changed
            await settle(pilot)
            assert lst.count == 8
            subprocess.run([sys.executable, "-c", code], check=True, env=REPO_ENV, timeout=60)
            screen.poll_index()
            await settle(pilot)
            assert lst.count == 9 and lst.current.id == reading
            assert "9 memories" in screen_text(app)
            MemoryStore(tui_profile).capture("Saved by the chat in this process.",
                                             type="conversation", actor="tui")
            screen.poll_index()
            await settle(pilot)
            assert lst.count == 10 and lst.current.id == reading
    run(main())


def test_a_capped_search_says_so_and_empty_panes_say_what_to_press(make_app, tmp_path, tui_profile):
    from metahuman_core.profile import Profile, init_profile
    from metahuman_core.search import count

    async def main():
        app = make_app(start="memory", search_limit=1)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_memory(pilot)
            box = screen.query_one("#memory-search", Input)
            box.value = "sarah"
            box.focus()
            await pilot.press("enter")
            await settle(pilot)
            flat = " ".join(screen_text(app).split())
            total = count(tui_profile, "sarah")
            assert total > 1 and f"first 1 of {total} hits for 'sarah'" in flat   # the true count
        init_profile(tmp_path / "empty")
        empty = Profile(tmp_path / "empty")
        app = make_app(empty, start="memory")
        async with app.run_test(size=(80, 24)) as pilot:
            await open_memory(pilot)
            assert "press n to capture" in " ".join(screen_text(app).split())
        app = make_app(empty, start="tasks")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "press n to create" in " ".join(screen_text(app).split())
    run(main())


def test_source_filter_shows_imported_chats(make_app, tui_profile):
    """Chat exports imported by `mh ingest` carry `source` (e.g. whatsapp:family):
    `source:whatsapp` in the search box keeps only those, alone or with words."""
    store = MemoryStore(tui_profile)
    store.capture("Sarah: the numbers are ready", type="conversation", actor="cli",
                  source="whatsapp:family")
    store.capture("Standup moved to 10", type="conversation", actor="cli", source="telegram:work")

    async def main():
        app = make_app(start="memory")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_memory(pilot)
            box = screen.query_one("#memory-search", Input)
            lst = screen.query_one(MemoryList)
            for query, expected in (("source:whatsapp", ["Sarah: the numbers are ready"]),
                                    ("source:telegram:work", ["Standup moved to 10"]),
                                    ("numbers source:whatsapp", ["Sarah: the numbers are ready"]),
                                    ("source:signal", [])):
                box.value = query
                box.focus()
                await pilot.press("enter")
                await settle(pilot)
                assert [lst.row(i).text.replace("\x02", "").replace("\x03", "")
                        for i in range(lst.count)] == expected, query
            assert "nothing found" in screen_text(app)
            box.value = "source:whatsapp"
            box.focus()
            await pilot.press("enter")
            await settle(pilot)
            assert "1 memory from source 'whatsapp'" in screen_text(app)
    run(main())
