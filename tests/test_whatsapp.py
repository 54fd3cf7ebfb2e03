"""The WhatsApp line parser: Android and iOS lines, date orders, clocks, multi-line messages,
system lines and media placeholders (fixtures in tests/fixtures/imports/), and hypothesis
round trips: whatever we render the way WhatsApp writes it parses back to the same messages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import assume, given, settings, strategies as st

from metahuman_core.memory.importers import ParseError, Source, parse
from metahuman_core.memory.importers import whatsapp as wa

FIX = Path(__file__).parent / "fixtures" / "imports"


def local(*args) -> datetime:
    return datetime(*args).astimezone()


def said(messages):
    return [(m.speaker, m.kind, m.text) for m in messages]


def test_android_day_first_24h_fixture():
    src = Source("WhatsApp Chat with Ana Lima.txt", FIX / "WhatsApp Chat with Ana Lima.txt")
    parsed = parse(src)
    assert parsed.format == "whatsapp" and parsed.source == "whatsapp:WhatsApp Chat with Ana Lima.txt"
    msgs = parsed.messages
    assert {m.chat for m in msgs} == {"Ana Lima"}
    assert said(msgs) == [
        (None, "system", ""),
        ("Ana Lima", "text", "Are you coming to the climbing gym tomorrow?"),
        ("Ana Lima", "text", "Tom says he might join"),
        ("Alex", "text", "Yes! I'll be there around 7\nbut I have to leave by 9, early start on Friday"),
        ("Ana Lima", "media", ""),
        ("Alex", "text", "Ha, that photo is from last year"),
        ("Alex", "text", "Morning. Running 10 minutes late"),
        ("Alex", "media", ""),
        ("Ana Lima", "system", ""),
        ("Ana Lima", "text", "No worries, I saved you the good wall"),
        ("Alex", "text", "Look at this route: graded 6b but felt like 7a"),   # caption under a file
        ("Ana Lima", "text", "Sandbagged for sure 😂"),
        ("Alex", "media", ""),                                              # view-once "null"
    ]
    assert msgs[1].ts == local(2026, 3, 12, 19, 4) and msgs[6].ts == local(2026, 3, 13, 8, 15)
    assert msgs[1].ts.tzinfo is not None
    assert len({m.key for m in msgs}) == len(msgs)


def test_ios_month_first_12h_fixture_with_marks_and_narrow_spaces():
    msgs = parse(Source("_chat.txt", FIX / "_chat.txt")).messages
    assert {m.chat for m in msgs} == {"Ana Lima"}      # from the encryption notice's "speaker"
    assert said(msgs) == [
        ("Ana Lima", "system", ""),
        ("Ana Lima", "text", "Dinner at ours on Saturday?"),
        ("Alex", "text", "Saturday works. Should I bring dessert?"),
        ("Alex", "media", ""),
        ("Ana Lima", "text", "Yes please!\nThe kids want chocolate"),
        ("Alex", "media", ""),
        ("Alex", "text", "Chocolate it is"),
        ("Ana Lima", "system", ""),
        ("Alex", "text", "Sorry, was asleep. What's up?"),
    ]
    assert msgs[1].ts == local(2026, 3, 12, 19, 4, 11)
    assert msgs[7].ts == local(2026, 3, 13, 0, 1, 0)     # 12:01 AM
    assert msgs[8].ts == local(2026, 3, 13, 9, 15, 0)


def test_group_system_lines_and_polls():
    src = Source("WhatsApp Chat with Climbing crew.txt", FIX / "WhatsApp Chat with Climbing crew.txt")
    msgs = parse(src).messages
    assert {m.chat for m in msgs} == {"Climbing crew"}
    assert said(msgs)[:4] == [(None, "system", "")] * 4    # created, added, subject: with a colon, joined
    assert said(msgs)[4:] == [
        ("Bob", "text", "Who's in for Thursday?"), ("Carol", "text", "Me!"),
        ("Alex", "text", "Count me in"), ("Alex", "media", ""),
        ("Bob", "text", "Same time next week?"), ("Alex", "text", "Can't next week, sorry")]
    assert msgs[-1].ts == local(2026, 1, 13, 18, 35)


@pytest.mark.parametrize("lines, order", [
    (["01/02/2026, 10:00 - A: x", "01/03/2026, 10:00 - A: y"], "dmy"),       # tie, 24 h: day first
    (["1/2/26, 10:00 AM - A: x", "1/3/26, 10:00 AM - A: y"], "mdy"),         # tie, AM/PM: month first
    (["12/01/2026, 10:00 - A: x", "01/02/2026, 10:00 - A: y"], "dmy"),       # only dmy runs forward
    (["01/12/2026, 10:00 - A: x", "02/01/2026, 10:00 - A: y"], "mdy"),       # only mdy runs forward
    (["13/01/2026, 10:00 - A: x"], "dmy"), (["01/13/2026, 10:00 - A: x"], "mdy"),
])
def test_date_order(lines, order):
    assert wa.date_order(wa.split_lines("\n".join(lines))) == order


@pytest.mark.parametrize("line, when", [
    ("12.03.26, 19:04 - Ana: hi", (2026, 3, 12, 19, 4)),
    ("2026-03-12, 19:04 - Ana: hi", (2026, 3, 12, 19, 4)),
    ("[12.03.26, 19:04:05] Ana: hi", (2026, 3, 12, 19, 4, 5)),
    ("13/03/2026, 12:30 am - Ana: hi", (2026, 3, 13, 0, 30)),
    ("13/03/2026, 12:30 p.m. - Ana: hi", (2026, 3, 13, 12, 30)),
    ("3/13/26, 7:04\u202fPM - Ana: hi", (2026, 3, 13, 19, 4)),
])
def test_stamp_styles(line, when):
    (msg,) = wa.messages(line, "x.txt")
    assert (msg.speaker, msg.text, msg.ts) == ("Ana", "hi", local(*when))


def test_not_a_chat_and_impossible_dates():
    with pytest.raises(ParseError, match="no WhatsApp message lines"):
        parse(Source("notes.txt", raw=b"Just a note.\n\nAnother paragraph."), "whatsapp")
    with pytest.raises(ParseError, match="not a real date"):
        wa.messages("31/31/2026, 10:00 - A: x", "x.txt")
    assert parse(Source("notes.txt", raw=b"Just a note.")).format == "text"


def test_phone_number_speakers_and_other_languages():
    text = ("14/03/2026, 10:00 - \u202a+49 151 2345678\u202c: Hallo!\n"
            "14/03/2026, 10:01 - Alex: <Medien ausgeschlossen>\n"
            "14/03/2026, 10:02 - Alex: I <3 this\n")
    assert said(wa.messages(text, "x.txt")) == [
        ("+49 151 2345678", "text", "Hallo!"), ("Alex", "media", ""), ("Alex", "text", "I <3 this")]


def test_edited_marker_and_deleted_lines():
    text = ("14/03/2026, 10:00 - Ana: fixed typo <This message was edited>\n"
            "14/03/2026, 10:01 - Alex: You deleted this message\n"
            "14/03/2026, 10:02 - Alex: location: https://maps.google.com/?q=1,2\n"
            "14/03/2026, 10:03 - Alex: Report.pdf • 3 pages document omitted\n")
    assert said(wa.messages(text, "x.txt")) == [
        ("Ana", "text", "fixed typo"), ("Alex", "system", ""), ("Alex", "media", ""),
        ("Alex", "media", "")]


# ------------------------------------------------------------------ property tests
SPEAKERS = ["Ana", "Alex", "+49 151 2345678", "Zoë Ångström", "Dr. Bob", "李雷"]
ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"),
                         exclude_characters="\u200e\u200f\ufeff\u2028\u2029\x85")
line_text = st.text(ALPHABET, max_size=40)
message_text = st.lists(line_text, min_size=1, max_size=4).map("\n".join).filter(
    lambda t: t.strip() and not t.endswith("\n"))


def render_date(ts: datetime, order: str, sep: str, year4: bool, pad: bool) -> str:
    fmt = (lambda n: f"{n:02d}") if pad else str
    year = f"{ts.year}" if year4 or order == "ymd" else f"{ts.year % 100:02d}"
    if order == "ymd":
        return f"{year}-{ts.month:02d}-{ts.day:02d}"
    a, b = (ts.day, ts.month) if order == "dmy" else (ts.month, ts.day)
    return f"{fmt(a)}{sep}{fmt(b)}{sep}{year}"


def render_time(ts: datetime, h12: bool, seconds: bool, space: str) -> str:
    sec = f":{ts.second:02d}" if seconds else ""
    if not h12:
        return f"{ts.hour:02d}:{ts.minute:02d}{sec}"
    return f"{(ts.hour % 12) or 12}:{ts.minute:02d}{sec}{space}{'PM' if ts.hour >= 12 else 'AM'}"


times = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SPEAKERS), message_text, times), min_size=1,
                max_size=8),
       st.sampled_from(["android", "ios"]), st.sampled_from(["dmy", "mdy", "ymd"]),
       st.sampled_from(["/", ".", "-"]), st.booleans(), st.booleans(), st.booleans(),
       st.sampled_from([" ", "\u202f"]))
def test_round_trip(msgs, style, order, sep, year4, pad, h12, space):
    msgs = sorted(msgs, key=lambda m: m[2])
    assume(order == "ymd" or any(t.day > 12 for _, _, t in msgs))   # else the order is a guess
    seconds = style == "ios"
    expected, lines = [], []
    for speaker, text, ts in msgs:
        ts = ts.replace(microsecond=0, second=ts.second if seconds else 0)
        for cont in text.split("\n")[1:]:
            assume(not wa.match(cont))           # a continuation that looks like a new message
        first = text.split("\n")[0]
        assume(not wa._MEDIA_LINE.fullmatch(first.strip()))
        assume(not wa._SYSTEM_TEXT.fullmatch(text.strip()))
        stamp = f"{render_date(ts, order, sep, year4, pad)}, {render_time(ts, h12, seconds, space)}"
        lines.append(f"[{stamp}] {speaker}: {text}" if style == "ios"
                     else f"{stamp} - {speaker}: {text}")
        expected.append((speaker, "text", text, ts.astimezone()))
    parsed = wa.messages("\n".join(lines) + "\n", "WhatsApp Chat with Ana.txt")
    assert [(m.speaker, m.kind, m.text, m.ts) for m in parsed] == expected
    assert len({m.key for m in parsed}) == len(parsed)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(line_text, st.sampled_from([
    "12/03/2026, 19:04 - Ana: hi", "[3/12/26, 7:04:11 PM] Alex: yo", "99/99/99, 99:99 - x: y",
    "1/2/3, 4:05 - Bob changed the subject", "[1/1/01, 1:01:01 AM] : ", "13/13/2013, 13:13 - a:"])),
    max_size=12))
def test_any_text_parses_or_says_why(lines):
    text = "\n".join(lines)
    try:
        msgs = wa.messages(text, "x.txt")
    except ParseError as exc:
        assert str(exc)
        return
    assert len(msgs) == sum(1 for ln in text.removesuffix("\n").split("\n") if wa.match(ln))
    assert all(m.ts.tzinfo is not None and m.kind in ("text", "media", "system") for m in msgs)
