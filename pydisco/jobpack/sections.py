"""Bounded views of a file: read one job pack section, or write a zip at an offset."""

from __future__ import annotations

import io
import os
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

#: Chunk size for every streaming copy.
CHUNK = 1024 * 1024


class SectionReader(io.RawIOBase):
    """A read-only, seekable view of bytes ``[start, end)`` of a binary file.

    Several readers may share one underlying file: each seeks before it reads.
    """

    def __init__(self, fp: IO[bytes], start: int, end: int) -> None:
        super().__init__()
        if end < start:
            raise ValueError(f"section end {end} is before its start {start}")
        self._fp = fp
        self._start = start
        self._end = end
        self._pos = 0

    @property
    def size(self) -> int:
        """Bytes in the section."""
        return self._end - self._start

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            pos = offset
        elif whence == os.SEEK_CUR:
            pos = self._pos + offset
        elif whence == os.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def read(self, size: int | None = -1) -> bytes:
        # Direct read from the underlying file: one copy instead of two.
        left = self.size - self._pos
        n = left if size is None or size < 0 else min(size, left)
        if n <= 0:
            return b""
        self._fp.seek(self._start + self._pos)
        data = self._fp.read(n)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self.size - self._pos))
        if n == 0:
            return 0
        self._fp.seek(self._start + self._pos)
        data = self._fp.read(n)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


class OffsetWriter(io.RawIOBase):
    """A writable view of a seekable file whose position 0 is ``base``.

    ``zipfile`` records absolute ``tell()`` positions as member offsets; writing
    through this view makes the job home zip self-contained, as Disco needs.
    """

    def __init__(self, fp: IO[bytes], base: int) -> None:
        super().__init__()
        self._fp = fp
        self._base = base

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fp.fileno()

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._fp.tell() - self._base

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            return self._fp.seek(self._base + offset) - self._base
        return self._fp.seek(offset, whence) - self._base

    def write(self, data: ReadableBuffer) -> int:
        return self._fp.write(data)

    def flush(self) -> None:
        self._fp.flush()

    def close(self) -> None:
        # Never close the underlying file; the job pack writer owns it.
        self.flush()
        super().close()


def copy_stream(src: Any, dst: Any, limit: int | None = None) -> int:
    """Copy from ``src`` to ``dst`` in chunks (at most ``limit`` bytes); returns bytes copied."""
    total = 0
    while limit is None or total < limit:
        want = CHUNK if limit is None else min(CHUNK, limit - total)
        chunk = src.read(want)
        if not chunk:
            break
        dst.write(chunk)
        total += len(chunk)
    return total


def is_seekable(fp: Any) -> bool:
    """Whether ``fp`` can seek and tell (a pipe or socket cannot)."""
    try:
        if not fp.seekable():
            return False
        fp.tell()
    except (AttributeError, OSError, ValueError):
        return False
    return True
