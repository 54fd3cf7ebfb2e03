"""Date filters shared by search and listings.

`after` is inclusive and `before` exclusive (like most mail search): after:2025-10-01
before:2025-11-01 is all of October. A plain date compares the memory's own calendar date (in the
offset it was written with); a date-time compares the instant.
"""

from __future__ import annotations

from datetime import date, datetime

from ..errors import ValidationFailed
from ..ids import DATE_RE


def parse_bound(value, name: str = "date") -> date | datetime | None:
    """None, a date, a datetime, or text: YYYY-MM-DD or an ISO 8601 date-time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if DATE_RE.match(text):
                return date.fromisoformat(text)
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            dt = datetime.fromisoformat(text)
            return dt if dt.tzinfo else dt.astimezone()
        except ValueError:
            pass
    raise ValidationFailed(f"invalid {name}: {value!r}",
                           hint="use YYYY-MM-DD or an ISO date-time like 2025-10-19T16:00")


def time_clause(op: str, value) -> tuple[str | None, object]:
    """SQL condition on the docs table (alias d) for one bound, and its parameter."""
    bound = parse_bound(value, "after" if op == ">=" else "before")
    if bound is None:
        return None, None
    if isinstance(bound, datetime):
        return f"d.ts {op} ?", bound.timestamp()
    return f"d.day {op} ?", bound.isoformat()
