"""Chat pane against the real core chat/operator and the fake Ollama server (no network)."""

from __future__ import annotations

import asyncio
import time

from textual import events
from textual.widgets import Button, Input, Markdown

from metahuman_core.approvals import ApprovalQueue
from metahuman_core.memory import MemoryStore
from metahuman_tui.screens.chat import ReplyEvent
from metahuman_tui.screens.modals import ChoiceScreen, PromptScreen
from metahuman_tui.widgets.chat_events import TextDelta, ToolCalled
from metahuman_tui.widgets.chat_view import (
    ApprovalCard,
    Reply,
    ToolCallRow,
    UserMessage,
)
from metahuman_tui.widgets.prompt_area import PromptArea

from .conftest import screen_text, settle, wait_for

ANSWER = "Focus on the **Q4 plan**: Sarah wants numbers by Friday.\n\n- draft\n- review"


def run(coro):
    return asyncio.run(coro)


def prompt_box(app) -> PromptArea:
    return app.screen.query_one("#chat-input", PromptArea)


async def send(pilot, text: str) -> None:
    box = prompt_box(pilot.app)
    box.value = text
    box.focus()
    await pilot.press("enter")


def test_reply_streams_incrementally_and_is_saved(make_app, fake_llm, tui_profile):
    fake_llm.script([{"content": ANSWER}])
    seen = []

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
            await settle(pilot)
            await send(pilot, "What should I focus on?")
            await settle(pilot)
            screen = app.screen
            assert screen.reply is None                      # the turn finished
            reply = screen.query(Reply).last()
            assert reply.text == ANSWER
            assert screen.query(UserMessage).last().text == "What should I focus on?"
            assert "Q4 plan" in screen_text(app)
            md = reply.query_one(Markdown)
            assert md.source == ANSWER                         # one final full render
            assert screen.history[-1] == {"role": "assistant", "content": ANSWER}
    run(main())
    unique = list({id(m): m for m in seen}.values())      # a message is seen once per hop
    deltas = [m.event.text for m in unique if isinstance(m, ReplyEvent)
              and isinstance(m.event, TextDelta)]
    assert len(deltas) > 5 and "".join(deltas) == ANSWER     # many fragments, not one blob
    saved = MemoryStore(tui_profile).list(type="conversation", limit=5)
    assert any(m.get("response") == ANSWER for m in saved)


def test_escape_cancels_and_restores_the_prompt(make_app, fake_llm):
    fake_llm.token_delay = 0.05
    fake_llm.script([{"content": "word " * 200}])

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await send(pilot, "Tell me a long story")
            screen = app.screen
            await wait_for(pilot, lambda: screen.reply is not None and screen.reply.text,
                           what="first tokens")
            await pilot.press("escape")
            await wait_for(pilot, lambda: screen.reply is None, what="cancel")
            assert prompt_box(app).value == "Tell me a long story"
            # what had arrived stays on screen, marked cancelled (not saved, not in history)
            reply = screen.query_one(Reply)
            assert reply.text.startswith("word") and reply.has_class("-cancelled")
            assert screen.query_one(UserMessage).text == "Tell me a long story"
            assert "cancelled" in screen_text(app)
            assert screen.history == []
    run(main())


def test_escape_before_the_first_token_drops_the_turn(make_app, fake_llm):
    fake_llm.script([lambda req: (time.sleep(3), {"content": "late"})[1]])   # a slow start

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await send(pilot, "anyone there?")
            screen = app.screen
            await wait_for(pilot, lambda: screen.reply is not None, what="turn started")
            await pilot.pause()
            assert "waiting for the model" in screen_text(app)     # working, before any token
            await pilot.press("escape")
            await wait_for(pilot, lambda: screen.reply is None, what="cancel")
            assert not screen.query(Reply) and not screen.query(UserMessage)
            assert prompt_box(app).value == "anyone there?"
    run(main())


