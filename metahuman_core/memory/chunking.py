"""Paragraph-aware chunking of text and markdown for the inbox (the original cut every 2000
characters, mid-word and mid-sentence).

Paragraphs (blank-line separated) are packed into chunks of about TARGET characters; a markdown
heading starts a new chunk; a fenced code block is never split at its blank lines; a paragraph
longer than MAX is cut at sentence ends, then at spaces, and only a single word longer than MAX
is ever cut mid-word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

TARGET = 1200
MAX = 2000
_SENTENCE_END = re.compile(r"(?<=[.!?…。])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks; fenced code stays whole; a heading line starts a block."""
    blocks: list[str] = []
    cur: list[str] = []
    fence: str | None = None
    for line in normalise(text).split("\n"):
        m = _FENCE.match(line)
        if fence is not None:
            cur.append(line)
            if m and m.group(1) == fence:
                fence = None
            continue
        if m:
            fence = m.group(1)
            cur.append(line)
            continue
        if not line.strip():
            if cur:
                blocks.append("\n".join(cur))
                cur = []
            continue
        if _HEADING.match(line) and cur:
            blocks.append("\n".join(cur))
            cur = []
        cur.append(line)
    if cur:
        blocks.append("\n".join(cur))
    return [b.strip("\n") for b in blocks if b.strip()]


def _split_long(block: str, max_chars: int) -> list[str]:
    """Cut an over-long paragraph at sentence ends, then at spaces, then (only for one huge word)
    anywhere."""
    out: list[str] = []
    cur = ""
    for sentence in _SENTENCE_END.split(block):
        pieces = [sentence] if len(sentence) <= max_chars else _split_words(sentence, max_chars)
        for piece in pieces:
            joined = f"{cur} {piece}" if cur else piece
            if len(joined) <= max_chars:
                cur = joined
            else:
                if cur:
                    out.append(cur)
                cur = piece
    if cur:
        out.append(cur)
    return out


def _split_words(text: str, max_chars: int) -> list[str]:
    out: list[str] = []
    cur = ""
    for word in text.split():
        while len(word) > max_chars:
            if cur:
                out.append(cur)
                cur = ""
            out.append(word[:max_chars])
            word = word[max_chars:]
        joined = f"{cur} {word}" if cur else word
        if len(joined) <= max_chars:
            cur = joined
        else:
            out.append(cur)
            cur = word
    if cur:
        out.append(cur)
    return out


def chunk_text(text: str, target: int = TARGET, max_chars: int = MAX) -> list[str]:
    """Chunks of whole paragraphs, each at most `max_chars` long, none empty."""
    return list(iter_chunks(text, target, max_chars))


def iter_chunks(text: str, target: int = TARGET, max_chars: int = MAX) -> Iterator[str]:
    """chunk_text() one chunk at a time (a 10 MB file is chunked while it is being written)."""
    target = min(target, max_chars)
    cur: list[str] = []
    size = 0
    lone_heading = False     # a heading stays with the paragraph after it when both fit
    for piece, heading in _pieces(text, max_chars):
        extra = len(piece) + (2 if cur else 0)
        over = size + extra > (max_chars if lone_heading else target)
        if cur and (heading or over):
            chunk = "\n\n".join(cur).strip()
            if chunk:
                yield chunk
            cur, size, extra = [], 0, len(piece)
        lone_heading = heading and not cur and "\n" not in piece
        cur.append(piece)
        size += extra
    if cur:
        chunk = "\n\n".join(cur).strip()
        if chunk:
            yield chunk


def _pieces(text: str, max_chars: int) -> Iterator[tuple[str, bool]]:
    for block in paragraphs(text):
        heading = bool(_HEADING.match(block))
        if len(block) <= max_chars:
            yield block, heading
        else:
            for i, part in enumerate(_split_long(block, max_chars)):
                yield part, heading and i == 0
