"""PII scrub for training data: e-mail addresses, phone numbers, card numbers and secrets.

On by default for remote runs (the data leaves the machine), optional locally. Replacements are
typed placeholders ("[email]", "[phone]", "[card]", "[secret]") so the model learns that a person
mentions an address without learning the address. Dates, times, versions and plain counts are
left alone: a scrubber that eats "2025-10-19" would damage the very text we train on.
"""

from __future__ import annotations

import re
from collections import Counter

EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
SECRET_RES = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"),
    re.compile(r"\b[0-9a-fA-F]{32,}\b"),
]
ASSIGNED_SECRET_RE = re.compile(
    r"(?i)\b(api[_-]?key|access[_-]?key|secret|token|password|passwd|pwd)(\s*[:=]\s*)(\S{6,})")
LONG_TOKEN_RE = re.compile(r"(?<![\w/.-])[A-Za-z0-9+/_-]{40,}={0,2}(?![\w/.-])")
CARD_RE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
PHONE_RE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{5,18}\d(?![\w])")
DATE_LIKE_RE = re.compile(r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
                          r"|\d{1,2}:\d{2}(:\d{2})?|\d+(\.\d+){1,3})$")


def _luhn(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = int(ch)
        if alt:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        alt = not alt
    return total % 10 == 0


def _mixed(token: str) -> bool:
    """A long run of letters alone is a word (or German); a secret mixes classes."""
    classes = sum(bool(re.search(p, token)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    return classes >= 2 and bool(re.search("[0-9]", token))


def scrub(text: str, counts: Counter | None = None) -> str:
    """Replace PII in `text`; `counts` (if given) tallies replacements by kind."""
    counts = counts if counts is not None else Counter()

    def sub(pattern: re.Pattern, label: str, value: str, check=None) -> str:
        def repl(m: re.Match) -> str:
            if check and not check(m.group(0)):
                return m.group(0)
            counts[label.strip("[]")] += 1
            return label
        return pattern.sub(repl, value)

    text = sub(SECRET_RES[0], "[secret]", text)
    text = ASSIGNED_SECRET_RE.sub(lambda m: (counts.update(["secret"]) or
                                             f"{m.group(1)}{m.group(2)}[secret]")
                                  if m.group(3) != "[secret]" else m.group(0), text)
    for pattern in SECRET_RES[1:]:
        text = sub(pattern, "[secret]", text)
    text = sub(EMAIL_RE, "[email]", text)
    text = sub(LONG_TOKEN_RE, "[secret]", text, _mixed)
    text = sub(CARD_RE, "[card]", text, lambda s: _luhn(re.sub(r"\D", "", s)))
    text = sub(PHONE_RE, "[phone]", text, _is_phone)
    return text


def _is_phone(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15:
        return False
    stripped = candidate.strip("() ")
    if DATE_LIKE_RE.match(stripped):
        return False
    if re.fullmatch(r"\d{4}", stripped[:4]) and re.fullmatch(r"\d{4}\s*[-–]\s*\d{4}", stripped):
        return False  # a year range such as 2019-2024
    return bool(re.search(r"[ ().-]", candidate)) or candidate.startswith("+") or len(digits) >= 10
