"""Storage primitives: atomic writes, exclusive creates, process-scoped locks, safe reads.

Nothing here is ever half-written: a reader sees the old file or the new one (temp + fsync +
os.replace). New ids are claimed with O_EXCL so two processes never pick the same name. Locks are
fcntl.flock on a lock file: the kernel drops them when the process dies, so no lock is ever stale.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import AlreadyRunning, CorruptFile


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Write `data` to `path` so that readers see either the old or the new content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, **kw) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), **kw)


def atomic_write_json(path: Path, data: Any, **kw) -> None:
    atomic_write_text(path, dumps(data), **kw)


def exclusive_create(directory: Path, stem: str, data: bytes, suffix: str = ".json",
                     max_tries: int = 10_000) -> Path:
    """Create `directory/stem.suffix`, or `stem-2`, `stem-3`… if taken. Never overwrites.

    The name is claimed with O_CREAT|O_EXCL, the content written to a temp file and renamed over
    the claimed (empty) name, so no reader ever sees a torn file with content.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(1, max_tries + 1):
        name = f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}"
        target = directory / name
        try:
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        try:
            atomic_write_bytes(target, data)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
            raise
        return target
    raise OSError(errno.EEXIST, f"no free name for {stem} in {directory}")


def exclusive_create_json(directory: Path, stem: str, data: Any) -> Path:
    return exclusive_create(directory, stem, dumps(data).encode("utf-8"))


def sha256_file(path: Path, *, on_progress: Callable[[int, int], None] | None = None,
                chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (GGUFs are gigabytes); on_progress(done, total).
    The one implementation: callers add their own prefix ("sha256:" for Ollama blobs)."""
    path = Path(path)
    total = path.stat().st_size
    h, done = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while data := fh.read(chunk):
            h.update(data)
            done += len(data)
            if on_progress:
                on_progress(done, total)
    return h.hexdigest()


def read_json(path: Path) -> Any:
    """Parse a JSON file; a corrupt or empty file raises CorruptFile naming the path."""
    path = Path(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise CorruptFile(path, "file is empty")
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise CorruptFile(path, f"not valid UTF-8 (byte {exc.start}): {exc.reason}") from None
    except json.JSONDecodeError as exc:
        from .jsonc import describe_error

        raise CorruptFile(path, describe_error(exc)) from None


def read_json_or(path: Path, default: Any) -> Any:
    """Like read_json, but a missing file gives `default` (a corrupt one still raises)."""
    try:
        return read_json(path)
    except FileNotFoundError:
        return default


@contextlib.contextmanager
def file_lock(path: Path, *, shared: bool = False, blocking: bool = True) -> Iterator[int]:
    """flock on `path` (created if needed). Released on exit or when the process dies."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flags = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        if not blocking:
            flags |= fcntl.LOCK_NB
        fcntl.flock(fd, flags)
        yield fd
    finally:
        os.close(fd)  # closing drops the lock


class PidLock:
    """An exclusive, non-blocking lock that records the holder's pid (agents, services).

    A second holder gets AlreadyRunning("already running (pid N)"). A killed holder's lock is
    released by the kernel, so the next start succeeds at once.
    """

    def __init__(self, path: Path, what: str):
        self.path = Path(path)
        self.what = what
        self.fd: int | None = None

    def acquire(self) -> "PidLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = holder_pid(self.path)
            raise AlreadyRunning(f"{self.what} already running (pid {pid or '?'})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "PidLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def holder_pid(path: Path) -> int | None:
    """The pid recorded in a PidLock file if that lock is currently held, else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="ignore").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
