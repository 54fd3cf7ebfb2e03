"""Importers (DESIGN §6): one inbox file → memory items, detected by content or forced by name.

    from metahuman_core.memory.importers import Source, parse
    parsed = parse(Source("WhatsApp Chat with Ana.txt", path))   # or parse(src, "whatsapp")

Formats, tried in this order: whatsapp, telegram, markdown, json, jsonl, text. A new one (mbox,
Signal, Discord) is a class with `name`, `description`, `sniff(src)` and `parse(src)` (see
base.Importer) added to FORMATS; chat formats return Messages and get the person's turns from
turns.py for free.
"""

from __future__ import annotations

from ...errors import ValidationFailed
from .base import MAX_FILE, Importer, Message, Parsed, ParseError, Source, decode
from .generic import JsonImporter, JsonlImporter, TextImporter
from .markdown_vault import MarkdownImporter
from .telegram import TelegramImporter
from .whatsapp import WhatsAppImporter

FORMATS: dict[str, Importer] = {imp.name: imp for imp in (
    WhatsAppImporter(), TelegramImporter(), MarkdownImporter(), JsonImporter(), JsonlImporter(),
    TextImporter())}

__all__ = ["FORMATS", "MAX_FILE", "Importer", "Message", "ParseError", "Parsed", "Source",
           "check_format", "decode", "detect", "parse"]


def check_format(name: str) -> str:
    """A format name as `--format` takes it, or ValidationFailed listing the known ones."""
    key = name.strip().lower()
    if key not in FORMATS:
        raise ValidationFailed(f"unknown format {name!r}", hint="one of: " + ", ".join(FORMATS))
    return key


def detect(src: Source) -> Importer:
    for importer in FORMATS.values():
        if importer.sniff(src):
            return importer
    if src.is_zip:
        why = "zip archive without a WhatsApp chat (_chat.txt) or Markdown notes (.md)"
    elif b"\x00" in src.head():
        why = "binary file (contains NUL bytes); the inbox takes text, Markdown, JSON, JSONL " \
              "and chat exports"
    else:
        why = "unreadable content"
    raise ParseError(f"unrecognised format (tried {', '.join(FORMATS)}): {why}")


def parse(src: Source, forced: str | None = None) -> Parsed:
    """Parse one file with the named importer, or the first whose sniff() accepts it."""
    importer = FORMATS[check_format(forced)] if forced else detect(src)
    return importer.parse(src)
