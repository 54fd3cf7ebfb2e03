"""The app shell: pane switching (keys, palette), status bar, F1 help, keymap, YOLO, trust, copy."""

from __future__ import annotations

import asyncio
import json

from textual.widgets import DataTable

from metahuman_core import events
from metahuman_tui.screens.help import HelpScreen
from metahuman_tui.screens.modals import ChoiceScreen, ConfirmScreen, TextViewScreen
from metahuman_tui.widgets.status_bar import StatusBar

from .conftest import screen_text, settle, wait_for

PANES = {"f2": "chat", "f3": "memory", "f4": "tasks", "f5": "approvals", "f6": "audit",
         "f7": "training"}


def run(coro):
    return asyncio.run(coro)


def audit_events(profile, name):
    return [e for e in profile.audit.entries("2025-10-19") if e.get("event") == name]


def test_function_keys_and_alt_digits_switch_panes(make_app):
    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.current_mode == "chat"
            for key, mode in PANES.items():
                await pilot.press(key)
                assert app.current_mode == mode
                assert app.screen.PANE == mode
            await pilot.press("alt+3")   # Alt+1..6 is the fallback where F-keys are taken
            assert app.current_mode == "tasks"
    run(main())


def test_alt_digits_work_when_the_terminal_sends_esc_then_the_digit(make_app):
    """tmux and most terminals over SSH send Alt+2 as ESC 2, which Textual's parser read as the
    macOS Option character "™": no pane switch, and the chat prompt typed "™". With the app
    created, ESC+digit parses as alt+digit (even in the prompt), while a typed "£" stays "£"."""
    from textual._xterm_parser import XTermParser

    def parsed(text: str) -> list[tuple[str, str | None]]:
        return [(e.key, e.character) for e in XTermParser().feed(text) if hasattr(e, "key")]

    async def main():
        app = make_app()
        assert parsed("\x1b2") == [("alt+2", None)] and parsed("\x1b6") == [("alt+6", None)]
        assert parsed("£") == [("pound_sign", "£")]        # UK keyboards type it: unchanged
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.focused.id == "chat-input"
            for text, mode in (("\x1b2", "memory"), ("\x1b1", "chat"), ("\x1b4", "approvals")):
                await pilot.press(*(key for key, _ in parsed(text)))
                await settle(pilot)
                assert app.current_mode == mode, text
            await pilot.press("alt+1")
            assert app.screen.query_one("#chat-input").value == ""   # nothing typed
            # a Mac without "Option as Meta" sends the bare character: still a pane key
            # wherever no text box takes it
            await pilot.press("f3")
            for key, mode in (("pound_sign", "tasks"), ("infinity", "audit"),
                              ("section_sign", "training"), ("trade_mark_sign", "memory")):
                await pilot.press(key)
                await settle(pilot)
                assert app.current_mode == mode, key
    run(main())


def test_palette_help_entry_is_not_a_second_keys(make_app):
    """Textual lists its own "Keys" command; ours has a name of its own and opens F1."""
    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"every key")
            await wait_for(pilot, lambda: "Help: every key" in screen_text(app), what="hit")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
    run(main())


def test_pane_tabs_keep_every_key_visible_when_narrow(make_app):
    async def main():
        app = make_app(start="audit")
        async with app.run_test(size=(60, 20)) as pilot:
            await settle(pilot)
            top = screen_text(app).splitlines()[0]
            assert "F7 Train" in top and "F3 Mem " in top
            await pilot.resize_terminal(44, 20)
            await settle(pilot)
            top = screen_text(app).splitlines()[0]
            assert all(f"F{i}" in top for i in range(2, 8)) and "Audit" in top
    run(main())


def test_status_bar_shows_llm_model_trust_approvals_training(make_app, fake_llm):
    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            line = screen_text(app).splitlines()[-2]
            assert "LLM ●" in line and "qwen3:1.7b" in line
            assert "trust supervised_auto" in line
            assert "2 pending" in line
            assert "TRAINING 50%" in line
            fake_llm.stop()                      # the LLM goes away: the bar says so
            app.check_llm()
            await settle(pilot)
            assert "LLM ○ down" in screen_text(app).splitlines()[-2]
    run(main())


def test_llm_light_is_the_core_health_check_model_included(make_app, fake_llm):
    """A server that answers but lacks the configured model was a green "LLM ●" (only
    /api/version was probed). The bar uses the core's llm.health: host AND model."""
    fake_llm.remove_model("qwen3:1.7b")
    fake_llm.add_model("llama3.2:1b")

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)
            line = app.screen.query_one(StatusBar).render().plain    # toasts cover the screen
            assert "LLM ◐ no model" in line and "LLM ●" not in line
            assert any("not installed" in n.message for n in app._notifications)
            await pilot.click(StatusBar)                     # the fix, on demand
            await pilot.pause()
            assert any("ollama pull qwen3:1.7b" in n.message for n in app._notifications)
            fake_llm.add_model("qwen3:1.7b")      # pulled: green again on the next check
            app.check_llm()
            await settle(pilot)
            assert "LLM ● qwen3:1.7b" in app.screen.query_one(StatusBar).render().plain
    run(main())


