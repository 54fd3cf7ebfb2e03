"""Generic inputs (DESIGN §6): text, JSON and JSONL files.

* text (.txt/.md/.markdown and any other UTF-8 text): paragraph-aware chunks (chunking.py);
* json (.json): a string, an object with `content` (keeps timestamp/type/tags/entities/importance/
  response/source and any extra fields), or an array of those;
* jsonl (.jsonl/.ndjson): one such value per line.
"""

from __future__ import annotations

import json
from typing import Any

from ..chunking import iter_chunks
from .base import Parsed, ParseError, Source, json_error

KEEP = ("timestamp", "type", "tags", "entities", "importance", "response", "source", "links",
        "metadata")
DROP = ("id", "path", "content", "text")
JSON_EXT = (".json",)
JSONL_EXT = (".jsonl", ".ndjson")


def _item(value, where: str) -> dict:
    if isinstance(value, str):
        if not value.strip():
            raise ParseError(f"{where}: empty text")
        return {"content": value}
    if isinstance(value, dict):
        content = value.get("content", value.get("text"))
        if not isinstance(content, str) or not content.strip():
            raise ParseError(f"{where}: JSON object has no text 'content' field "
                             '(expected {"content": "…", "timestamp": …, "tags": […]})')
        item: dict[str, Any] = {"content": content}
        extra = {}
        for key, v in value.items():
            if key in KEEP:
                item[key] = v
            elif key not in DROP:
                extra[key] = v
        if extra:
            item["extra"] = extra
        return item
    raise ParseError(f"{where}: expected text or an object with 'content', got "
                     f"{type(value).__name__}")


class JsonImporter:
    name = "json"
    description = "JSON: a string, {\"content\": …}, or an array of those"

    def sniff(self, src: Source) -> bool:
        return src.lower.endswith(JSON_EXT)

    def parse(self, src: Source) -> Parsed:
        data = src.json()
        if isinstance(data, list):
            if not data:
                raise ParseError("JSON array is empty")
            return Parsed(self.name, [_item(v, f"item {i}") for i, v in enumerate(data)])
        return Parsed(self.name, [_item(data, "top level")])


class JsonlImporter:
    name = "jsonl"
    description = "JSON lines: one string or {\"content\": …} per line"

    def sniff(self, src: Source) -> bool:
        return src.lower.endswith(JSONL_EXT)

    def parse(self, src: Source) -> Parsed:
        items = []
        for n, line in enumerate(src.text.split("\n"), 1):
            if line.strip():
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise json_error(exc, line, n) from None
                items.append(_item(value, f"line {n}"))
        if not items:
            raise ParseError("file has no JSON lines")
        return Parsed(self.name, items)


class TextImporter:
    name = "text"
    description = "text or Markdown, split on paragraphs"

    def sniff(self, src: Source) -> bool:
        return not src.is_zip and b"\x00" not in src.head()

    def parse(self, src: Source) -> Parsed:
        return Parsed(self.name, [{"content": chunk} for chunk in iter_chunks(src.text)])
