"""The search query language: words, "exact phrases", -excluded, prefix*, and filters
`type:`, `tag:`, `entity:`, `source:` (a prefix: `source:whatsapp` keeps whatsapp:family;
`-source:` drops), `after:`, `before:`.

Words are ANDed (a memory must hold them all: weak partial matches are not results). Every piece
of user text reaches FTS5 only as a quoted string, so no input can inject FTS syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FIELDS = ("type", "tag", "entity", "source", "after", "before")
STOPWORDS = frozenset(
    "a an and are as at be but by did do for from had has have he her his i in is it its me my "
    "of on or our she so than that the their them then there these they this to was we were "
    "what when where which who why will with you your".split())
_FIELD_RE = re.compile(r"([A-Za-z]+):(?=\S)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Query:
    terms: list[str] = field(default_factory=list)      # plain words (stop words already removed)
    prefixes: list[str] = field(default_factory=list)   # word*
    phrases: list[str] = field(default_factory=list)    # "exact phrase"
    excluded: list[str] = field(default_factory=list)   # -word / -"phrase"
    types: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)      # any of these prefixes
    not_sources: list[str] = field(default_factory=list)  # none of these prefixes
    after: str | None = None
    before: str | None = None

    @property
    def has_text(self) -> bool:
        return bool(self.terms or self.prefixes or self.phrases or self.entities)

    @property
    def has_filters(self) -> bool:
        return bool(self.types or self.tags or self.sources or self.not_sources or self.after
                    or self.before or self.excluded)

    def positive_fts(self) -> str | None:
        """FTS5 MATCH text for what must be present, or None if nothing textual is required."""
        parts = [quote(t) for t in self.terms] + [quote(p) for p in self.phrases]
        parts += [quote(p) + " *" for p in self.prefixes]
        parts += ["entities : " + quote(e) for e in self.entities]
        return " AND ".join(parts) or None

    def excluded_fts(self) -> str | None:
        return " OR ".join(quote(x) for x in self.excluded) or None

    def fts(self) -> str | None:
        """One MATCH expression: positives, then NOT each excluded term."""
        pos = self.positive_fts()
        if pos is None:
            return None
        return " NOT ".join([f"({pos})"] + [quote(x) for x in self.excluded])

    def text(self) -> str:
        """The free text, for semantic search (filters and exclusions removed)."""
        return " ".join(self.terms + self.phrases + self.prefixes + self.entities)


def at_least(parts: list[str], need: int, most: int = 20) -> str | None:
    """FTS5 expression matching rows that hold at least `need` of `parts` (FTS expressions):
    an OR of every `need`-sized AND group, so the index itself applies the "half the words"
    floor. None when that takes more than `most` groups (the caller filters afterwards)."""
    from itertools import combinations
    from math import comb

    if not 0 < need <= len(parts) or comb(len(parts), need) > most:
        return None
    return " OR ".join("(" + " AND ".join(g) + ")" for g in combinations(parts, need))


def quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _usable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _scan(text: str):
    """Yield (negated, field or None, value, quoted) for each piece of the query."""
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return
        neg = False
        if text[i] == "-" and i + 1 < n and not text[i + 1].isspace():
            neg, i = True, i + 1
        fname = None
        m = _FIELD_RE.match(text, i)
        if m and m.group(1).lower() in FIELDS:
            fname, i = m.group(1).lower(), m.end()
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end == -1 else end
            yield neg, fname, text[i + 1:end], True
            i = end + 1
        else:
            start = i
            while i < n and not text[i].isspace():
                i += 1
            yield neg, fname, text[start:i], False


def parse(text: str) -> Query:
    q = Query()
    words: list[str] = []
    text = _CONTROL.sub(" ", text or "")   # NUL would end an FTS5 string early
    for neg, fname, value, quoted in _scan(text):
        value = value.strip()
        if not value:
            continue
        if fname in ("after", "before"):
            setattr(q, fname, value)
        elif fname == "type":
            q.types.append(value.lower())
        elif fname == "tag":
            q.tags.append(value)
        elif fname == "source":
            (q.not_sources if neg else q.sources).append(value)
        elif fname == "entity" and _usable(value):
            q.entities.append(value)
        elif not _usable(value):
            continue
        elif neg:
            q.excluded.append(value)
        elif quoted:
            q.phrases.append(value)
        elif value.endswith("*") and _usable(value[:-1]):
            q.prefixes.append(value.rstrip("*"))
        else:
            words.append(value)
    kept = [w for w in words if w.lower() not in STOPWORDS]
    q.terms = kept if kept or q.phrases or q.prefixes or q.entities else words
    return q
