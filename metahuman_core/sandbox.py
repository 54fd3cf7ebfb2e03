"""The file sandbox every file skill goes through (DESIGN §7). It does not know about trust or
YOLO: nothing can widen it.

* Reads: anywhere inside the home except secrets (`.env*`, keys, `etc/secrets/`, `*.pem`, `id_*`,
  …) and `.git/` internals.
* Writes and deletes: only under `out/`, never `out/approval-queue/`.
* Paths are checked as text first (NUL, control characters, absolute, `~`, `..`, over-long,
  invalid UTF-8), then the nearest existing ancestor is resolved with realpath and containment is
  checked with `Path.is_relative_to` (never a string prefix: `out-evil/` is not `out/`).
* Reads refuse a hard link to a secret: a file whose (dev, inode) is a secret file's, and any
  regular file with more than one name unless all its names sit in its folder, none secret.
* Inside `out/` symlinks and hard links (st_nlink > 1) are refused; deleting a link removes the
  link only. Files are opened by walking directory fds with O_NOFOLLOW, so a component swapped
  for a symlink after the check makes the open fail instead of escaping.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import secrets as _secrets
import stat
from pathlib import Path
from typing import Any

from .errors import MHError, NotFound

MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255
MAX_READ_BYTES = 2 * 1024 * 1024
MAX_WRITE_BYTES = 10 * 1024 * 1024
SECRET_DIRS = frozenset({".git", ".ssh", ".gnupg", ".aws"})
SECRET_NAMES = (".env*", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx",
                "id_*", ".netrc", ".pypirc", ".npmrc", ".git-credentials", "credentials*")
QUEUE_DIR = "approval-queue"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class SandboxViolation(MHError):
    """A path skills may not touch. The gate reports it as a denial and audits it (security)."""


def check_text(path: object, what: str = "path") -> list[str]:
    """Lexical checks before touching the filesystem; returns the path's components."""
    if not isinstance(path, str):
        raise SandboxViolation(f"{what} must be a string, got {type(path).__name__}")
    if path == "":
        raise SandboxViolation(f"{what} is empty")
    if "\x00" in path:
        raise SandboxViolation(f"{what} contains a NUL byte")
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        raise SandboxViolation(f"{what} contains a control character")
    if len(path) > MAX_PATH_CHARS:
        raise SandboxViolation(f"{what} is too long ({len(path)} characters, limit {MAX_PATH_CHARS})")
    if path.startswith("/"):
        raise SandboxViolation(f"{what} {path!r} is absolute; give a path relative to the home")
    if path.startswith("~"):
        raise SandboxViolation(f"{what} {path!r} starts with '~'; give a path relative to the home")
    if "\\" in path:
        raise SandboxViolation(f"{what} {path!r} contains a backslash; use / between folders")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    for part in parts:
        if part == "..":
            raise SandboxViolation(f"{what} {path!r} contains '..'; paths may not climb out")
        try:
            size = len(part.encode("utf-8"))
        except UnicodeEncodeError:
            raise SandboxViolation(f"{what} {path!r} is not valid UTF-8") from None
        if size > MAX_NAME_BYTES:
            raise SandboxViolation(f"{what} has a name of {size} bytes (limit {MAX_NAME_BYTES})")
    return parts


def secret_reason(parts: list[str] | tuple[str, ...]) -> str | None:
    """Why a home-relative path is off limits to every skill, or None."""
    low = [p.lower() for p in parts]
    if len(low) >= 2 and low[0] == "etc" and low[1] == "secrets":
        return "etc/secrets/ holds secrets"
    for part in low:
        if part in SECRET_DIRS:
            return f"{part}/ internals are off limits"
        for pattern in SECRET_NAMES:
            if fnmatch.fnmatchcase(part, pattern):
                return f"{part!r} looks like a secret ({pattern})"
    return None


def _is_link(path: Path) -> bool:
    return os.path.islink(path)


