"""WhatsApp "Export chat" files: `WhatsApp Chat with X.txt`, `_chat.txt`, or the zip around them
(and the localised names, e.g. `WhatsApp Chat mit X.txt`, `Chat de WhatsApp con X.txt`).

Both line formats are read:
    Android  12/03/2026, 19:04 - Name: text        (also `12/03/2026 19:04`, `12/03/2026 à 19:04`)
    iOS      [12/03/2026, 19:04:11] Name: text
with day-first or month-first dates (decided per file: a field above 12 settles it, otherwise
the order that keeps the messages in time order; a tie with AM/PM clocks is month-first, with
dotted `a. m.`/`p. m.` clocks or 24 h ones day-first), two- or four-digit years, `.`/`-`/`/`
separators, 12 h or 24 h clocks (also with the narrow no-break space newer exports put before
AM/PM). A line that does not start with a time stamp continues the message before it. System
lines (encryption notice, joins, subject changes, missed calls, deleted messages) and media
placeholders (`<Media omitted>`, `image omitted`, `<attached: …>`, `… (file attached)`) are
kept as such, so they are left out of the person's words; a caption under an attachment is
text. WhatsApp writes these in the phone's language: whatsapp_locale.py has them in English,
German, Spanish, French, Portuguese, Italian and Dutch, and the shape rules there catch most
of any other language's.

Message identity (for idempotent re-imports): chat name, the time stamp as written, speaker, a
digest of the text and its occurrence among identical ones — the same in a later, longer export
of the same chat, whatever the date order turned out to be.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import datetime
from itertools import pairwise
from typing import NamedTuple

from . import whatsapp_locale as locale
from .base import Message, Parsed, ParseError, Source

_SP = "[ \u00a0\u202f]"
_STAMP = (rf"(?P<date>\d{{1,4}}[./-]\d{{1,2}}[./-]\d{{1,4}})\.?(?:,|{_SP}à)?{_SP}"
          rf"(?P<time>\d{{1,2}}[:.]\d{{2}}(?:[:.]\d{{2}})?)"
          rf"(?:{_SP}?(?P<ampm>[AaPp]\.?{_SP}?[Mm]\.?))?")
ANDROID = re.compile(rf"{_STAMP}{_SP}?[-–]{_SP}(?P<rest>.*)", re.DOTALL)
IOS = re.compile(rf"\[{_STAMP}\]{_SP}(?P<rest>.*)", re.DOTALL)
MARKS = "\u200e\u200f\ufeff"
BIDI = MARKS + "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"   # around phone numbers
_SYSTEM_HEAD = locale.SYSTEM_HEAD
_MEDIA_LINE = locale.MEDIA_LINE
_SYSTEM_TEXT = locale.SYSTEM_TEXT
_EDITED = locale.EDITED
_NAME = locale.FILE_NAME
_CHAT_MEMBER = locale.CHAT_MEMBER


class Line(NamedTuple):
    """One message as written: the stamp fields and everything after them (continuations
    joined with newlines)."""
    date: str
    time: str
    ampm: str | None
    rest: str


def match(line: str):
    """The stamp match of a message's first line, or None for a continuation line."""
    line = line.lstrip(MARKS)
    return IOS.fullmatch(line) or ANDROID.fullmatch(line)


def split_lines(text: str) -> list[Line]:
    """Messages as written; lines before the first stamp are ignored."""
    out: list[Line] = []
    for line in text.removesuffix("\n").split("\n"):
        m = match(line)
        if m:
            out.append(Line(m["date"], m["time"], m["ampm"], m["rest"]))
        elif out:
            last = out[-1]
            out[-1] = last._replace(rest=f"{last.rest}\n{line}")
    return out


def _date_parts(date: str) -> tuple[int, int, int, bool]:
    a, b, c = re.split(r"[./-]", date)
    return int(a), int(b), int(c), len(a) == 4


def _clock(time: str, ampm: str | None) -> tuple[int, int, int]:
    parts = [int(p) for p in re.split(r"[:.]", time)]
    h, m, s = parts[0], parts[1], parts[2] if len(parts) > 2 else 0
    if ampm:
        pm = ampm.strip().lower().startswith("p")
        if not 1 <= h <= 12:
            raise ValueError("12-hour clock out of range")
        h = (h % 12) + (12 if pm else 0)
    return h, m, s


def to_datetime(line: Line, order: str) -> datetime:
    """`order` is dmy, mdy or ymd. ValueError if the stamp is not a real date/time."""
    a, b, c, year_first = _date_parts(line.date)
    if year_first:
        y, mo, d = a, b, c
    elif order == "mdy":
        mo, d, y = a, b, c
    else:
        d, mo, y = a, b, c
    if y < 100:
        y += 2000
    h, mi, s = _clock(line.time, line.ampm)
    return datetime(y, mo, d, h, mi, s)