def test_a_dead_trainer_is_shown_dead_with_what_to_do(make_app, tui_profile):
    """A run recorded as running whose trainer is gone (no lock held) showed "TRAINING 40%"
    forever. The bar says it died, once a toast says what to do, and a click repeats it."""
    import json as _json

    run_dir = tui_profile.home.runs / "2025-10-19-2"
    run_dir.mkdir()
    (run_dir / "run-summary.json").write_text(_json.dumps({"status": "running", "mode": "local",
                                                        "date": "2025-10-19"}))
    (run_dir / "progress.ndjson").write_text(_json.dumps(
        {"stage": "TRAINING", "pct": 40, "status": "running"}) + "\n")

    async def main():
        app = make_app()
        async with app.run_test(size=(120, 30), notifications=True) as pilot:
            await settle(pilot)
            line = app.screen.query_one(StatusBar).render().plain    # toasts cover the screen
            assert "✗ trainer died at TRAINING 40%" in line
            told = [n for n in app._notifications if n.title == "Training stopped"]
            assert len(told) == 1 and "2025-10-19-2" in told[0].message
            assert "mh train local" in told[0].message
            app.refresh_status()
            await settle(pilot)                   # said once, not on every refresh
            assert len([n for n in app._notifications if n.title == "Training stopped"]) == 1
            await pilot.click(StatusBar)
            await pilot.pause()
            assert any(n.title == "Status" and "2025-10-19-2" in n.message
                       for n in app._notifications)
    run(main())


def test_f1_help_lists_every_binding_with_its_id(make_app):
    async def main():
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("f1")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            table = app.screen.query_one(DataTable)
            ids = {table.get_row_at(i)[3] for i in range(table.row_count)}
            expected = {r.id for r in app.key_rows()}
            assert ids == expected
            # every pane, the lists and the modals are covered
            for wanted in ("pane_chat", "yolo", "chat.cancel", "memory.capture", "tasks.forward",
                           "approvals.approve", "audit.follow", "training.start",
                           "memory.detail.tags", "tasks.form.save", "training.adapters.activate",
                           "list.page_down", "modal.yes", "help.close"):
                assert wanted in ids
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
    run(main())


def test_remapped_keys_show_everywhere_and_bad_key_names_are_refused(make_app, tui_profile):
    """A key name Textual cannot bind ("ctl+x") used to be accepted and broke the tab label;
    a remap was not reflected in the hints. Now: refused with the reason, default kept; the
    tabs, F1, the chat's welcome and the task hints show the keys in force."""
    tui_profile.config.update("tui", {"keys": {"pane_tasks": "ctl+x", "chat.history": "f11",
                                               "tasks.new": "insert"}})

    async def main():
        app = make_app()
        async with app.run_test(size=(120, 30), notifications=True) as pilot:
            await settle(pilot)
            assert any("pane_tasks" in n.message and "ctl" in n.message
                       for n in app._notifications)
            app.clear_notifications()
            await pilot.pause()
            assert " F4 Tasks" in screen_text(app).splitlines()[0]          # default kept
            assert "F11 past conversations" in " ".join(screen_text(app).split())
            await pilot.press("f11")
            await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="history")
            await pilot.press("escape")
            await pilot.press("f4")
            await settle(pilot)
            assert "Insert new" in screen_text(app)
            await pilot.press("f1")
            await pilot.pause()
            table = app.screen.query_one(DataTable)
            rows = {table.get_row_at(i)[3]: table.get_row_at(i)[0] for i in range(table.row_count)}
            assert rows["chat.history"] == "F11" and rows["tasks.new"] == "Insert"
    run(main())


def test_keys_are_remapped_from_etc_tui_json(make_app, tui_profile):
    tui_profile.config.update("tui", {"keys": {"pane_tasks": "f12", "no_such_action": "x"}})

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("f12")
            assert app.current_mode == "tasks"
            assert " F12 Tasks" in screen_text(app).splitlines()[0]
            assert any("no_such_action" in n.message for n in app._notifications)
    run(main())


def test_yolo_asks_first_tints_and_is_audited(make_app, tui_profile):
    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            bar = app.screen.query_one(StatusBar)
            calm = bar.styles.background
            switch = app.screen.query_one("#yolo-switch")
            await pilot.click(switch)                      # the chat's switch asks too
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")                         # declined: nothing changes
            await pilot.pause()
            assert app.yolo is False and switch.value is False
            assert not audit_events(tui_profile, events.YOLO_CHANGED)
            await pilot.press("f8")
            await pilot.pause()
            await pilot.press("y")
            await wait_for(pilot, lambda: app.yolo, what="yolo on")
            assert app.has_class("-yolo") and bar.styles.background != calm   # tinted
            assert " YOLO " in screen_text(app).splitlines()[-2]
            assert switch.value is True                    # the chat switch follows
            await pilot.press("f8")                        # off: no question asked
            await wait_for(pilot, lambda: not app.yolo, what="yolo off")
            changes = audit_events(tui_profile, events.YOLO_CHANGED)
            assert [e["details"]["yolo"] for e in changes] == [True, False]
            assert changes[0]["category"] == "security" and changes[0]["actor"] == "tui"
    run(main())


