"""Read the metadata key/values of a GGUF file's header without the `gguf` package.

Activation needs one string (tokenizer.chat_template) from a file that may be tens of GB; the
`gguf` package belongs to the train extra, which the machine that activates a remotely trained
model usually lacks. The header format (versions 2 and 3, either byte order) is:
magic "GGUF", u32 version, u64 tensor count, u64 key/value count, then per pair a string key,
a u32 value type and the value; strings are a u64 length plus UTF-8 bytes.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ValidationFailed

# value type -> struct code of a fixed-size scalar
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
            12: "d"}
_STRING, _ARRAY = 8, 9
MAX_KEYS = 1 << 20


class _Reader:
    def __init__(self, fh: BinaryIO, path: Path, order: str):
        self.fh, self.path, self.order = fh, path, order
        self.size = path.stat().st_size

    def bad(self, why: str) -> ValidationFailed:
        return ValidationFailed(f"{self.path}: not a valid GGUF header ({why})",
                                hint="the file is damaged or truncated; copy or export it again")

    def take(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise self.bad("the file ends inside the header")
        return data

    def scalar(self, code: str) -> Any:
        return struct.unpack(self.order + code, self.take(struct.calcsize(code)))[0]

    def string(self) -> str:
        n = self.scalar("Q")
        if n > self.size:
            raise self.bad("a string is longer than the file")
        return self.take(n).decode("utf-8", errors="replace")

    def value(self, vtype: int, keep: bool) -> Any:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            if keep:
                return self.string()
            n = self.scalar("Q")
            if n > self.size:
                raise self.bad("a string is longer than the file")
            self.fh.seek(n, 1)
            return None
        if vtype != _ARRAY:
            raise self.bad(f"unknown value type {vtype}")
        itype, count = self.scalar("I"), self.scalar("Q")
        if itype in _SCALARS:
            width = struct.calcsize(_SCALARS[itype])
            if count * width > self.size:
                raise self.bad("an array is longer than the file")
            if not keep:
                self.fh.seek(count * width, 1)
                return None
            return list(struct.unpack(f"{self.order}{count}{_SCALARS[itype]}",
                                      self.take(count * width)))
        if count > self.size:
            raise self.bad("an array is longer than the file")
        items = [self.value(itype, keep) for _ in range(count)]
        return items if keep else None


def read_metadata(path: str | Path, keys: set[str] | None = None) -> dict[str, Any]:
    """The header's key/values (only `keys`, if given; arrays are read only when asked for)."""
    path = Path(path)
    with path.open("rb") as raw:
        if raw.read(4) != b"GGUF":
            raise ValidationFailed(f"{path}: not a GGUF file (no GGUF magic at offset 0)")
        head = raw.read(4)
        if len(head) != 4:
            raise ValidationFailed(f"{path}: not a valid GGUF header (the file ends early)")
        order = "<" if struct.unpack("<I", head)[0] < 0x10000 else ">"
        rd = _Reader(raw, path, order)
        version = struct.unpack(order + "I", head)[0]
        if version not in (2, 3):
            raise rd.bad(f"version {version}; GGUF versions 2 and 3 are supported")
        rd.scalar("Q")  # tensor count
        n_keys = rd.scalar("Q")
        if n_keys > MAX_KEYS:
            raise rd.bad(f"{n_keys} metadata keys")
        out: dict[str, Any] = {}
        for _ in range(n_keys):
            key = rd.string()
            wanted = keys is None or key in keys
            value = rd.value(rd.scalar("I"), keep=wanted)
            if wanted:
                out[key] = value
            if keys is not None and keys <= out.keys():
                break
        return out


def chat_template(path: str | Path) -> str:
    """The embedded tokenizer.chat_template ("" when the file has none)."""
    value = read_metadata(path, {"tokenizer.chat_template"}).get("tokenizer.chat_template")
    return value if isinstance(value, str) else ""
