"""The blocking shell around :class:`~pydisco.protocol.WorkerSession`.

A :class:`Channel` writes frames to one file descriptor and reads replies
from another, one exchange at a time under a lock, so that the thread that
drains captured output and the task's own thread never interleave frames.
:func:`redirect_stdio` sets up those descriptors the way a real worker needs
them: frames go out on the *original* stderr and replies come in on the
original stdin, while fds 0, 1 and 2 are pointed away (stdin at
``/dev/null``, stdout and stderr at a pipe whose lines become MSG), so that
nothing the task, C code or a child process prints can corrupt the protocol
stream. Real Disco parses the worker's stdout and stderr merged, so a stray
byte on either would end the task.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from typing import Final, NamedTuple, TypeVar

from pydisco.protocol.errors import LocalProtocolError, ProtocolError
from pydisco.protocol.framing import Sentinel
from pydisco.protocol.messages import MasterMessage, WorkerMessage, encode_message
from pydisco.protocol.session import WorkerSession
from pydisco.worker.errors import MasterGone

__all__ = ["Channel", "StdioFds", "redirect_stdio"]

_READ_SIZE: Final = 64 * 1024
#: How long the closing message waits for another thread's exchange to finish.
LOCK_WAIT_SECONDS: Final = 5.0
_M = TypeVar("_M")


class StdioFds(NamedTuple):
    """The descriptors :func:`redirect_stdio` set up."""

    #: Where frames are written (a duplicate of the original fd 2).
    frames: int
    #: Where replies are read (a duplicate of the original fd 0).
    replies: int
    #: The read end of the pipe that fds 1 and 2 now write into.
    captured: int


def redirect_stdio() -> StdioFds:
    """Move the protocol to private descriptors and capture fds 1 and 2 in a pipe.

    Python's ``sys.stdout`` and ``sys.stderr`` keep writing to fds 1 and 2,
    now line-buffered, so ``print()`` output reaches the pipe promptly.
    """
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    frames = os.dup(2)  # os.dup makes non-inheritable copies: children never see them
    replies = os.dup(0)
    for fd in (frames, replies):
        os.set_blocking(fd, True)  # the channel relies on blocking reads and writes
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)
    os.set_blocking(read_end, False)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    return StdioFds(frames, replies, read_end)


class Channel:
    """One worker's protocol stream: frames out on ``frames_fd``, replies in on ``replies_fd``.

    Every exchange (a request and its reply) runs under :attr:`lock`, so
    threads may share a channel.
    """

    def __init__(self, frames_fd: int, replies_fd: int, session: WorkerSession | None = None):
        self.session = session if session is not None else WorkerSession()
        self.lock = threading.RLock()
        self._frames_fd = frames_fd
        self._replies_fd = replies_fd
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether DONE, ERROR or FATAL has been sent."""
        return self._closed

    def request(self, message: WorkerMessage, expect: type[_M]) -> _M:
        """Send ``message`` and return its reply, which must be an ``expect``.

        Blocks for as long as the master withholds the reply (it may, for INPUT).
        """
        with self.lock:
            self._write(self.session.send(message))
            reply = self._read_reply(timeout=None)
        if reply is None:  # pragma: no cover - only without a timeout, never None
            raise MasterGone(f"No reply to {message.NAME}.")
        if not isinstance(reply, expect):
            raise MasterGone(f"The master answered {message.NAME} with {reply.NAME}.")
        return reply

    def request_any(self, message: WorkerMessage) -> MasterMessage:
        """Send ``message`` and return whatever reply the session accepts for it."""
        with self.lock:
            self._write(self.session.send(message))
            reply = self._read_reply(timeout=None)
        assert reply is not None
        return reply

    def close_with(self, message: WorkerMessage, wait: float = 1.0) -> None:
        """Send DONE, ERROR or FATAL, then wait up to ``wait`` s for an OK or end of stdin.

        Disco 0.5.4 never replies and kills the worker; a lenient master may
        send one OK. Errors on the way are swallowed: this is the last word.
        If another thread is stuck in an exchange (a master that stopped
        answering), the message is sent after ``LOCK_WAIT_SECONDS`` anyway.
        """
        locked = self.lock.acquire(timeout=LOCK_WAIT_SECONDS)
        try:
            self._closed = True
            try:
                data = self.session.send(message)
            except LocalProtocolError:
                # A request is still outstanding (the master broke off mid-exchange):
                # the closing message must get out anyway.
                data = encode_message(message)
            try:
                self._write(data)
            except OSError:
                return
            if locked:
                with contextlib.suppress(MasterGone, ProtocolError, OSError):
                    self._read_reply(timeout=wait)
        finally:
            if locked:
                self.lock.release()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._frames_fd, view)
            view = view[written:]

    def _read_reply(self, timeout: float | None) -> MasterMessage | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                event = self.session.next_event()
            except ProtocolError as exc:
                raise MasterGone(f"The master sent an invalid reply: {exc}") from exc
            if event is Sentinel.END_OF_STREAM:
                raise MasterGone("The master closed the worker's stdin.")
            if not isinstance(event, Sentinel):
                return event
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                ready, _, _ = select.select([self._replies_fd], [], [], remaining)
                if not ready:
                    return None
            data = os.read(self._replies_fd, _READ_SIZE)
            self.session.receive_data(data)