def trust_style(app) -> str:
    """The style of the trust level's text in the status bar."""
    text = app.screen.query_one(StatusBar).render()
    level = app.services.profile.persona.trust_level()
    at = text.plain.index(level)
    return " ".join(str(span.style) for span in text.spans
                    if span.start <= at < span.end)


def test_raising_trust_asks_first_default_cancel_and_is_highlighted(make_app, tui_profile):
    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert trust_style(app) == ""                  # supervised_auto: plain
            await pilot.press("f10")
            await pilot.pause()
            assert isinstance(app.screen, ChoiceScreen)
            await pilot.press("down", "enter")             # supervised_auto → bounded_auto
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            assert "bounded_auto" in screen_text(app)
            await pilot.press("enter")                     # the default button is Cancel
            await settle(pilot)
            assert not isinstance(app.screen, ConfirmScreen)
            assert tui_profile.persona.trust_level() == "supervised_auto"
            assert not audit_events(tui_profile, events.TRUST_CHANGED)

            await pilot.press("f10")
            await pilot.pause()
            await pilot.press("down", "down", "enter")     # → adaptive_auto, and say yes
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            await pilot.press("y")
            await wait_for(pilot, lambda: tui_profile.persona.trust_level() == "adaptive_auto",
                           what="trust saved")
            await settle(pilot)
            assert "trust adaptive_auto" in screen_text(app).splitlines()[-2]
            assert "on" in trust_style(app)               # highlighted: above supervised_auto
            change = audit_events(tui_profile, events.TRUST_CHANGED)[-1]
            assert change["details"] == {"from": "supervised_auto", "to": "adaptive_auto"}

            await pilot.press("f10")                       # lowering: no question asked
            await pilot.pause()
            await pilot.press("up", "up", "up", "enter")   # → suggest
            await wait_for(pilot, lambda: tui_profile.persona.trust_level() == "suggest",
                           what="lowered")
            assert not isinstance(app.screen, ConfirmScreen)
            await settle(pilot)
            assert trust_style(app) == ""
    run(main())


def test_copy_uses_osc52_and_f9_shows_the_text(make_app):
    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("f6")
            await settle(pilot)
            await pilot.press("y")                         # copy the current audit entry
            copied = json.loads(app.clipboard)
            assert copied["event"] == "lora_training_started"
            await pilot.press("f9")
            await pilot.pause()
            assert isinstance(app.screen, TextViewScreen)
            assert app.screen.text == app.clipboard
    run(main())


def test_f1_starts_at_the_current_pane_and_filters(make_app):
    async def main():
        app = make_app(start="audit")
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("f1")
            await pilot.pause()
            table = app.screen.query_one(DataTable)
            assert table.get_row_at(0)[1] == "audit"            # this pane's keys first
            await pilot.press("slash", *"follow")
            await pilot.pause()
            rows = [table.get_row_at(i) for i in range(table.row_count)]
            assert rows and all("follow" in " ".join(map(str, r)).lower() for r in rows)
            assert "audit.follow" in [r[3] for r in rows]
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
    run(main())


def test_the_palette_lists_every_pane_action_with_its_key(make_app):
    """Approvals and Training actions are in Ctrl+P too, each with the key that does it."""
    async def main():
        app = make_app(start="approvals")
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
            assert "Approvals: Approve" in commands and "key a" in commands["Approvals: Approve"]
            assert "Approvals: Reject" in commands
            await pilot.press("f7")
            await settle(pilot)
            commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
            assert "Training: Start local run" in commands
            assert "key s" in commands["Training: Start local run"]
            assert "key F10" in commands["Set trust level"]
    run(main())


def test_a_screenshot_is_saved_under_the_profile(make_app, tui_profile, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "no-downloads"))     # a host without ~/Downloads

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)
            app.deliver_screenshot()                    # what the palette's "Screenshot" does
            folder = tui_profile.root / "out" / "screens"
            await wait_for(pilot, lambda: folder.is_dir() and list(folder.glob("*.svg")),
                           what="screenshot file")
            await wait_for(pilot, lambda: any(str(folder) in n.message
                                              for n in app._notifications), what="where")
    run(main())


def test_f1_stays_visible_at_60_columns_and_modals_show_their_own_keys(make_app):
    async def main():
        app = make_app()
        async with app.run_test(size=(60, 20)) as pilot:
            await settle(pilot)
            for key in ("f2", "f3", "f4", "f5", "f6", "f7"):
                await pilot.press(key)
                await settle(pilot)
                assert "f1 Help" in screen_text(app).splitlines()[-1], key
            await pilot.press("f2")
            await settle(pilot)
            await pilot.press("f8")                        # the YOLO confirm
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            footer = screen_text(app).splitlines()[-1]
            assert "Yes" in footer and "New chat" not in footer
    run(main())
