"""The file operations behind /api/file_operations: the seed's create/read/write and its planned
list, delete, metadata, mkdir, search and batch — all inside out/, all through the skill gate.

Each action returns (HTTP status, body) with the seed's shapes:
  success {"success": true, "message": "Successfully created file \"example.txt\"", "path": ABS}
  failure {"success": false, "error": "..."}
Filenames are checked here before anything else (simple names, '/' between folders, no '..',
no leading '.'); the sandbox checks them again when the skill runs. Unlike the original, a bad
name is refused, not silently rewritten, and an empty file can be written.
"""

from __future__ import annotations

import mimetypes
import os
import re
import stat
from datetime import datetime
from typing import Any

from metahuman_core import events

from .deps import outcome_error, run_skill
from .errors import ApiError

COMPONENT_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._ -]*$")
MAX_FILENAME = 1024
MAX_DEPTH = 16
MAX_BATCH = 100
SEARCH_MAX_FILES = 100
SEARCH_MAX_BYTES = 1024 * 1024
SEARCH_LINES_PER_FILE = 5
ACTIONS = ("create", "write", "read", "list", "delete", "metadata", "mkdir", "search")
FILENAME_HINT = ("use a simple name inside out/: letters, digits, '.', '_', '-' and spaces, "
                 "folders separated by '/', no '..' and no leading '.'")


