"""What an approval will do, in full: every argument, long text with its size and sha256, and for
a file write the diff against the file it would replace. Shown on Enter and in the confirm.

Why: a person approves what they can read. The queue pane's one-line args and an 8-line panel
cut off the end of the content and the `overwrite` flag; this text is never cut (it scrolls).
The existing file is read through the core's sandbox, so a secret is never shown here either.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..widgets.footer import PaneFooter

LONG = 160            # a string argument longer than this (or multi-line) is shown as a block
DIFF_LINES = 400      # a longer diff says how much is left out


def _value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, indent=2)


def _is_long(value: Any) -> bool:
    return isinstance(value, str) and (len(value) > LONG or "\n" in value)


def _stats(text: str) -> str:
    raw = text.encode("utf-8")
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    return (f"{len(raw):,} bytes · {lines:,} line{'s' if lines != 1 else ''} · "
            f"sha256 {hashlib.sha256(raw).hexdigest()}")


def existing_file(profile, path: str) -> tuple[str, str | None]:
    """(what the write would do, the current text or None) for `path` under out/."""
    from metahuman_core.errors import MHError, NotFound
    from metahuman_core.sandbox import Sandbox

    box = Sandbox(profile.root)
    try:
        parts = box.resolve_write(path)
        shown, data = box.read_bytes("/".join(parts))
    except NotFound:
        return "a new file", None
    except MHError as exc:
        return f"cannot show the current file: {exc.message}", None
    try:
        return f"replaces {shown} ({len(data):,} bytes now)", data.decode("utf-8")
    except UnicodeDecodeError:
        return f"replaces {shown} ({len(data):,} bytes now, not UTF-8 text: no diff)", None


def file_effect(profile, item: dict[str, Any]) -> tuple[str, str | None]:
    """For a write with a path and content: (one line on the effect, the current text)."""
    args = item.get("args") or {}
    if not (isinstance(args, dict) and isinstance(args.get("path"), str)
            and isinstance(args.get("content"), str)):
        return "", None
    effect, current = existing_file(profile, args["path"])
    if current is not None and not args.get("overwrite"):
        effect += "; overwrite is false, so the write will be refused"
    return effect, current


def summary(profile, item: dict[str, Any]) -> list[str]:
    """The few lines the queue pane shows under the table (the overwrite effect first)."""
    args = item.get("args") or {}
    lines = [f"{item.get('id')} · {item.get('skill')} · risk {item.get('risk')} · "
             f"by {item.get('requested_by')}"]
    effect, _ = file_effect(profile, item)
    if effect:
        lines.append(f"{args.get('path')} · overwrite: {_value(bool(args.get('overwrite')))} · "
                     f"{effect}")
    shown = {k: (f"<{_stats(v).split(' · sha256')[0]}>" if _is_long(v) else v)
             for k, v in (args.items() if isinstance(args, dict) else [])}
    lines.append("args: " + json.dumps(shown, ensure_ascii=False))
    if item.get("status") != "pending":
        lines.append(f"{item.get('status')} by {item.get('decided_by')}"
                     + (f": {item['reason']}" if item.get("reason") else ""))
    lines.append(f"trust {item.get('trust')}" + (" · YOLO" if item.get("yolo") else "")
                 + f" · expires {item.get('expires_at')}"
                 + (f" · why: {item['request_reason']}" if item.get("request_reason") else "")
                 + " · Enter: everything")
    return lines


def describe(profile, item: dict[str, Any]) -> str:
    """Every argument in full; long strings as blocks with size and sha256; the diff of a write
    against the file it replaces."""
    args = item.get("args")
    out = [f"{item.get('skill')} · risk {item.get('risk')} · requested by "
           f"{item.get('requested_by')} · expires {item.get('expires_at')}"]
    if item.get("request_reason"):
        out.append(f"why: {item['request_reason']}")
    out.append("")
    if not isinstance(args, dict):
        out.append("args: " + _value(args))
        return "\n".join(out)
    blocks = []
    for key, value in args.items():
        if _is_long(value):
            out.append(f"{key}: {_stats(value)} (in full below)")
            blocks.append((key, value))
        else:
            out.append(f"{key}: {_value(value)}")
    effect, current = file_effect(profile, item)
    if effect:
        out.append(f"effect: {effect}")
    if current is not None:   # what changes first, then the whole new text
        new = str(args.get("content"))
        diff = list(difflib.unified_diff(current.splitlines(), new.splitlines(),
                                         f"{args.get('path')} (now)",
                                         f"{args.get('path')} (after)", lineterm=""))
        out += ["", "── diff against the current file " + "─" * 20]
        out += diff[:DIFF_LINES] or ["(no change: the content is the same)"]
        if len(diff) > DIFF_LINES:
            out.append(f"[{len(diff) - DIFF_LINES:,} more diff lines not shown; the full new "
                       "content is below]")
    for key, value in blocks:
        out += ["", f"── {key} ({_stats(value).split(' · sha256')[0]}) " + "─" * 20, value.rstrip("\n")]
    return "\n".join(out)


class ApprovalDetailScreen(ModalScreen["str | None"]):
    """The full request, scrollable. `a`/`r` decide from here (the pane asks to confirm)."""

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="approvals.detail.close"),
        Binding("a", "decide('approve')", "Approve", id="approvals.detail.approve"),
        Binding("r", "decide('reject')", "Reject", id="approvals.detail.reject"),
        Binding("y", "copy", "Copy args", id="approvals.detail.copy"),
    ]

    def __init__(self, title: str, text: str, args: Any = None) -> None:
        super().__init__(classes="modal")
        self.title_text, self.text, self.args = title, text, args

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide -tall"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(id="approval-full", can_focus=True):
                yield Static(self.text, markup=False)
        yield PaneFooter()

    def on_mount(self) -> None:
        self.query_one("#approval-full").focus()

    def action_decide(self, what: str) -> None:
        self.dismiss(what)

    def action_copy(self) -> None:
        self.app.copy_text(json.dumps(self.args, ensure_ascii=False, indent=2),  # type: ignore[attr-defined]
                           "the arguments")

    def action_close(self) -> None:
        self.dismiss(None)
