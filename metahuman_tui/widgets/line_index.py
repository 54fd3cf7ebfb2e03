"""Byte-offset index of a growing line file, so a 1M-line audit day opens without loading it.

Why (toolong's model): scan the file through mmap for newlines in chunks (a thread worker calls
`scan()` and posts progress), keep only line-start offsets (8 bytes a line), and read a line on
demand with `pread`. `refresh()` picks up appended bytes for live follow; a file that shrank or
was replaced is re-indexed from zero. A trailing line without its newline is not indexed yet.
No Textual imports.
"""

from __future__ import annotations

import mmap
import os
import re
from array import array
from bisect import bisect_right
from pathlib import Path
from typing import Callable, Iterator

CHUNK = 8 * 1024 * 1024


class LineIndex:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.offsets = array("Q", [0])   # start of each line; the last item is the scanned end
        self._fd: int | None = None
        self._ino: int | None = None

    # ------------------------------------------------------------------ file handle
    def _open(self) -> int | None:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return None
            self._ino = os.fstat(self._fd).st_ino
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def scanned(self) -> int:
        return self.offsets[-1]

    # ------------------------------------------------------------------ indexing
    def _replaced(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        return self._ino is not None and st.st_ino != self._ino

    def scan(self, chunk: int = CHUNK,
             cancelled: Callable[[], bool] | None = None) -> Iterator[int]:
        """Index bytes appended since the last scan; yields the line count after each chunk."""
        if self._replaced():
            self.close()
            self.offsets = array("Q", [0])
        fd = self._open()
        if fd is None:
            return
        size = os.fstat(fd).st_size
        if size < self.scanned:          # truncated: start again
            self.offsets = array("Q", [0])
        start = self.scanned
        if size <= start:
            return
        with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mm:
            # offsets[-1] is a line start; every newline found ends a line and starts the next
            append = self.offsets.append
            find = mm.find
            pos = start
            while pos < size:
                if cancelled is not None and cancelled():
                    break
                end = min(pos + chunk, size)
                i = find(b"\n", pos, end)
                while i != -1:
                    append(i + 1)
                    i = find(b"\n", i + 1, end)
                pos = end
                yield len(self.offsets) - 1

    def build(self, cancelled: Callable[[], bool] | None = None) -> int:
        for _ in self.scan(cancelled=cancelled):
            pass
        return len(self)

    def refresh(self) -> int:
        """Index appended lines (live follow); returns how many new lines appeared."""
        before = len(self)
        self.build()
        return len(self) - before

    # ------------------------------------------------------------------ reading
    def line(self, n: int) -> bytes:
        """Line n (0-based) without its newline, read with one pread."""
        if not 0 <= n < len(self):
            raise IndexError(n)
        fd = self._open()
        if fd is None:
            return b""
        start, end = self.offsets[n], self.offsets[n + 1]
        return os.pread(fd, end - start, start).rstrip(b"\r\n")

    def line_of(self, byte_pos: int) -> int:
        """The line holding byte `byte_pos`."""
        return bisect_right(self.offsets, byte_pos) - 1

    def search(self, pattern: re.Pattern[bytes], start_line: int = 0,
               cancelled: Callable[[], bool] | None = None) -> Iterator[int]:
        """Line numbers (ascending, each once) whose bytes match `pattern`, via the mmap."""
        fd = self._open()
        end = self.scanned
        if fd is None or end == 0 or start_line >= len(self):
            return
        with mmap.mmap(fd, end, access=mmap.ACCESS_READ) as mm:
            pos = self.offsets[start_line]
            count = 0
            while pos < end:
                m = pattern.search(mm, pos, end)
                if m is None:
                    return
                n = self.line_of(m.start())
                yield n
                pos = self.offsets[n + 1]
                count += 1
                if cancelled is not None and count % 1024 == 0 and cancelled():
                    return
