"""Read JSON that a person may have annotated with // and /* */ comments (the seed's own
`etc/boredom.json` example has one). Comment markers inside strings (URLs) are left alone."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, NoReturn, Sequence


def strip_comments(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end == -1:
                raise json.JSONDecodeError("unterminated /* comment", text, i)
            # keep line numbers stable for error messages
            out.append("\n" * text.count("\n", i, end))
            i = end + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def strip_trailing_commas(text: str) -> str:
    """Drop a comma directly before } or ] (outside strings), a common hand-edit slip."""
    out: list[str] = []
    in_string = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "}]":
                i += 1
                continue
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def loads(text: str) -> Any:
    return json.loads(strip_trailing_commas(strip_comments(text)))


def describe_error(exc: json.JSONDecodeError) -> str:
    """"invalid JSON at line 3 column 11: unterminated string": the stdlib's own messages end in
    a dangling "at" ("Unterminated string starting at") that reads "at at line" once placed."""
    msg = exc.msg.removesuffix(" starting at").removesuffix(" at")
    return f"invalid JSON at line {exc.lineno} column {exc.colno}: {msg[:1].lower()}{msg[1:]}"


# ---------------------------------------------------------------- editing in place
# `mh config set` must not throw away what a person wrote (comments, order, indentation): edits
# replace only the text of one value, or insert one member next to its siblings.

_SCALAR = re.compile(r"-?(?:Infinity|(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)|true|false|null|NaN")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"', re.S)


@dataclass
class _Member:
    key: str
    key_start: int
    value: "_Node"


@dataclass
class _Node:
    start: int                       # span of the value's text: text[start:end]
    end: int
    kind: str                        # "object", "array" or "scalar"
    members: list[_Member] = field(default_factory=list)
    items: list["_Node"] = field(default_factory=list)
    trailing_comma: int | None = None  # offset of the comma in `{"a": 1,}`


class _Parser:
    """A position-keeping parser for JSON with comments and trailing commas."""

    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def fail(self, msg: str) -> NoReturn:
        raise ValueError(f"{msg} at offset {self.pos}")

    def skip(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            if text[self.pos] in " \t\r\n":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end == -1 else end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end == -1:
                    self.fail("unterminated /* comment")
                self.pos = end + 2
            else:
                return

    def string(self) -> str:
        m = _STRING.match(self.text, self.pos)
        if not m:
            self.fail("bad string")
        self.pos = m.end()
        return json.loads(m.group())

    def value(self) -> _Node:
        self.skip()
        start, text = self.pos, self.text
        ch = text[start:start + 1]
        if ch in ("{", "["):
            node = _Node(start, start, "object" if ch == "{" else "array")
            close = "}" if ch == "{" else "]"
            self.pos += 1
            self.skip()
            while not text.startswith(close, self.pos):
                if node.kind == "object":
                    if not text.startswith('"', self.pos):
                        self.fail("expected a key")
                    key_start = self.pos
                    key = self.string()
                    self.skip()
                    if not text.startswith(":", self.pos):
                        self.fail("expected ':'")
                    self.pos += 1
                    node.members.append(_Member(key, key_start, self.value()))
                else:
                    node.items.append(self.value())
                self.skip()
                if text.startswith(",", self.pos):
                    comma = self.pos
                    self.pos += 1
                    self.skip()
                    node.trailing_comma = comma if text.startswith(close, self.pos) else None
                elif not text.startswith(close, self.pos):
                    self.fail(f"expected ',' or '{close}'")
            self.pos += 1
            node.end = self.pos
            return node
        if ch == '"':
            self.string()
        else:
            m = _SCALAR.match(text, self.pos)
            if not m:
                self.fail("expected a value")
            self.pos = m.end()
        return _Node(start, self.pos, "scalar")


def _parse(text: str) -> _Node:
    parser = _Parser(text)
    root = parser.value()
    parser.skip()
    if parser.pos != len(text):
        parser.fail("text after the top-level value")
    return root


def _find(root: _Node, path: Sequence[str]) -> _Node | None:
    node = root
    for key in path:
        if node.kind != "object":
            return None
        # the last duplicate wins, as in json.loads
        found = next((m.value for m in reversed(node.members) if m.key == key), None)
        if found is None:
            return None
        node = found
    return node


def find_value_span(text: str, path: Sequence[str]) -> tuple[int, int] | None:
    """(start, end) of the text of the value at `path` (object keys), or None if it is not
    there. Raises ValueError when `text` is not JSON with comments."""
    node = _find(_parse(text), path)
    return None if node is None else (node.start, node.end)


def _line_start(text: str, pos: int) -> int:
    return max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1


def _indent_of_line(text: str, pos: int) -> str:
    start = _line_start(text, pos)
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


def _starts_line(text: str, pos: int) -> bool:
    return not text[_line_start(text, pos):pos].strip(" \t")


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _reindent(value_json: str, indent: str, newline: str) -> str:
    return value_json.replace("\n", newline + indent) if "\n" in value_json else value_json


def replace_value(text: str, path: Sequence[str], value_json: str) -> str:
    """`text` with the value at `path` replaced by `value_json`, every other byte unchanged.
    A multi-line `value_json` (indented from column 0) is indented to sit under its key."""
    node = _find(_parse(text), path)
    if node is None:
        raise KeyError(".".join(path))
    value_json = _reindent(value_json, _indent_of_line(text, node.start), _newline(text))
    return text[:node.start] + value_json + text[node.end:]


def insert_member(text: str, object_path: Sequence[str], key: str, value_json: str) -> str:
    """`text` with `"key": value_json` added as the last member of the object at `object_path`,
    indented like its siblings (one line per member), or inline when they share a line."""
    obj = _find(_parse(text), object_path)
    if obj is None or obj.kind != "object":
        raise KeyError(".".join(object_path))
    if any(m.key == key for m in obj.members):
        raise ValueError(f"key {key!r} is already there")
    nl, key_json = _newline(text), json.dumps(key, ensure_ascii=False)
    if not obj.members:
        base = _indent_of_line(text, obj.start)
        close = obj.end - 1
        if "\n" not in text:                                   # a one-line file stays one line
            member = f"{key_json}: {_compact(value_json)}"
            return text[:obj.start + 1] + member + text[obj.start + 1:]
        indent = base + indent_unit(text)
        member = f"{key_json}: {_reindent(value_json, indent, nl)}"
        if _starts_line(text, close):                          # `{ // c⏎}`: above the brace
            at = _line_start(text, close)
            return text[:at] + indent + member + nl + text[at:]
        at = close
        while at > obj.start + 1 and text[at - 1] in " \t":
            at -= 1
        return text[:at] + nl + indent + member + nl + base + text[close:]
    last = obj.members[-1]
    trailing = obj.trailing_comma is not None
    comma, head = (",", "") if trailing else ("", ",")      # keep the file's comma style
    after = obj.trailing_comma + 1 if obj.trailing_comma is not None else last.value.end
    if not _starts_line(text, last.key_start):                 # `{"a": 1, "b": 2}`
        member = f" {key_json}: {_compact(value_json)}{comma}"
        return text[:last.value.end] + head + text[last.value.end:after] + member + text[after:]
    indent = _indent_of_line(text, last.key_start)
    member = f"{key_json}: {_reindent(value_json, indent, nl)}{comma}"
    at = _end_of_line_comments(text, after)
    return (text[:last.value.end] + head + text[last.value.end:at] + nl + indent + member
            + text[at:])


def _end_of_line_comments(text: str, pos: int) -> int:
    """Past spaces and comments that follow `pos` on its line (they belong to that member)."""
    n = len(text)
    while pos < n:
        if text[pos] in " \t":
            pos += 1
        elif text.startswith("//", pos):
            end = text.find("\n", pos)
            end = n if end == -1 else end
            return end - 1 if text[end - 1:end] == "\r" else end
        elif text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            if end == -1 or "\n" in text[pos:end]:
                return pos
            pos = end + 2
        else:
            return pos
    return pos


def _compact(value_json: str) -> str:
    return json.dumps(json.loads(value_json), ensure_ascii=False) if "\n" in value_json else value_json


def indent_unit(text: str) -> str:
    """The file's indentation step (from its first member on a line of its own); two spaces if
    the file shows none."""
    root = _parse(text)
    for member in root.members if root.kind == "object" else ():
        if _starts_line(text, member.key_start):
            outer, inner = _indent_of_line(text, root.start), _indent_of_line(text, member.key_start)
            if inner.startswith(outer) and len(inner) > len(outer):
                return inner[len(outer):]
    return "  "


def render(value: Any, text: str) -> str:
    """`value` as JSON in the style of `text`: its indentation step, one line if it is one."""
    if "\n" not in text or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, indent=indent_unit(text))


def same(a: Any, b: Any) -> bool:
    """Equal as JSON: types matter (1 is not true, 1 is not 1.0); key order does not."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)  # NaN


def rewrite(text: str, data: dict[str, Any]) -> str:
    """`text` edited so that it reads as `data`, keeping everything the change does not touch:
    changed values are replaced in place, new keys inserted beside their siblings; an object
    that loses a key is rewritten whole. Raises ValueError when `text` has no usable structure
    (or the edit would not read back as `data`): the caller then writes plain JSON."""
    old = loads(text)
    ops: list[tuple[list[str], str, Any]] = []
    _diff([], old, data, ops)
    for path, key, value in ops:
        if key is None:
            text = replace_value(text, path, render(value, text))
        else:
            text = insert_member(text, path, key, render(value, text))
    if not same(loads(text), data):
        raise ValueError("the in-place edit would not read back as the new data")
    return text


def _diff(path: list[str], old: Any, new: Any, ops: list) -> None:
    if same(old, new):
        return
    if isinstance(old, dict) and isinstance(new, dict) and old.keys() <= new.keys():
        for key, value in new.items():
            if key in old:
                _diff([*path, key], old[key], value, ops)
            else:
                ops.append((path, key, value))
        return
    ops.append((path, None, new))