def test_a_draft_survives_focus_moving_away_and_back(make_app):
    """Focus leaving the prompt and coming back must not select the draft: the next key would
    replace it (Input's select_on_focus)."""
    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            box = prompt_box(app)
            assert app.focused is box
            await pilot.press(*"a long careful draft")
            await pilot.press("tab")
            assert app.focused is not box
            await pilot.press("shift+tab")
            assert app.focused is box
            await pilot.press("!")
            assert box.value == "a long careful draft!"
            app.screen.query_one("#chat-log").focus()
            await pilot.pause()
            await pilot.press("escape")              # Esc (no reply running) back to the prompt
            assert app.focused is box
            await pilot.press("?")
            assert box.value == "a long careful draft!?"
    run(main())


def test_the_prompt_is_multi_line_and_a_paste_keeps_every_line(make_app, fake_llm):
    fake_llm.script([{"content": "Got all three."}])

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            box = prompt_box(app)
            app.post_message(events.Paste("first line\nsecond line\nthird line"))
            await pilot.pause()
            assert box.value == "first line\nsecond line\nthird line"
            assert box.size.height >= 3                       # the box grew to show them
            await pilot.press("ctrl+j", *"fourth", "shift+enter", *"fifth")
            assert box.value.splitlines()[-2:] == ["fourth", "fifth"]
            await pilot.press("enter")                        # Enter sends all of it
            await settle(pilot)
            sent = app.screen.query(UserMessage).last().text
            assert sent.splitlines() == ["first line", "second line", "third line", "fourth",
                                         "fifth"]
            assert box.value == ""
            assert fake_llm.chat_requests()[-1]["messages"][-1]["content"] == sent
    run(main())


def test_page_keys_scroll_the_transcript_from_the_prompt(make_app):
    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            log = app.screen.query_one("#chat-log")
            for i in range(40):
                await log.mount(UserMessage(f"message {i}"))
            await pilot.pause()
            log.scroll_end(animate=False, immediate=True)
            await pilot.pause()
            bottom = log.scroll_y
            assert bottom > 0 and app.focused is prompt_box(app)
            await pilot.press("pageup")
            await pilot.pause()
            assert log.scroll_y < bottom and app.focused is prompt_box(app)
            await pilot.press("pagedown")
            await pilot.pause()
            assert log.scroll_y == bottom
    run(main())


def test_failure_keeps_the_prompt_and_says_why(make_app, fake_llm):
    fake_llm.script([{"error": "model exploded", "status": 500}])

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await send(pilot, "hello?")
            await settle(pilot)
            assert prompt_box(app).value == "hello?"
            assert "✗" in screen_text(app)
    run(main())


def test_tool_calls_and_an_approval_are_answered_inline(make_app, fake_llm, tui_profile):
    """The operator route: a tool call that needs approval pauses the run; Approve in the chat
    executes it through the queue and the operator carries on to its answer."""
    fake_llm.script([
        {"tool_calls": [{"name": "fs_write",
                         "arguments": {"path": "out/hello.txt", "content": "hi"}}]},
        {"content": "I wrote out/hello.txt."}])

    async def main():
        app = make_app()
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await send(pilot, "create a file out/hello.txt saying hi")
            screen = app.screen
            await wait_for(pilot, lambda: screen.query(ApprovalCard), what="approval card")
            card = screen.query_one(ApprovalCard)
            assert card.event.skill == "fs_write" and card.event.risk == "medium"
            assert screen.query(ToolCallRow)                   # the call is shown inline
            await pilot.click(card.query_one("#approve", Button))
            await wait_for(pilot, lambda: screen.reply is None, timeout=20, what="run finished")
            assert card.has_class("-decided")
            assert (tui_profile.root / "out" / "hello.txt").read_text() == "hi"
            item = ApprovalQueue(tui_profile).get(card.event.approval_id)
            assert item["status"] == "executed" and item["decided_by"] == "human"
            row = screen.query_one(ToolCallRow)
            assert row.title.startswith("✓ fs_write")
            assert "I wrote out/hello.txt." in screen.query(Reply).last().text
    run(main())


