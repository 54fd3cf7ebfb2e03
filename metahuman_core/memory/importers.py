"""Turn one inbox file into memory items (DESIGN §6). Pure: bytes in, items out, or ParseError
with a reason a person can act on. Nothing is written here, so a bad file writes nothing.

* .txt/.md/.markdown and other text: paragraph-aware chunks (chunking.py);
* .json: a string, an object with `content` (keeps timestamp/type/tags/entities/importance/
  response/source and any extra fields), or an array of those;
* .jsonl/.ndjson: one such value per line;
* binary (NUL bytes), non-UTF-8, empty or malformed files: ParseError.
"""

from __future__ import annotations

import json

from .chunking import chunk_text, normalise

MAX_FILE = 50 * 1024 * 1024
KEEP = ("timestamp", "type", "tags", "entities", "importance", "response", "source", "links",
        "metadata")
DROP = ("id", "path", "content", "text")
JSON_EXT = (".json",)
JSONL_EXT = (".jsonl", ".ndjson")


class ParseError(Exception):
    pass


def decode(raw: bytes) -> str:
    if len(raw) > MAX_FILE:
        raise ParseError(f"file is {len(raw)} bytes; the inbox takes files up to {MAX_FILE} bytes")
    if b"\x00" in raw[:8192]:
        raise ParseError("binary file (contains NUL bytes); the inbox takes text, markdown, "
                         "JSON and JSONL")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    text = normalise(text)
    if not text.strip():
        raise ParseError("file is empty")
    return text


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
        item = {"content": content}
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


def _loads(text: str, where: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"{where}invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                         ) from None


def parse_file(name: str, raw: bytes) -> list[dict]:
    """Items ({"content", optional fields…, optional "extra"}) for one file, in order."""
    text = decode(raw)
    lower = name.lower()
    if lower.endswith(JSON_EXT):
        data = _loads(text, "")
        if isinstance(data, list):
            if not data:
                raise ParseError("JSON array is empty")
            return [_item(v, f"item {i}") for i, v in enumerate(data)]
        return [_item(data, "top level")]
    if lower.endswith(JSONL_EXT):
        items = []
        for n, line in enumerate(text.split("\n"), 1):
            if line.strip():
                items.append(_item(_loads(line, f"line {n}: "), f"line {n}"))
        if not items:
            raise ParseError("file has no JSON lines")
        return items
    return [{"content": chunk} for chunk in chunk_text(text)]