class FileOps:
    def __init__(self, profile):
        self.profile = profile
        self.out = profile.home.out

    # ------------------------------------------------------------------ names
    def clean_name(self, filename: Any, *, allow_root: bool = False) -> str:
        """The validated out/-relative name ("" = out/ itself, only when allow_root)."""
        if filename is None or filename == "":
            if allow_root:
                return ""
            raise ApiError(400, "Action and filename are required")
        if not isinstance(filename, str):
            raise ApiError(400, "filename must be a string")
        name = filename.rstrip("/")
        if name.startswith("out/") or name == "out":
            name = name[4:]
        problem = None
        if "\\" in filename or "\x00" in filename or filename.startswith(("/", "~")):
            problem = "absolute paths, backslashes and NUL are not allowed"
        elif len(filename) > MAX_FILENAME:
            problem = f"longer than {MAX_FILENAME} characters"
        parts = name.split("/") if name else []
        if problem is None and len(parts) > MAX_DEPTH:
            problem = f"more than {MAX_DEPTH} folder levels"
        for part in parts if problem is None else ():
            if part in ("", ".", ".."):
                problem = "'..', '.' and empty folder names are not allowed"
            elif not COMPONENT_RE.fullmatch(part):
                problem = f"{part[:60]!r} has a character that is not allowed or starts with '.'"
            elif len(part.encode()) > 255:
                problem = "a name is longer than 255 bytes"
            if problem:
                break
        if problem:
            self._audit_refusal(filename, problem)
            raise ApiError(400, f"Invalid filename {filename[:200]!r}: {problem}",
                           hint=FILENAME_HINT)
        if not name and not allow_root:
            raise ApiError(400, "Action and filename are required")
        return name

    def _audit_refusal(self, filename: str, problem: str) -> None:
        self.profile.audit.append(events.SANDBOX_VIOLATION, level="warn", category="security",
                                  actor="api", details={"field": "filename",
                                                        "value": filename[:200],
                                                        "reason": problem})

    def abs_path(self, name: str) -> str:
        return str(self.out / name) if name else str(self.out)

    @staticmethod
    def skill_path(name: str) -> str:
        return f"out/{name}" if name else "out"

    def _run(self, skill: str, args: dict, what: str, name: str = "", expect: str = "file"):
        outcome = run_skill(self.profile, skill, args)
        if not outcome.ok:
            raise outcome_error(outcome, what=what,
                                diagnose=lambda: self._diagnose(name, expect, skill, args))
        return outcome.result

    def _kind(self, name: str) -> str:
        """missing | file | dir | other, without following links; "blocked" when a parent
        component is not a folder."""
        parts = name.split("/") if name else []
        cur = self.out
        for i, part in enumerate(parts):
            cur = cur / part
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                return "missing"
            except NotADirectoryError:
                return "blocked"
            if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
                return "blocked"
        st = os.lstat(cur)
        return "dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) \
            else "other"

    def _diagnose(self, name: str, expect: str, skill: str, args: dict) -> int | None:
        """The HTTP status of a refused file skill, from the state of the target."""
        from metahuman_core.sandbox import MAX_WRITE_BYTES

        kind = self._kind(name)
        if kind == "blocked":
            return 409
        if skill == "fs_write":
            if len(args.get("content", "").encode("utf-8")) > MAX_WRITE_BYTES:
                return 413
            return 409 if kind != "missing" else None
        if kind == "missing":
            return 404
        if skill == "fs_mkdir":
            return 409 if kind != "dir" else None
        if expect == "dir":
            return 409 if kind != "dir" else None
        if skill == "fs_delete":
            return 409 if kind == "dir" else None
        if kind != "file":
            return 409
        return 422 if skill == "fs_read" else None  # too large, binary or not UTF-8

    def _entry(self, item: dict) -> dict:
        rel = item["path"][4:] if item["path"].startswith("out/") else item["path"]
        out = {"name": rel, "path": self.abs_path(rel), "type": item.get("type", "file")}
        if "size" in item:
            out["size"] = item["size"]
        return out

    # ------------------------------------------------------------------ actions
    def dispatch(self, op: dict) -> tuple[int, dict]:
        action = op.get("action")
        if not action or (op.get("filename") in (None, "") and action not in ("list", "search")):
            raise ApiError(400, "Action and filename are required")
        if action not in ACTIONS:
            raise ApiError(400, f"Unsupported action: {str(action)[:50]}",
                           hint="one of: " + ", ".join(ACTIONS) + ", batch")
        return getattr(self, f"do_{action}")(op)

    def do_create(self, op: dict) -> tuple[int, dict]:
        return self._write(op, default_overwrite=False)

    def do_write(self, op: dict) -> tuple[int, dict]:
        return self._write(op, default_overwrite=True)

    def _write(self, op: dict, *, default_overwrite: bool) -> tuple[int, dict]:
        name = self.clean_name(op.get("filename"))
        content = op.get("content")
        if content is None:
            raise ApiError(400, "Content is required for create and write actions")
        overwrite = op.get("overwrite")
        overwrite = default_overwrite if overwrite is None else bool(overwrite)
        result = self._run("fs_write", {"path": self.skill_path(name), "content": content,
                                        "overwrite": overwrite}, f'Writing "{name}"', name)
        created = bool(result.get("created", True))
        verb = "created" if created else "overwrote"
        return 200, {"success": True, "message": f'Successfully {verb} file "{name}"',
                     "path": self.abs_path(name), "size": result.get("size"), "created": created}

    def do_read(self, op: dict) -> tuple[int, dict]:
        name = self.clean_name(op.get("filename"))
        result = self._run("fs_read", {"path": self.skill_path(name)}, f'Reading "{name}"',
                           name)
        return 200, {"success": True, "message": f'Successfully read file "{name}"',
                     "path": self.abs_path(name), "content": result["content"],
                     "size": result.get("size")}

    def do_delete(self, op: dict) -> tuple[int, dict]:
        name = self.clean_name(op.get("filename"))
        result = self._run("fs_delete", {"path": self.skill_path(name)}, f'Deleting "{name}"',
                           name)
        kind = result.get("kind", "file")
        body = {"success": True, "message": f'Successfully deleted {kind} "{name}"',
                "path": self.abs_path(name), "kind": kind}
        if result.get("note"):
            body["note"] = result["note"]
        return 200, body

    def do_mkdir(self, op: dict) -> tuple[int, dict]:
        name = self.clean_name(op.get("filename"))
        result = self._run("fs_mkdir", {"path": self.skill_path(name)},
                           f'Creating folder "{name}"', name, "dir")
        created = bool(result.get("created", True)) if isinstance(result, dict) else True
        verb = "created" if created else "found existing"
        return 200, {"success": True, "message": f'Successfully {verb} folder "{name}"',
                     "path": self.abs_path(name), "created": created}

    def _listing(self, name: str, pattern: str, recursive: bool) -> dict:
        body = pattern[3:] if pattern.startswith("**/") else pattern
        if "/" in body or "\x00" in body or "\\" in body or len(pattern) > 200:
            raise ApiError(400, f"Invalid pattern {pattern[:100]!r}: a glob on names such as "
                                "\"*.md\" (give the folder as filename)")
        return self._run("fs_list", {"path": self.skill_path(name), "pattern": pattern,
                                     "recursive": recursive},
                         f'Listing "{name or "out/"}"', name, "dir")

    def do_list(self, op: dict) -> tuple[int, dict]:
        name = self.clean_name(op.get("filename"), allow_root=True)
        result = self._listing(name, op.get("pattern") or "*", bool(op.get("recursive")))
        files = [self._entry(e) for e in result.get("entries", [])]
        where = name or "out/"
        return 200, {"success": True, "message": f'Found {_count(len(files), "entry", "entries")} in "{where}"',
                     "path": self.abs_path(name), "files": files, "count": len(files),
                     "truncated": bool(result.get("truncated"))}

    def do_metadata(self, op: dict) -> tuple[int, dict]:
        name = self.clean_name(op.get("filename"))
        parent, _, base = name.rpartition("/")
        result = self._listing(parent, base, False)  # the gate decides on reading this entry
        entries = [e for e in result.get("entries", [])
                   if e.get("path") == self.skill_path(name)]
        if not entries:
            raise ApiError(404, f'File "{name}" not found in out/')
        meta = self._entry(entries[0])
        try:  # the gate allowed this entry; add what a listing does not carry
            st = os.lstat(self.out / name)
        except OSError as exc:
            raise ApiError(404, f'File "{name}" not found in out/ ({exc.strerror})') from None
        meta.update(size=st.st_size if not stat.S_ISDIR(st.st_mode) else None,
                    modified=_iso(st.st_mtime), changed=_iso(st.st_ctime),
                    mode=oct(stat.S_IMODE(st.st_mode)),
                    extension=os.path.splitext(base)[1].lstrip(".") or None)
        if meta["type"] == "file":
            meta["mimeType"] = mimetypes.guess_type(base)[0] or "application/octet-stream"
        return 200, {"success": True, "message": f'Metadata for "{name}"',
                     "path": self.abs_path(name), "metadata": meta}

    def do_search(self, op: dict) -> tuple[int, dict]:
        query = op.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ApiError(400, "query is required for search")
        if len(query) > 200:
            raise ApiError(400, "query is longer than 200 characters")
        name = self.clean_name(op.get("filename"), allow_root=True)
        listing = self._listing(name, op.get("pattern") or "*", True)
        needle = query.lower()
        matches, searched, skipped = [], 0, 0
        for item in listing.get("entries", []):
            entry = self._entry(item)
            hit = needle in entry["name"].rsplit("/", 1)[-1].lower()
            lines: list[dict] = []
            if op.get("contents") and entry["type"] == "file":
                if searched >= SEARCH_MAX_FILES or entry.get("size", 0) > SEARCH_MAX_BYTES:
                    skipped += 1
                else:
                    searched += 1
                    lines = self._grep(entry["name"], needle)
            if hit or lines:
                matches.append({**entry, "nameMatch": hit, "lines": lines})
        return 200, {"success": True,
                     "message": f'Found {_count(len(matches), "match", "matches")} for '
                                f'"{query}"',
                     "path": self.abs_path(name), "query": query, "matches": matches,
                     "count": len(matches), "searchedFiles": searched, "skippedFiles": skipped,
                     "truncated": bool(listing.get("truncated")) or skipped > 0}

    def _grep(self, name: str, needle: str) -> list[dict]:
        outcome = run_skill(self.profile, "fs_read", {"path": self.skill_path(name)})
        if not outcome.ok:  # binary or unreadable files are simply not searched
            return []
        found = []
        for number, line in enumerate(outcome.result["content"].splitlines(), 1):
            if needle in line.lower():
                found.append({"line": number, "text": line[:300]})
                if len(found) >= SEARCH_LINES_PER_FILE:
                    break
        return found

    def batch(self, operations: list[dict] | None, stop_on_error: bool) -> tuple[int, dict]:
        if not operations:
            raise ApiError(400, "operations is required for batch (a list of 1 to "
                                f"{MAX_BATCH} operations)")
        if len(operations) > MAX_BATCH:
            raise ApiError(400, f"a batch holds at most {MAX_BATCH} operations, got "
                                f"{len(operations)}")
        results, failed, stopped = [], 0, False
        for index, op in enumerate(operations):
            head = {"index": index, "action": op.get("action"), "filename": op.get("filename")}
            if stopped:
                results.append({**head, "status": None, "success": False, "skipped": True})
                continue
            try:
                code, body = self.dispatch(op)
            except ApiError as exc:
                code, body = exc.status, exc.body()
            results.append({**head, "status": code, **body})
            if code >= 300:
                failed += 1
                stopped = stop_on_error
        done = len(operations) - failed - sum(1 for r in results if r.get("skipped"))
        return 200, {"success": failed == 0 and not stopped,
                     "message": f"{done} of {len(operations)} operations succeeded",
                     "results": results, "count": len(results), "failed": failed}

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        from metahuman_core.policy import decide
        from metahuman_core.skills import get_skill

        trust = self.profile.trust()

        def allowed(skill_id: str) -> bool:
            try:
                return decide(get_skill(skill_id), trust, actor="human").decision != "deny"
            except Exception:
                return False

        return {"status": "online", "trustLevel": trust, "canWrite": allowed("fs_write"),
                "canRead": allowed("fs_read"), "canDelete": allowed("fs_delete"),
                "canList": allowed("fs_list"), "basePath": str(self.out),
                "actions": [*ACTIONS, "batch"]}


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")
