"""Markdown notes: an Obsidian-style vault (a folder given to `mh ingest`, which packs its notes
into one zip in the inbox, or a zip of the vault dropped there), or one note with front matter.

One memory per note, or per section for a long note (over LONG characters: split at headings,
then paragraphs). Type `journal` for daily notes (the file name starts with YYYY-MM-DD),
`observation` for every other note. Front-matter `tags` become tags (a leading # dropped), the
rest of the front matter is kept in metadata.frontmatter; `date`/`created` (else the daily
note's date, else the file's time) is the timestamp. Wiki-links stay in the text as written and
are listed as links ({"type": "wikilink", "target": "Note"}). Hidden folders (`.obsidian/`,
`.trash/`) and attachments (anything not .md) are left out. Identity: vault, note path and a
digest of the text — re-importing adds nothing, an edited note adds its new version.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from ..chunking import chunk_text
from .base import Parsed, ParseError, Source

LONG = 3000
MD_EXT = (".md", ".markdown")
_KEY = re.compile(r"^([A-Za-z0-9_][\w .-]*?):(?:\s+(.*))?$")
_WIKI = re.compile(r"!?\[\[([^\]|#^\n]+)(?:[#^][^\]|\n]*)?(?:\|[^\]\n]*)?\]\]")
_DAILY = re.compile(r"^(\d{4}-\d{2}-\d{2})")
_TAG_OK = re.compile(r"^[^\s,#][^\s,]{0,99}$")


def _scalar(value: str) -> Any:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        return [_scalar(v) for v in value[1:-1].split(",") if v.strip()]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(fields, body). Reads the common YAML subset notes use: `key: value`, `key: [a, b]`,
    `key:` followed by `- item` lines; anything else in the block is ignored."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        return {}, text
    data: dict[str, Any] = {}
    key = None
    for line in lines[1:end]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _KEY.match(line)
        if m and not line[0].isspace():
            key = m[1].strip()
            data[key] = _scalar(m[2]) if m[2] and m[2].strip() else None
        elif line.lstrip().startswith("- ") and key is not None:
            current = data.get(key)
            items = current if isinstance(current, list) else ([] if current in (None, "")
                                                              else [current])
            items.append(_scalar(line.lstrip()[2:]))
            data[key] = items
    return data, "\n".join(lines[end + 1:])


def tags_of(fields: dict[str, Any]) -> list[str]:
    raw = fields.get("tags", fields.get("tag"))
    values = raw if isinstance(raw, list) else re.split(r"[,\s]+", raw) if isinstance(raw, str) \
        else []
    out = []
    for v in values:
        tag = str(v).strip().lstrip("#")
        if tag and _TAG_OK.match(tag):
            out.append(tag)
    return out


def wikilinks(text: str) -> list[dict]:
    seen: dict[str, None] = {}
    for m in _WIKI.finditer(text):
        target = m[1].strip()
        if target:
            seen.setdefault(target, None)
    return [{"type": "wikilink", "target": t} for t in seen]


def _when(fields: dict[str, Any], stem: str, fallback: datetime | None) -> datetime | None:
    for key in ("date", "created", "created_at"):
        value = fields.get(key)
        if isinstance(value, str) and value:
            try:
                ts = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
            except ValueError:
                continue
            return ts if ts.tzinfo else ts.astimezone()
    m = _DAILY.match(stem)
    if m:
        try:
            return datetime.fromisoformat(m[1]).astimezone()
        except ValueError:
            pass
    return fallback


def note_items(vault: str, path: str, text: str, mtime: datetime | None = None) -> list[dict]:
    """The memory items of one note (none for an empty one)."""
    fields, body = front_matter(text)
    body = body.strip("\n")
    if not body.strip():
        return []
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    parts = [body] if len(body) <= LONG else chunk_text(body)
    ts = _when(fields, stem, mtime)
    extra = {k: v for k, v in fields.items() if k not in ("tags", "tag")}
    out = []
    for i, part in enumerate(parts):
        digest = hashlib.sha256(part.encode("utf-8")).hexdigest()[:16]
        key = f"markdown:{vault}:{path}:{digest}"
        meta: dict[str, Any] = {"title": stem, "path": path, "vault": vault, "importKey": key}
        if extra:
            meta["frontmatter"] = extra
        if len(parts) > 1:
            meta["section"] = {"part": i + 1, "of": len(parts)}
        item: dict[str, Any] = {"content": part, "type": "journal" if _DAILY.match(stem) else "observation",
                "tags": tags_of(fields) + ["markdown"], "links": wikilinks(part),
                "source": f"markdown:{vault}", "metadata": meta, "keys": [key]}
        if ts is not None:
            item["timestamp"] = ts
        out.append(item)
    return out


def _vault_name(src: Source, names: list[str]) -> tuple[str, str]:
    """(vault name, folder prefix to strip) of a zipped vault."""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        top = tops.pop()
        return top, top + "/"
    stem = src.name.rsplit(".", 1)[0]
    return stem.removesuffix(".vault") or "vault", ""


class MarkdownImporter:
    name = "markdown"
    description = "Markdown notes: an Obsidian-style vault (folder or zip), or a note with front matter"

    def _notes(self, src: Source) -> list:
        return [i for i in src.zip().infolist() if not i.is_dir()]

    def sniff(self, src: Source) -> bool:
        try:
            if src.is_zip:
                return any(i.filename.lower().endswith(MD_EXT) for i in self._notes(src))
            if not src.lower.endswith(MD_EXT):
                return False
            return bool(front_matter(src.text)[0])
        except ParseError:
            return False

    def parse(self, src: Source) -> Parsed:
        if not src.is_zip:
            vault = src.name.rsplit(".", 1)[0]
            return Parsed(self.name, note_items(vault, src.name, src.text))
        infos = self._notes(src)
        vault, prefix = _vault_name(src, [i.filename for i in infos])
        items: list[dict] = []
        skipped = 0
        for info in sorted(infos, key=lambda i: i.filename):
            path = info.filename.removeprefix(prefix)
            if any(part.startswith(".") for part in path.split("/")):
                continue                 # .obsidian/, .trash/: settings, not notes
            if not path.lower().endswith(MD_EXT):
                skipped += 1             # attachments
                continue
            try:
                mtime: datetime | None = datetime(*info.date_time).astimezone()
            except ValueError:
                mtime = None
            try:
                text = src.member_text(info)
            except ParseError as exc:
                if "empty" in str(exc):
                    skipped += 1
                    continue
                raise ParseError(f"{path}: {exc}") from None
            notes = note_items(vault, path, text, mtime)
            skipped += not notes
            items += notes
        if not items:
            raise ParseError("no Markdown notes with text in the archive")
        return Parsed(self.name, items, skipped=skipped)
