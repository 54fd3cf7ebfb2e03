"""Ids and slugs. A memory id is its file stem: evt-YYYYMMDD-HHMMSS-<slug> (DESIGN §3)."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from .errors import ValidationFailed

SLUG_MAX = 40
_SLUG_STRIP = re.compile(r"[^a-z0-9]+")

MEMORY_ID_RE = re.compile(r"^evt-\d{8}-\d{6}-[a-z0-9][a-z0-9-]{0,80}$")
TASK_ID_RE = re.compile(r"^task-\d{8}-\d{6}(-\d{1,4})?$")
APPROVAL_ID_RE = re.compile(r"^apr-\d{8}-\d{6}-[a-f0-9]{6,32}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def slugify(text: str, max_len: int = SLUG_MAX) -> str:
    """ASCII slug of the first words: "Met with Sarah!" -> "met-with-sarah". Never empty."""
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = _SLUG_STRIP.sub("-", norm).strip("-")
    if len(slug) > max_len:
        cut = slug[:max_len]
        slug = cut.rsplit("-", 1)[0] if "-" in cut[max_len // 2:] else cut
        slug = slug.strip("-")
    return slug or "note"


def stamp(ts: datetime) -> str:
    return ts.strftime("%Y%m%d-%H%M%S")


def memory_stem(ts: datetime, text: str) -> str:
    return f"evt-{stamp(ts)}-{slugify(text)}"


def task_stem(ts: datetime) -> str:
    return f"task-{stamp(ts)}"


def validate(kind: str, value: str, pattern: re.Pattern) -> str:
    """Ids come from users and LLMs: refuse anything that is not exactly an id (no paths)."""
    if not isinstance(value, str) or not pattern.fullmatch(value or ""):
        noun = kind if kind == "date" else f"{kind} id"
        raise ValidationFailed(f"invalid {noun}: {value!r}",
                               hint=f"expected something like {_EXAMPLES[kind]}")
    return value


_EXAMPLES = {
    "memory": "evt-20251019-160000-met-with-sarah",
    "task": "task-20251019-160500",
    "approval": "apr-20251019-160500-1a2b3c4d",
    "date": "2025-10-24",
}


def validate_memory_id(value: str) -> str:
    return validate("memory", value, MEMORY_ID_RE)


def validate_task_id(value: str) -> str:
    return validate("task", value, TASK_ID_RE)


def validate_approval_id(value: str) -> str:
    return validate("approval", value, APPROVAL_ID_RE)


def validate_date(value: str) -> str:
    """YYYY-MM-DD that is a real calendar date (used in file names, so strict)."""
    validate("date", value, DATE_RE)
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise ValidationFailed(f"invalid date: {value!r}", hint="use YYYY-MM-DD") from None
    return value
