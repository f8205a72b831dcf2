"""Task outputs: files in the job home, one per label, reported with OUTPUT.

Names follow the layout of Disco's Python worker (facts §12.3), so that every
task run writes to its own directory::

    uid      = <stage>:<group label>-<group host>-<taskid>-<hex time>-<pid>   (made safe)
    taskpath = <hexhash(uid)>/<uid>
    file     = <taskpath>/<stage>-<label>

Every variable part of the uid is cut to :data:`MAX_PART` characters, the
cut ones ending in ``~`` and a hash of the whole text, so that a name stays
well inside the file system's 255-byte limit whatever the master sends (a
``raw://`` input's group host is the data itself) while two different
texts still give two different names.

``hexhash`` is the first byte of the MD5 digest as two hex digits, so the
first path segment never contains ``:`` (a path like ``map:0/...`` would be
taken for a URL by the master, facts §5.1). Files are written as
``<file>.partial`` and renamed when closed; OUTPUT carries the path relative
to the job home, never an absolute one.
"""

from __future__ import annotations

import io
import os
import re
import time
from typing import IO, TYPE_CHECKING, Final, NamedTuple

if TYPE_CHECKING:
    from typing_extensions import Buffer

from pydisco.protocol.messages import TaskInfo
from pydisco.worker.errors import DataError

__all__ = ["OutputWriter", "Outputs", "bounded_name", "hexhash", "safe_name", "task_uid"]

# Patterns, not compiled objects: ``re`` compiles and caches them on first use,
# which keeps compilation out of the worker's start-up.
_UNSAFE: Final = r"[^A-Za-z0-9_\-@:]"
_SCHEME: Final = r"[A-Za-z][A-Za-z0-9+.-]*:"
PARTIAL_SUFFIX: Final = ".partial"
#: The longest a part of an output path (stage, group host, ...) may be, in characters.
MAX_PART: Final = 48
#: Hex digits of the hash that ends a part cut to :data:`MAX_PART`.
_CUT_HASH_DIGITS: Final = 12


def hexhash(text: str) -> str:
    """The first byte of ``md5(text)`` as two lowercase hex digits (Disco's hash directory)."""
    import hashlib  # on first use: it costs milliseconds of start-up

    return hashlib.md5(text.encode("utf-8")).hexdigest()[:2]


def safe_name(text: str) -> str:
    """``text`` with every character outside ``[A-Za-z0-9_-@:]`` replaced by ``_``."""
    return re.sub(_UNSAFE, "_", text)


def bounded_name(text: str, limit: int = MAX_PART) -> str:
    """:func:`safe_name` of ``text``, cut to ``limit`` characters if longer.

    A cut name keeps its start and ends in ``~`` plus the first hex digits of
    the SHA-256 of the whole ``text``, so different long texts stay apart.
    """
    if len(text) <= limit:
        return safe_name(text)
    import hashlib  # on first use: it costs milliseconds of start-up

    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return safe_name(text[: limit - _CUT_HASH_DIGITS - 1]) + "~" + digest[:_CUT_HASH_DIGITS]


def task_uid(task: TaskInfo, pid: int, now: float) -> str:
    """A name unique to this run of the task, under 230 characters long.

    Disco's layout (stage, group, task id, time in µs, pid); each part that
    the master chooses is cut by :func:`bounded_name`.
    """
    stage, label, host, taskid = (
        bounded_name(part)
        for part in (task.stage, str(task.group_label), task.group_host, str(task.taskid))
    )
    return f"{stage}:{label}-{host}-{taskid}-{int(now * 1_000_000):x}-{pid}"


class OutputWriter(io.BufferedIOBase):
    """A binary file for one output label; closed (and renamed into place) at the end.

    A write-only :class:`io.BufferedIOBase`, so it also works under
    ``io.TextIOWrapper``. :meth:`write_text` encodes text directly.
    """

    def __init__(self, label: int, path: str, relative: str) -> None:
        super().__init__()
        self.label = label
        #: Where the file is, and where OUTPUT says it is (relative to the job home).
        self.path = path
        self.relative = relative
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._file: IO[bytes] = open(path + PARTIAL_SUFFIX, "wb")  # noqa: SIM115 - kept open
        #: Bytes written so far (the file's size once closed).
        self.size = 0

    @property
    def closed(self) -> bool:
        """Whether the file has been closed (and renamed into place)."""
        return self._file.closed

    def writable(self) -> bool:
        """Always True: outputs are written."""
        return True

    def write(self, data: Buffer) -> int:
        """Append ``data`` (any bytes-like object); returns the number of bytes."""
        written = self._file.write(data)
        self.size += written
        return written

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        """Append ``text`` encoded as ``encoding``; returns the number of bytes."""
        return self.write(text.encode(encoding))

    def flush(self) -> None:
        """Flush Python's buffer to the file."""
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        """Flush, close and rename ``<path>.partial`` to ``<path>``; repeated calls do nothing."""
        if self._file.closed:
            return
        self._file.close()
        os.replace(self.path + PARTIAL_SUFFIX, self.path)
        self.size = os.path.getsize(self.path)

    def __repr__(self) -> str:
        return f"<OutputWriter label={self.label} {self.relative!r} size={self.size}>"


class RemoteOutput(NamedTuple):
    """An output somewhere else, reported by URL."""

    label: int
    url: str
    size: int


class Outputs:
    """The outputs of one task run: one writer per label, plus outputs reported by URL."""

    def __init__(self, task: TaskInfo, home: str, *, pid: int | None = None) -> None:
        self._task = task
        self._home = home
        self.uid = task_uid(task, os.getpid() if pid is None else pid, time.time())
        self.taskpath = f"{hexhash(self.uid)}/{self.uid}"
        self._writers: dict[int, OutputWriter] = {}
        self._reported: list[OutputWriter | RemoteOutput] = []

    def writer(self, label: int) -> OutputWriter:
        """The writer for ``label``, created on first use."""
        if type(label) is not int or label < 0:
            raise ValueError(f"An output label must be a non-negative integer, got {label!r}.")
        writer = self._writers.get(label)
        if writer is None:
            relative = f"{self.taskpath}/{bounded_name(f'{self._task.stage}-{label}')}"
            try:
                writer = OutputWriter(label, os.path.join(self._home, relative), relative)
            except OSError as exc:
                raise DataError(f"Cannot create the output file {relative!r}: {exc}.") from exc
            self._writers[label] = writer
            self._reported.append(writer)
        return writer

    def add_url(self, label: int, url: str, size: int) -> None:
        """Report an output that lives at ``url`` (written by the task itself)."""
        if type(label) is not int or label < 0:
            raise ValueError(f"An output label must be a non-negative integer, got {label!r}.")
        if type(size) is not int or size < 0:
            raise ValueError(f"An output size must be a non-negative integer, got {size!r}.")
        if re.match(_SCHEME, url) is None or url.startswith("/"):
            raise ValueError(
                f"{url!r} is not a URL; write local outputs with output(label) instead."
            )
        self._reported.append(RemoteOutput(label, url, size))

    def close(self) -> list[tuple[int, str, int]]:
        """Close every writer; the ``(label, location, size)`` of each output, in order."""
        results = []
        for item in self._reported:
            if isinstance(item, OutputWriter):
                item.close()
                results.append((item.label, item.relative, item.size))
            else:
                results.append((item.label, item.url, item.size))
        return results
