"""Writing results indexes: one thread writes and fsyncs them in batches, off the loop.

A task's results index (facts §5.2) is written once its worker has sent DONE,
and the task counts as done only once the index is fsynced, as on Disco.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import Callable, Sequence
from typing import TypeAlias

import attrs

__all__ = ["INDEX_WRITER", "IndexDone", "IndexFile", "IndexWriter", "write_indexes"]

#: How a descriptor is made durable (``os.fsync``; a test may observe or fail it).
Fsync: TypeAlias = Callable[[int], None]


@attrs.frozen
class IndexFile:
    """A results index to write: its path (a plain string: no pathlib per task) and its lines."""

    path: str
    data: bytes

    def write_unsynced(self) -> int:
        """Write the index; returns its still open descriptor, for the caller to fsync.

        Disco fsyncs the index at DONE: :func:`write_indexes` does, before the
        task counts as done.
        """
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o666)
        except FileNotFoundError:  # the first index of this job home
            with contextlib.suppress(FileExistsError):
                os.mkdir(os.path.dirname(self.path))
            fd = os.open(self.path, flags, 0o666)
        try:
            view = memoryview(self.data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            raise
        return fd


#: What an index write ended with: None once it is on disk and fsynced.
IndexDone: TypeAlias = Callable[[Exception | None], None]


class IndexWriter:
    """One thread that writes and fsyncs results indexes, in batches.

    Indexes of tasks that finish while it is busy are written together, then
    fsynced one by one (the first journal commit carries the others), and their
    completions go back to each loop with one ``call_soon_threadsafe`` per batch:
    fewer thread hand-offs and loop wake-ups than one executor future per task.
    A completion runs only after its file is fsynced, with the error if any.
    """

    def __init__(self, fsync: Fsync = os.fsync) -> None:
        self._queue: queue.SimpleQueue[tuple[IndexFile, asyncio.AbstractEventLoop, IndexDone]]
        self._queue = queue.SimpleQueue()
        self._fsync = fsync
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, index: IndexFile, done: IndexDone) -> None:
        """Write ``index``; ``done(error)`` is called on the running loop once it is fsynced."""
        self._queue.put((index, asyncio.get_running_loop(), done))
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._serve, name="pydisco-index", daemon=True
                    )
                    self._thread.start()

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                errors = write_indexes([index for index, _, _ in batch], self._fsync)
            except Exception as exc:  # never let the writer die: every later index would hang
                errors = [exc] * len(batch)
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[IndexDone, Exception | None]]]
            by_loop = {}
            for (_, loop, done), error in zip(batch, errors, strict=True):
                by_loop.setdefault(loop, []).append((done, error))
            for loop, completions in by_loop.items():
                # A closed loop has stopped caring (its jobs ended with it).
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_complete, completions)


def write_indexes(indexes: Sequence[IndexFile], fsync: Fsync = os.fsync) -> list[Exception | None]:
    """Write every index, then fsync each; per index, None or what went wrong."""
    errors: list[Exception | None] = [None] * len(indexes)
    fds: list[int] = [-1] * len(indexes)
    for n, index in enumerate(indexes):
        try:
            fds[n] = index.write_unsynced()
        except Exception as exc:
            errors[n] = exc
    for n, fd in enumerate(fds):
        if fd < 0:
            continue
        try:
            fsync(fd)
        except Exception as exc:
            errors[n] = exc
        try:
            os.close(fd)
        except OSError as exc:
            errors[n] = errors[n] or exc
    return errors


def _complete(completions: list[tuple[IndexDone, Exception | None]]) -> None:
    for done, error in completions:
        done(error)


#: The results-index writer of every master in the process.
INDEX_WRITER = IndexWriter()
