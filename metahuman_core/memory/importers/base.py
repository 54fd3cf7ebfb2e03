"""The importer interface: one inbox file in, a `Parsed` out, or ParseError with a reason a person
can act on. Importers are pure (nothing is written here), so a bad file writes nothing.

An importer is a small object with a `name`, a `sniff(src)` that says from the content whether
the file is its format, and a `parse(src)`. Chat exports (WhatsApp, Telegram, and later Signal,
Discord, mbox) return `Message`s; turns.py turns those into the person's own `conversation`
memories. Other formats return ready memory items ({"content", optional fields…}).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ..chunking import normalise

MAX_FILE = 50 * 1024 * 1024      # text we decode and keep in memory
MAX_ZIP = 4 * 1024 ** 3           # a WhatsApp export "with media" can be large; we read its text only


class ParseError(Exception):
    pass


@dataclass(frozen=True)
class Message:
    """One message of a chat export. `speaker` is None for system lines; `kind` is text, media
    (a placeholder or attachment without words), system, or forwarded (not the sender's words)."""
    chat: str
    speaker: str | None
    text: str
    ts: datetime
    key: str
    kind: str = "text"


@dataclass
class Parsed:
    format: str
    items: list[dict] = field(default_factory=list)
    messages: list[Message] | None = None
    source: str | None = None
    skipped: int = 0      # notes or attachments left out (chat formats count per message)


class Importer(Protocol):
    name: str
    description: str

    def sniff(self, src: Source) -> bool: ...

    def parse(self, src: Source) -> Parsed: ...


def decode(raw: bytes, what: str = "file") -> str:
    if len(raw) > MAX_FILE:
        raise ParseError(f"{what} is {len(raw)} bytes; the inbox takes files up to {MAX_FILE} bytes")
    if b"\x00" in raw[:8192]:
        raise ParseError(f"binary {what} (contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    text = normalise(text)
    if not text.strip():
        raise ParseError(f"{what} is empty")
    return text


def json_error(exc: json.JSONDecodeError, text: str, line: int | None = None) -> ParseError:
    """"invalid JSON at line 3, column 5 (character 120): …", saying when the file ends early.
    `line`: the line number of a one-line document (JSONL)."""
    msg = exc.msg.removesuffix(" at").removesuffix(" starting")
    at_end = exc.pos >= len(text.rstrip()) or msg == "Unterminated string"
    ending = " - the file ends there (truncated?)" if at_end and line is None else ""
    where = f"line {line}, column {exc.colno}" if line is not None else \
        f"line {exc.lineno}, column {exc.colno} (character {exc.pos})"
    return ParseError(f"invalid JSON at {where}: {msg[:1].lower()}{msg[1:]}{ending}")


class Source:
    """One file to import, read lazily: its bytes, its text, its JSON, or its zip members."""

    def __init__(self, name: str, path: Path | None = None, raw: bytes | None = None):
        self.name = name
        self.path = path
        self._raw = raw
        self._text: str | None = None
        self._json: Any = None
        self._json_error: ParseError | None = None
        self._parsed_json = False
        self._zip: zipfile.ZipFile | None = None

    @property
    def lower(self) -> str:
        return self.name.lower()

    def head(self, n: int = 8192) -> bytes:
        if self._raw is not None:
            return self._raw[:n]
        assert self.path is not None
        with open(self.path, "rb") as fh:
            return fh.read(n)

    def size(self) -> int:
        if self._raw is not None:
            return len(self._raw)
        assert self.path is not None
        return self.path.stat().st_size

    @property
    def is_zip(self) -> bool:
        return self.head(4) == b"PK\x03\x04"

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            assert self.path is not None
            if self.size() > MAX_FILE:
                raise ParseError(f"file is {self.size()} bytes; the inbox takes files up to "
                                 f"{MAX_FILE} bytes (split it, or export one chat at a time)")
            self._raw = self.path.read_bytes()
        return self._raw

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = decode(self.raw)
        return self._text

    def json(self) -> Any:
        """The file's JSON value (ParseError naming the position if it is not valid JSON)."""
        if not self._parsed_json:
            self._parsed_json = True
            try:
                self._json = json.loads(self.text)
            except json.JSONDecodeError as exc:
                self._json_error = json_error(exc, self.text)
        if self._json_error is not None:
            raise self._json_error
        return self._json

    def zip(self) -> zipfile.ZipFile:
        if self._zip is None:
            try:
                if self.size() > MAX_ZIP:
                    raise ParseError(f"zip archive is {self.size()} bytes; at most {MAX_ZIP}")
                self._zip = zipfile.ZipFile(self.path if self.path is not None else _bytes_io(self.raw))
            except (zipfile.BadZipFile, OSError) as exc:
                raise ParseError(f"not a readable zip archive ({exc})") from None
        assert isinstance(self._zip, zipfile.ZipFile)
        return self._zip

    def member_text(self, info: zipfile.ZipInfo) -> str:
        if info.file_size > MAX_FILE:
            raise ParseError(f"{info.filename} in the zip is {info.file_size} bytes; at most "
                             f"{MAX_FILE}")
        try:
            with self.zip().open(info) as fh:
                raw = fh.read(MAX_FILE + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
            raise ParseError(f"cannot read {info.filename} from the zip ({exc})") from None
        return decode(raw, info.filename)

    def close(self) -> None:
        if isinstance(self._zip, zipfile.ZipFile):
            self._zip.close()


def _bytes_io(raw: bytes):
    import io

    return io.BytesIO(raw)