def test_inline_approval_by_keyboard_at_80x24(make_app, fake_llm, tui_profile):
    """At 80 columns the card wraps the whole argument list (the person approves what they
    can read); Shift+Tab reaches the buttons; once decided, the buttons go away and typing
    lands in the prompt again."""
    content = "line of the file that is long enough to wrap " * 3
    fake_llm.script([
        {"tool_calls": [{"name": "fs_write",
                         "arguments": {"path": "out/long.txt", "content": content}}]},
        {"content": "Written."}])

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await send(pilot, "create a file out/long.txt")
            screen = app.screen
            await wait_for(pilot, lambda: screen.query(ApprovalCard), what="approval card")
            await pilot.pause()
            card = screen.query_one(ApprovalCard)
            flat = " ".join(screen_text(app).split())
            assert "wrap line of the file" in flat and content.split()[-1] in flat
            assert "Shift+Tab" in flat
            await pilot.press("shift+tab", "shift+tab")
            assert app.focused is card.query_one("#approve", Button)
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.reply is None, timeout=20, what="run finished")
            await pilot.pause()
            assert card.has_class("-decided")
            assert not card.query_one(".approval-buttons").display    # buttons gone
            assert app.focused is prompt_box(app)
            await pilot.press("o", "k")
            assert prompt_box(app).value == "ok"
            assert (tui_profile.root / "out" / "long.txt").read_text() == content
    run(main())


def test_cancelling_while_an_approval_waits_says_where_it_went(make_app, fake_llm, tui_profile):
    """Esc drops the turn and its card, but the queued request stays pending (the operator run
    is resumable): the person is told it waits in F5, instead of it silently lingering."""
    fake_llm.script([{"tool_calls": [{"name": "fs_write",
                                      "arguments": {"path": "out/maybe.txt", "content": "x"}}]}])

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)
            await send(pilot, "create a file out/maybe.txt")
            screen = app.screen
            await wait_for(pilot, lambda: screen.query(ApprovalCard), what="approval card")
            approval_id = screen.query_one(ApprovalCard).event.approval_id
            await pilot.press("escape")
            await wait_for(pilot, lambda: screen.reply is None, timeout=20, what="cancelled")
            assert not screen.query(ApprovalCard)
            assert ApprovalQueue(tui_profile).get(approval_id)["status"] == "pending"
            assert any(approval_id in n.message and "F5" in n.message
                       for n in app._notifications)
    run(main())


def test_rejecting_inline_asks_for_a_reason(make_app, fake_llm, tui_profile):
    fake_llm.script([
        {"tool_calls": [{"name": "fs_write",
                         "arguments": {"path": "out/no.txt", "content": "x"}}]},
        {"content": "Understood, I did not write it."}])

    async def main():
        app = make_app()
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await send(pilot, "write a file out/no.txt")
            screen = app.screen
            await wait_for(pilot, lambda: screen.query(ApprovalCard), what="approval card")
            card = screen.query_one(ApprovalCard)
            await pilot.click(card.query_one("#reject", Button))
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), what="reason")
            app.screen.query_one(Input).value = "not now"
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.reply is None, timeout=20, what="run finished")
            item = ApprovalQueue(tui_profile).get(card.event.approval_id)
            assert item["status"] == "rejected" and item["reason"] == "not now"
            assert app.focused is prompt_box(app)
            assert not (tui_profile.root / "out" / "no.txt").exists()
    run(main())


def test_history_lists_saved_conversations(make_app):
    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+o")
            await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="history")
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen.PANE == "chat"
                           and app.screen.query(UserMessage), what="loaded conversation")
            assert app.screen.query_one(UserMessage).text == "What should I focus on this week?"
            assert app.screen.history[0]["content"] == "What should I focus on this week?"
    run(main())