class Sandbox:
    """Path rules for one home. Every method raises SandboxViolation with a reason when refused."""

    def __init__(self, root: Path | str):
        self.root = Path(os.path.realpath(root))

    # ------------------------------------------------------------------ resolution
    def _real_of(self, parts: list[str]) -> Path:
        """realpath of the nearest existing ancestor, with the missing tail re-appended."""
        cur = self.root.joinpath(*parts)
        missing: list[str] = []
        while not os.path.lexists(cur) and cur != self.root:
            missing.append(cur.name)
            cur = cur.parent
        return Path(os.path.realpath(cur)).joinpath(*reversed(missing))

    def _home_rel(self, real: Path, shown: str) -> tuple[str, ...]:
        if not (real == self.root or real.is_relative_to(self.root)):
            raise SandboxViolation(f"{shown!r} resolves outside the home (through a symlink?)")
        return real.relative_to(self.root).parts

    def _no_links_in_out(self, parts: list[str], upto: int | None = None) -> None:
        """Inside out/ no existing component may be a symlink (out/ itself included)."""
        if not parts or parts[0] != "out":
            return
        for i in range(1, (len(parts) if upto is None else upto) + 1):
            p = self.root.joinpath(*parts[:i])
            if _is_link(p):
                raise SandboxViolation(f"{'/'.join(parts[:i])} is a symlink; symlinks inside out/ "
                                       f"are refused")

    def resolve_read(self, path: str) -> tuple[str, ...]:
        """Home-relative real components of a readable path (may be a dir or missing)."""
        parts = check_text(path)
        why = secret_reason(parts)
        if why:
            raise SandboxViolation(f"cannot read {path!r}: {why}")
        self._no_links_in_out(parts)
        rel = self._home_rel(self._real_of(parts), path)
        why = secret_reason(rel)
        if why:
            raise SandboxViolation(f"cannot read {path!r}: it leads to {'/'.join(rel)}: {why}")
        return rel

    def resolve_write(self, path: str, *, verb: str = "write", final_link_ok: bool = False) -> list[str]:
        """Home-relative components (starting with "out") of a writable/deletable path.

        A path that does not start with out/ and names no existing top-level entry is taken as
        relative to out/ ("test.txt" → out/test.txt); "docs/x.md" or "persona/core.json" are refused.
        """
        parts = check_text(path)
        if not parts:
            raise SandboxViolation(f"cannot {verb} {path!r}: it names no file")
        if parts[0] != "out":
            if os.path.lexists(self.root / parts[0]):
                raise SandboxViolation(f"cannot {verb} {path!r}: {verb}s are allowed only under "
                                       f"out/ ({parts[0]} is outside it)")
            parts = ["out", *parts]
        shown = "/".join(parts)
        if len(parts) < 2:
            raise SandboxViolation(f"cannot {verb} out/ itself")
        if parts[1].lower() == QUEUE_DIR:
            raise SandboxViolation(f"cannot {verb} {shown!r}: out/{QUEUE_DIR}/ belongs to the "
                                   "approval queue; no skill may change it")
        why = secret_reason(parts)
        if why:
            raise SandboxViolation(f"cannot {verb} {shown!r}: {why}")
        self._no_links_in_out(parts, upto=len(parts) - 1 if final_link_ok else None)
        out_real = self.root / "out"
        real = self._real_of(parts[:-1]) / parts[-1] if final_link_ok else self._real_of(parts)
        if not real.is_relative_to(out_real) or real == out_real:
            raise SandboxViolation(f"cannot {verb} {shown!r}: it resolves outside out/")
        if real.is_relative_to(out_real / QUEUE_DIR):
            raise SandboxViolation(f"cannot {verb} {shown!r}: it resolves into out/{QUEUE_DIR}/")
        return parts

    # ------------------------------------------------------------------ fd walking
    def _open_dirs(self, parts: list[str] | tuple[str, ...], *, create: bool = False) -> int:
        """An fd of root/parts, opened one component at a time with O_NOFOLLOW."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for i, name in enumerate(parts):
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(name, 0o755, dir_fd=fd)
                try:
                    nfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    shown = "/".join(parts[: i + 1])
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                        if stat.S_ISLNK(st.st_mode):
                            raise SandboxViolation(f"{shown} is a symlink; refused") from None
                        raise MHError(f"{shown} is not a folder") from None
                    if exc.errno == errno.ENOENT:
                        raise NotFound(f"{shown}: no such folder") from None
                    raise
                os.close(fd)
                fd = nfd
            return fd
        except BaseException:
            os.close(fd)
            raise

    # ------------------------------------------------------------------ operations
    def read_bytes(self, path: str, *, max_bytes: int = MAX_READ_BYTES) -> tuple[str, bytes]:
        """(shown path, content) of a readable regular file."""
        parts = check_text(path)
        rel = self.resolve_read(path)
        shown = "/".join(parts) or "."
        if not rel:
            raise MHError(f"{shown} is a folder; use fs_list")
        pfd = self._open_dirs(rel[:-1])
        try:
            try:
                fd = os.open(rel[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=pfd)
            except FileNotFoundError:
                raise NotFound(f"{shown}: no such file") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise SandboxViolation(f"{shown} is a symlink; refused") from None
                raise
        finally:
            os.close(pfd)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise MHError(f"{shown} is a folder; use fs_list")
            if not stat.S_ISREG(st.st_mode):
                raise MHError(f"{shown} is not a regular file")
            if rel[0] == "out" and st.st_nlink > 1:
                raise SandboxViolation(f"{shown} is a hard link ({st.st_nlink} names); "
                                       "hard links inside out/ are refused")
            self._check_hard_link(st, rel, shown)
            if st.st_size > max_bytes:
                raise MHError(f"{shown} is too large to read ({st.st_size} bytes, limit {max_bytes})")
        except BaseException:
            os.close(fd)
            raise
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise MHError(f"{shown} is too large to read (limit {max_bytes} bytes)")
        return shown, data

    # ------------------------------------------------------------------ hard links
    def _check_hard_link(self, st: os.stat_result, rel: tuple[str, ...], shown: str) -> None:
        """A read must not reach a secret through another name (see secret_links)."""
        from .secret_links import check_hard_link

        check_hard_link(self.root, st, rel, shown)

    def write_bytes(self, path: str, data: bytes, *, overwrite: bool = False) -> dict:
        """Atomically create (or with overwrite, replace) a file under out/. Never half-written."""
        if len(data) > MAX_WRITE_BYTES:
            raise MHError(f"content is too large ({len(data)} bytes, limit {MAX_WRITE_BYTES})")
        parts = self.resolve_write(path)
        shown = "/".join(parts)
        pfd = self._open_dirs(parts[:-1], create=True)
        name = parts[-1]
        try:
            existed = self._check_target(pfd, name, shown, overwrite)
            tmp = f".{name[:180]}.{_secrets.token_hex(6)}.tmp"
            tfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644,
                          dir_fd=pfd)
            try:
                with os.fdopen(tfd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                if overwrite:
                    os.replace(tmp, name, src_dir_fd=pfd, dst_dir_fd=pfd)
                else:
                    try:
                        os.link(tmp, name, src_dir_fd=pfd, dst_dir_fd=pfd, follow_symlinks=False)
                    except FileExistsError:
                        raise MHError(f"{shown} already exists", hint="pass overwrite: true") from None
                    os.unlink(tmp, dir_fd=pfd)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=pfd)
                raise
            os.fsync(pfd)
        finally:
            os.close(pfd)
        return {"path": shown, "size": len(data), "created": not existed}

    def mkdir(self, path: str) -> dict:
        """Create a folder (and its parents) under out/; an existing folder is fine."""
        parts = self.resolve_write(path, verb="create")
        existed = os.path.lexists(self.root.joinpath(*parts))
        os.close(self._open_dirs(parts, create=True))
        return {"path": "/".join(parts), "created": not existed}

    def _check_target(self, pfd: int, name: str, shown: str, overwrite: bool) -> bool:
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISLNK(st.st_mode):
            raise SandboxViolation(f"{shown} is a symlink; symlinks inside out/ are refused")
        if stat.S_ISDIR(st.st_mode):
            raise MHError(f"{shown} is a folder")
        if not stat.S_ISREG(st.st_mode):
            raise MHError(f"{shown} is not a regular file")
        if st.st_nlink > 1:
            raise SandboxViolation(f"{shown} is a hard link ({st.st_nlink} names); refused")
        if not overwrite:
            raise MHError(f"{shown} already exists", hint="pass overwrite: true to replace it")
        return True

    def delete(self, path: str) -> dict:
        """Remove a file, a link (the link only) or an empty folder under out/."""
        parts = self.resolve_write(path, verb="delete", final_link_ok=True)
        shown = "/".join(parts)
        try:
            pfd = self._open_dirs(parts[:-1])
        except NotFound:
            raise NotFound(f"{shown}: no such file") from None
        name = parts[-1]
        try:
            try:
                st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            except FileNotFoundError:
                raise NotFound(f"{shown}: no such file") from None
            if stat.S_ISDIR(st.st_mode):
                try:
                    os.rmdir(name, dir_fd=pfd)
                except OSError as exc:
                    if exc.errno == errno.ENOTEMPTY:
                        raise MHError(f"{shown} is a folder that is not empty; delete its files "
                                      "first") from None
                    raise
                kind = "folder"
            else:
                os.unlink(name, dir_fd=pfd)
                kind = "symlink" if stat.S_ISLNK(st.st_mode) else "file"
            os.fsync(pfd)
        finally:
            os.close(pfd)
        result = {"path": shown, "deleted": True, "kind": kind}
        if kind == "symlink":
            result["note"] = "removed the link only; its target is untouched"
        elif kind == "file" and st.st_nlink > 1:
            result["note"] = f"removed this name only; {st.st_nlink - 1} other link(s) remain"
        return result

    def list(self, path: str = ".", pattern: str = "*", *, recursive: bool = False,
             limit: int = 500, max_visits: int = 20_000) -> dict:
        """Entries under a readable folder whose name matches `pattern`, each re-checked."""
        base = check_text(path)
        rel = self.resolve_read(path)
        pat = check_pattern(pattern)
        if pat.startswith("**/"):
            pat, recursive = pat[3:], True
        real = self.root.joinpath(*rel)
        if os.path.isfile(real):
            raise MHError(f"{'/'.join(base)} is a file; use fs_read")
        if not os.path.isdir(real):
            raise NotFound(f"{'/'.join(base) or '.'}: no such folder")
        entries: list[dict] = []
        hidden = visits = 0
        stack = [(real, base)]
        truncated = False
        while stack and not truncated:
            folder, shown = stack.pop()
            try:
                items = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for ent in items:
                visits += 1
                if visits > max_visits:
                    truncated = True
                    break
                if ent.name.startswith(".") and not pat.startswith("."):
                    continue
                sub = [*shown, ent.name]
                try:
                    self.resolve_read("/".join(sub))
                except SandboxViolation:
                    hidden += 1
                    continue
                is_link = ent.is_symlink()
                is_dir = ent.is_dir(follow_symlinks=False)
                if recursive and is_dir:
                    stack.append((Path(ent.path), sub))
                if fnmatch.fnmatchcase(ent.name, pat):
                    item: dict[str, Any] = {"path": "/".join(sub),
                            "type": "symlink" if is_link else "dir" if is_dir else "file"}
                    if not is_dir and not is_link:
                        with contextlib.suppress(OSError):
                            item["size"] = ent.stat(follow_symlinks=False).st_size
                    entries.append(item)
        entries.sort(key=lambda e: e["path"])
        if len(entries) > limit:
            entries, truncated = entries[:limit], True
        return {"path": "/".join(base) or ".", "pattern": pattern, "recursive": recursive,
                "entries": entries, "count": len(entries), "truncated": truncated,
                "hidden": hidden}


def check_pattern(pattern: object) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise SandboxViolation("pattern must be a non-empty glob such as *.md")
    if "\x00" in pattern or pattern.startswith("/") or ".." in pattern.split("/"):
        raise SandboxViolation(f"pattern {pattern!r} may not be absolute, contain '..' or NUL")
    rest = pattern[3:] if pattern.startswith("**/") else pattern
    if "/" in rest:
        raise SandboxViolation(f"pattern {pattern!r} matches names only; give the folder as path "
                               "(and recursive: true to look below it)")
    return pattern