def date_order(lines: list[Line]) -> str:
    """dmy or mdy for this file (ymd stamps parse the same either way)."""
    candidates = []
    for order in ("dmy", "mdy"):
        try:
            stamps = [to_datetime(ln, order) for ln in lines]
        except ValueError:
            continue
        backwards = sum(1 for x, y in pairwise(stamps) if y < x)
        candidates.append((backwards, order))
    if not candidates:
        bad = next(ln for ln in lines if _invalid(ln))
        raise ParseError(f"time stamp {bad.date}, {bad.time} is not a real date and time "
                         "(read as day/month and as month/day)")
    candidates.sort()
    if len(candidates) == 2 and candidates[0][0] == candidates[1][0]:
        # "PM" is the US clock; "p. m." the Spanish-speaking (day-first) one
        return "mdy" if any(ln.ampm and "." not in ln.ampm for ln in lines) else "dmy"
    return candidates[0][1]


def _invalid(line: Line) -> bool:
    for order in ("dmy", "mdy"):
        try:
            to_datetime(line, order)
            return False
        except ValueError:
            continue
    return True


def classify(rest: str) -> tuple[str | None, str, str]:
    """(speaker, kind, text) of what follows a stamp. Text keeps the person's newlines."""
    head, sep, tail = rest.partition(": ")
    if not sep and rest.rstrip().endswith(":") and "\n" not in rest:
        head, sep, tail = rest.rstrip()[:-1], ": ", ""
    if not sep or "\n" in head or len(head) > 80 or _SYSTEM_HEAD.search(head):
        return None, "system", rest
    speaker = head.strip(BIDI + " ")
    ios_marked = tail.startswith("\u200e")
    text = _EDITED.sub("", tail.replace("\u200e", ""))
    first, _, more = text.partition("\n")
    if first.strip() == "POLL:":
        return speaker, "media", ""
    if _MEDIA_LINE.fullmatch(first.strip()):   # a caption may follow an attachment
        return (speaker, "text", more.strip("\n")) if more.strip() else (speaker, "media", "")
    if _SYSTEM_TEXT.fullmatch(text.strip()):
        return speaker, "system", text
    if ios_marked and "\n" not in text:
        return speaker, "system", text     # iOS marks its own notices with U+200E
    return speaker, "text", text.rstrip("\n")


def chat_name(file_name: str, member: str | None, lines: list[Line]) -> str | None:
    for name in (file_name, member or ""):
        m = _NAME.match(name.rsplit("/", 1)[-1])
        if m:
            return m["chat"].strip()
    for ln in lines[:3]:   # iOS: the encryption notice is "posted" by the chat itself
        speaker, kind, text = classify(ln.rest)
        if speaker and kind == "system" and locale.ENCRYPTED.fullmatch(text.strip()):
            return speaker
    return None


def messages(text: str, file_name: str, member: str | None = None) -> list[Message]:
    lines = split_lines(text)
    if not lines:
        raise ParseError("no WhatsApp message lines (like '12/03/2026, 19:04 - Name: text' or "
                         "'[12/03/2026, 19:04:11] Name: text')")
    order = date_order(lines)
    parsed = [(ln, to_datetime(ln, order), *classify(ln.rest)) for ln in lines]
    chat = chat_name(file_name, member, lines) or ", ".join(
        sorted({s for _, _, s, k, _ in parsed if s and k != "system"})) or "WhatsApp chat"
    seen: Counter = Counter()
    out = []
    for ln, ts, speaker, kind, body in parsed:
        digest = hashlib.sha256(ln.rest.encode("utf-8")).hexdigest()[:16]
        ident = (f"{ln.date} {ln.time}{' ' + ln.ampm if ln.ampm else ''}", speaker or "", digest)
        seen[ident] += 1
        key = f"whatsapp:{chat}:{ident[0]}:{ident[1]}:{digest}:{seen[ident]}"
        out.append(Message(chat, speaker, body if kind == "text" else "",
                           ts.astimezone(), key, kind))
    return out


class WhatsAppImporter:
    name = "whatsapp"
    description = "WhatsApp chat export (.txt, or the .zip with _chat.txt)"

    def _member(self, src: Source):
        names = [i for i in src.zip().infolist() if _CHAT_MEMBER.search(i.filename)]
        return names[0] if names else None

    def sniff(self, src: Source) -> bool:
        if src.is_zip:
            try:
                return self._member(src) is not None
            except ParseError:
                return False
        try:
            return looks_like(src.text)
        except ParseError:
            return False

    def parse(self, src: Source) -> Parsed:
        member = None
        if src.is_zip:
            info = self._member(src)
            if info is None:
                raise ParseError("zip archive has no WhatsApp chat (_chat.txt or "
                                 "'WhatsApp Chat with ….txt')")
            text, member = src.member_text(info), info.filename
        else:
            text = src.text
        msgs = messages(text, src.name, member)
        return Parsed(self.name, messages=msgs, source=f"whatsapp:{src.name}")


_START = re.compile(r"[\u200e\u200f\ufeff]*\[?\d{1,4}[./-]\d")


def looks_like(text: str) -> bool:
    """The first non-empty line is a message line, or at least 3 of the first 40 are."""
    lines = [ln for ln in text[:20000].split("\n", 200)[:200] if ln.strip()][:40]
    hits = [bool(_START.match(ln) and match(ln)) for ln in lines]
    return bool(hits) and (hits[0] or sum(hits) >= 3)