def test_tool_call_rows_show_results(make_app):
    """Widget-level: a failed tool result marks its row (no LLM needed)."""
    from metahuman_tui.widgets.chat_events import ToolReturned

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            reply = Reply()
            await app.screen.query_one("#chat-log").mount(reply)
            await reply.add_tool_call(ToolCalled("1", "fs_read", {"path": "nope.md"}))
            await reply.tool_returned(ToolReturned("1", "fs_read", False, "not found"))
            row = reply.query_one(ToolCallRow)
            assert row.has_class("-failed") and row.title.startswith("✗ fs_read")
            # focused, a failed row is not red text on the blue cursor (unreadable)
            from textual.widgets._collapsible import CollapsibleTitle

            title = row.query_one(CollapsibleTitle)
            title.focus()
            await pilot.pause()
            cursor_bg = app.theme_variables["block-cursor-background"]
            assert title.styles.background.hex.lower() != cursor_bg.lower()[:7]
            assert title.styles.color.hex != title.styles.background.hex
    run(main())


def test_ctrl_o_reopens_a_multi_turn_conversation_whole(make_app, tui_profile):
    """Exchanges saved with metadata.conversation (one id per chat, metadata.turn in order) are
    one entry in Ctrl+O, and choosing it brings back every turn and the history."""
    from metahuman_core import clock

    from . import data

    store = MemoryStore(tui_profile)
    turns = [("Plan my week?", "Start with the Q4 numbers."), ("And then?", "The passport."),
             ("Anything else?", "Call the plumber.")]
    for n, (question, answer) in enumerate(turns):
        when = data.at(19, 13, n)
        clock.set_clock(clock.FixedClock(when))
        store.capture(question, type="conversation", response=answer, actor="tui",
                      source="chat", tags=["chat"], timestamp=when,
                      metadata={"conversation": "conv-1", "turn": n + 1})
    clock.set_clock(clock.FixedClock(data.NOW))

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+o")
            await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="history")
            labels = [str(o.prompt) for o in app.screen.query_one("#choices").options]
            assert len(labels) == 2 and "Plan my week?" in labels[0] and "3 turns" in labels[0]
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(app.screen.query(UserMessage)) == 3,
                           what="all turns")
            assert [m.text for m in app.screen.query(UserMessage)] == [q for q, _ in turns]
            assert [r.text for r in app.screen.query(Reply)] == [a for _, a in turns]
            assert [h["content"] for h in app.screen.history] == [
                x for pair in turns for x in pair]
    run(main())


def test_a_wide_code_block_scrolls_sideways(make_app):
    from metahuman_tui.widgets.chat_view import CodeFence

    long_line = "mh memory search " + " ".join(f"term{i}" for i in range(40))

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            reply = Reply(waiting=False)
            await app.screen.query_one("#chat-log").mount(reply)
            await reply.write(f"Run this:\n\n```\n{long_line}\n```\n")
            await reply.finish()
            await pilot.pause()
            fence = reply.query_one(CodeFence)
            assert fence.can_focus                       # wider than the chat: reachable
            fence.focus()
            await pilot.pause()
            await pilot.press("right", "right", "right")
            assert fence.scroll_x > 0
            await pilot.press("end")
            await pilot.pause()
            assert "term39" in screen_text(app)
            await pilot.press("home")
            assert fence.scroll_x == 0
    run(main())


