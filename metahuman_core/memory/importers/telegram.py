"""Telegram Desktop JSON exports (`result.json`): one chat, or the whole account
(`chats.list`, and `left_chats.list`).

`text` is a string or an array of strings and entities ({"type": "bold", "text": …}); the parts
are joined. Service messages (joins, calls, pins) are system; messages with a photo, file or
sticker and no words are media (a caption is text); forwarded messages are not the sender's own
words. Message identity: the chat id and the message id, which Telegram keeps across exports.
Times: `date_unixtime` when present (exact), else `date` (local time of the exporting machine).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import Message, Parsed, ParseError, Source

MEDIA_KEYS = ("photo", "file", "media_type", "sticker_emoji", "location_information",
              "contact_information", "poll", "game_title", "invoice_information")


def text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", ""))
                       if isinstance(part, dict) else "" for part in value)
    return ""


def _when(msg: dict, where: str) -> datetime:
    unix = msg.get("date_unixtime")
    try:
        if unix not in (None, ""):
            return datetime.fromtimestamp(int(unix)).astimezone()
        return datetime.fromisoformat(str(msg["date"])).astimezone()
    except (KeyError, ValueError, TypeError, OverflowError):
        raise ParseError(f"{where}: no readable 'date' ({msg.get('date')!r})") from None


def chats_of(data: Any) -> list[dict]:
    """The chats of an export: a single-chat export, or every chat of an account export."""
    if not isinstance(data, dict):
        return []
    if isinstance(data.get("messages"), list):
        return [data]
    out = []
    for section in ("chats", "left_chats"):
        part = data.get(section)
        if isinstance(part, dict) and isinstance(part.get("list"), list):
            out += [c for c in part["list"] if isinstance(c, dict)]
    return out


def _chat_name(chat: dict) -> str:
    if chat.get("type") == "saved_messages":
        return "Saved Messages"
    name = chat.get("name")
    return str(name) if name else f"chat {chat.get('id', '?')}"


def messages(data: Any) -> list[Message]:
    out = []
    for ci, chat in enumerate(chats_of(data)):
        name = _chat_name(chat)
        chat_id = chat.get("id", name)
        for mi, msg in enumerate(chat.get("messages") or []):
            if not isinstance(msg, dict):
                continue
            where = f"chat {name!r} message {msg.get('id', mi)}"
            ts = _when(msg, where)
            key = f"telegram:{chat_id}:{msg.get('id', f'{ci}.{mi}')}"
            speaker = msg.get("from") or msg.get("from_id")
            text = text_of(msg.get("text"))
            if msg.get("type") != "message":
                kind = "system"
            elif msg.get("forwarded_from") is not None or msg.get("forwarded_from_id"):
                kind = "forwarded"
            elif not text.strip():
                kind = "media" if any(k in msg for k in MEDIA_KEYS) else "system"
            else:
                kind = "text"
            out.append(Message(name, str(speaker) if speaker else None,
                               text if kind == "text" else "", ts, key, kind))
    return out


class TelegramImporter:
    name = "telegram"
    description = "Telegram Desktop JSON export (result.json: one chat or the whole account)"

    def sniff(self, src: Source) -> bool:
        if not src.lower.endswith(".json") or \
                not src.head(64).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            return False
        try:
            chats = chats_of(src.json())
        except ParseError:
            return False
        return bool(chats) and all(isinstance(c.get("messages"), list) for c in chats)

    def parse(self, src: Source) -> Parsed:
        data = src.json()
        if not chats_of(data):
            raise ParseError("not a Telegram export: no 'messages' list and no 'chats.list' "
                             "(export from Telegram Desktop as 'Machine-readable JSON')")
        return Parsed(self.name, messages=messages(data))   # source: telegram:<chat name>
