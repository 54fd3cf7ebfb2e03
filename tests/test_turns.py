"""Person turns (importers/turns.py), property-tested: every message of the person lands in exactly
one memory, in order, and nobody else's words ever do; the prompt is always another speaker's;
importing a prefix and then the whole chat covers each message once."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings, strategies as st

from metahuman_core.memory.importers.base import Message
from metahuman_core.memory.importers.turns import person_turns

T0 = datetime(2026, 1, 1, 9, 0).astimezone()
chat = st.lists(st.tuples(st.sampled_from(["Alex", "alex", "Ana", "Bob"]),
                          st.sampled_from(["text", "text", "text", "media", "system", "forwarded"]),
                          st.integers(0, 300)), min_size=1, max_size=40)


def build(spec) -> list[Message]:
    out, ts = [], T0
    for i, (speaker, kind, minutes) in enumerate(spec):
        ts += timedelta(minutes=minutes)
        text = f"message {i} by {speaker}" if kind == "text" else ""
        out.append(Message("c", None if kind == "system" else speaker, text, ts, f"k{i}", kind))
    return out


@settings(max_examples=300, deadline=None)
@given(chat)
def test_only_my_words_each_once_and_prompts_from_others(spec):
    msgs = build(spec)
    if not any(m.speaker and m.speaker.lower() == "alex" and m.kind != "system" for m in msgs):
        return
    items, stats = person_turns(msgs, ["ALEX"], set(), format="whatsapp")
    mine = [m.text for m in msgs if m.kind == "text" and m.speaker.lower() == "alex"]
    got = [line for it in items for line in it["content"].split("\n")]
    assert got == mine                                   # all mine, in order, once each
    assert stats.mine == len(mine) and stats.turns == len(items) and stats.duplicates == 0
    for it in items:
        reply = it["metadata"].get("replyTo")
        if reply:
            assert reply["speaker"].lower() != "alex"
            assert all(f"by {reply['speaker']}" in line for line in reply["text"].split("\n"))


@settings(max_examples=200, deadline=None)
@given(chat, st.integers(0, 40))
def test_prefix_then_whole_covers_each_message_once(spec, cut):
    msgs = build(spec)
    if not any(m.speaker and m.speaker.lower() == "alex" and m.kind != "system" for m in msgs):
        return
    seen: set[str] = set()
    lines = []
    for part in (msgs[:cut], msgs):
        if not any(m.speaker and m.speaker.lower() == "alex" and m.kind != "system" for m in part):
            continue
        items, _ = person_turns(part, ["alex"], seen, format="whatsapp")
        for it in items:
            seen.update(it["keys"])
            lines += it["content"].split("\n")
    assert sorted(lines) == sorted(m.text for m in msgs
                                   if m.kind == "text" and m.speaker.lower() == "alex")