def test_ctrl_n_starts_a_new_conversation_and_ctrl_o_continues_one(make_app, fake_llm,
                                                                    tui_profile):
    """Every exchange is saved with its conversation id and turn; Ctrl+N starts a new id, so
    Ctrl+O reopens the earlier two turns whole, and a message sent then is their turn 3."""
    fake_llm.script([{"content": "Answer one."}, {"content": "Answer two."},
                     {"content": "Another topic."}, {"content": "Answer three."}])

    def saved() -> dict[str, dict]:
        out = {}
        for m in MemoryStore(tui_profile).list(type="conversation", limit=50):
            meta = m.get("metadata") or {}
            if meta.get("conversation", "").startswith("conv-2"):
                out[m["content"]] = meta
        return out

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            for text in ("First question?", "Second question?"):
                await send(pilot, text)
                await wait_for(pilot, lambda: screen.reply is None and screen.history
                               and screen.history[-2]["content"] == text, what=text)
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: not screen.query(UserMessage), what="new chat")
            assert screen.history == []
            await send(pilot, "Something else?")
            await wait_for(pilot, lambda: screen.reply is None and screen.history, what="reply")
            meta = saved()
            one = meta["First question?"]["conversation"]
            assert meta["Second question?"]["conversation"] == one
            assert [meta[q]["turn"] for q in ("First question?", "Second question?")] == [1, 2]
            assert meta["Something else?"]["conversation"] != one
            assert meta["Something else?"]["turn"] == 1 and meta["First question?"]["model"]
            await pilot.press("ctrl+o")
            await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="history")
            choices = app.screen.query_one("#choices")
            labels = [str(o.prompt) for o in choices.options]
            choices.highlighted = next(i for i, label in enumerate(labels)
                                       if "First question?" in label)
            assert "2 turns" in labels[choices.highlighted]
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(app.screen.query(UserMessage)) == 2, what="turns")
            await send(pilot, "Third question?")
            await wait_for(pilot, lambda: screen.reply is None
                           and screen.history[-2]["content"] == "Third question?", what="reply")
            third = saved()["Third question?"]
            assert (third["conversation"], third["turn"]) == (one, 3)
    run(main())


def test_thinking_progress_and_the_nudge_show_in_the_pending_reply(make_app, fake_llm):
    """The operator reports Thinking(step, elapsed, tokens) while the model generates: the
    pending reply says "thinking… N s, M tokens" until the next event; a first answer without
    a tool call shows the nudge notice."""
    fake_llm.token_delay = 0.3
    fake_llm.script([{"content": "I think there are some files there maybe"},
                     {"tool_calls": [{"name": "fs_list", "arguments": {"path": "docs"}}]},
                     {"content": "Listed."}])
    seen: list[str] = []

    async def main():
        app = make_app()
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await send(pilot, "list the markdown files in docs/")
            screen = app.screen

            def thinking_shown() -> bool:
                lines = [str(w.render()) for w in screen.query(".thinking")]
                seen.extend(lines)
                return any(", " in t and "tokens" in t and not t.startswith("⋯ thinking… 0 s")
                           for t in lines)

            await wait_for(pilot, thinking_shown, timeout=20, what="thinking progress")
            await wait_for(pilot, lambda: screen.reply is None, timeout=30, what="run finished")
            text = screen_text(app)
            assert "asking it once to use one" in text                   # the nudge notice
            assert not screen.query(".thinking") and "thinking…" not in text   # gone after
            assert "fs_list" in screen.query_one(ToolCallRow).title           # then it did
    run(main())
    assert any("s, " in t and "token" in t for t in seen)


def test_a_thinking_line_is_replaced_by_the_next_event(make_app):
    from metahuman_tui.widgets.chat_events import Thinking

    async def main():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            screen.reply = Reply()
            await screen.query_one("#chat-log").mount(screen.reply)
            screen.post_message(ReplyEvent(Thinking("1", 12.4, 40)))
            await pilot.pause()
            assert "thinking… 12 s, 40 tokens" in screen_text(app)
            assert "waiting for the model" not in screen_text(app) and not screen.reply.received
            screen.post_message(ReplyEvent(Thinking("1", 13.0, 1)))
            await pilot.pause()
            assert "thinking… 13 s, 1 token " in screen_text(app) + " "
            assert len(screen.query(".thinking")) == 1
            screen.post_message(ReplyEvent(TextDelta("Hello")))
            await pilot.pause()
            assert "thinking…" not in screen_text(app) and "Hello" in screen_text(app)
    run(main())
