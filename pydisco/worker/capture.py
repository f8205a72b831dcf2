"""Turning captured output and ``msg()`` calls into paced MSG messages.

A :class:`MessagePump` owns a background thread. It drains the pipe that fds 1
and 2 point at (so a task printing never blocks on a full pipe), keeps the
text in memory, and sends it as MSG whenever the session is free and the
:class:`~pydisco.protocol.MsgPacer` allows: Disco's master kills a job whose
worker sends ten MSGs within about a second. Lines waiting together go out
in one MSG, joined by newlines and cut at
:data:`~pydisco.protocol.limits.MAX_EVENT_TEXT` characters. Text held back
beyond :attr:`MessagePump.max_held` bytes is dropped, and the next MSG says
how much.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from collections import deque
from typing import Final

from pydisco.protocol.limits import MAX_EVENT_TEXT
from pydisco.protocol.messages import Msg, Ok
from pydisco.protocol.throttle import MsgPacer
from pydisco.worker.stdio import Channel

__all__ = ["MessagePump"]

#: Held-back text beyond this many bytes is dropped (and the drop reported).
MAX_HELD_BYTES: Final = 1024 * 1024
#: How long the final flush may spend waiting on the pacer before dropping the rest.
FINAL_FLUSH_SECONDS: Final = 2.0
#: How often the pump retries while the task's thread holds the channel.
_BUSY_RETRY_SECONDS: Final = 0.02
#: A partial line (no newline yet) is sent once it is this old.
_PARTIAL_LINE_SECONDS: Final = 0.5
_READ_SIZE: Final = 64 * 1024


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


class MessagePump:
    """Collects text (from a captured fd and from :meth:`post`) and sends it as paced MSGs.

    Nothing is sent until :meth:`enable` is called (MSG is only legal after
    the WORKER handshake). :meth:`stop` drains everything that is left,
    within a bounded time, before the task's last message.
    """

    def __init__(
        self,
        channel: Channel,
        captured_fd: int | None = None,
        *,
        max_held: int = MAX_HELD_BYTES,
    ) -> None:
        self._channel = channel
        self._captured_fd = captured_fd
        self.max_held = max_held
        self._pacer = MsgPacer()
        self._cond = threading.Condition()
        self._lines: deque[bytes] = deque()
        self._held = 0
        self._dropped = 0
        self._partial = b""
        self._partial_since = 0.0
        self._enabled = False
        self._stopping = False
        #: The error that stopped the pump from sending, if any (the master went away).
        self.error: BaseException | None = None
        self._read_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name="pydisco-msg-pump", daemon=True)
        self._thread.start()

    # --- called from the task's thread -----------------------------------------------------

    def enable(self) -> None:
        """Allow MSGs from now on (after WORKER was acknowledged)."""
        with self._cond:
            self._enabled = True
        self._wake()

    def post(self, text: str) -> None:
        """Queue ``text`` (one or more lines) to be sent as MSG, after anything printed so far."""
        _flush_python_streams()
        self._drain_fd()
        with self._cond:
            for line in text.split("\n"):
                self._hold(line.encode("utf-8", "replace"))
        self._wake()

    def stop(self) -> None:
        """Stop the thread, then send what is left, spending at most a couple of seconds."""
        with self._cond:
            self._stopping = True
        self._wake()
        self._thread.join(timeout=FINAL_FLUSH_SECONDS)
        if self._thread.is_alive():
            return  # stuck in an exchange the master never answers: nothing more to send
        self._drain_fd()
        if self._partial:
            with self._cond:
                self._hold(self._partial)
                self._partial = b""
        deadline = time.monotonic() + FINAL_FLUSH_SECONDS
        while self._enabled and self.error is None and self._has_text():
            delay = self._pacer.delay(time.monotonic())
            if time.monotonic() + delay > deadline:
                with self._cond:
                    self._drop_all()
                delay = self._pacer.delay(time.monotonic())
            if delay > 0:
                time.sleep(delay)
            try:
                self._send_batch(blocking=True)
            except Exception as exc:  # the master went away; the last message will say so
                self.error = exc
        os.close(self._wake_r)
        os.close(self._wake_w)

    # --- the pump thread --------------------------------------------------------------------

    def _wake(self) -> None:
        # A full pipe means the thread is awake already; a closed one, that it stopped.
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _run(self) -> None:
        timeout: float | None = None
        while True:
            fds = [self._wake_r] if self._captured_fd is None else [self._wake_r, self._captured_fd]
            try:
                ready, _, _ = select.select(fds, [], [], timeout)
            except OSError:  # the captured pipe was closed meanwhile (see _drain_fd)
                continue
            if self._wake_r in ready:
                os.read(self._wake_r, 4096)
            with self._cond:
                if self._stopping:
                    return
            if self._captured_fd is not None and self._captured_fd in ready:
                self._drain_fd()
            if self.error is not None:
                timeout = None  # keep draining the pipe so writers never block
                continue
            try:
                timeout = self._pump()
            except Exception as exc:  # report through the task's last message
                self.error = exc
                timeout = None

    def _drain_fd(self) -> None:
        """Read everything the captured pipe holds right now, without blocking."""
        with self._read_lock:
            while self._captured_fd is not None:
                try:
                    data = os.read(self._captured_fd, _READ_SIZE)
                except BlockingIOError:
                    return
                if not data:
                    # Every writer closed fds 1 and 2 (a task may): stop watching the
                    # pipe, or select would report it readable forever.
                    os.close(self._captured_fd)
                    self._captured_fd = None
                    return
                self._take(data)

    def _take(self, data: bytes) -> None:
        with self._cond:
            had_partial = bool(self._partial)
            *lines, self._partial = (self._partial + data).split(b"\n")
            if self._partial and (lines or not had_partial):
                self._partial_since = time.monotonic()
            for line in lines:
                self._hold(line)
            if len(self._partial) >= MAX_EVENT_TEXT:
                self._hold(self._partial)
                self._partial = b""

    def _hold(self, line: bytes) -> None:
        line = line.rstrip(b"\r")
        if not line.strip():
            return
        if self._held + len(line) > self.max_held:
            self._dropped += len(line) + 1
            return
        self._lines.append(line)
        self._held += len(line)

    def _drop_all(self) -> None:
        self._dropped += sum(len(line) + 1 for line in self._lines)
        self._lines.clear()
        self._held = 0

    def _has_text(self) -> bool:
        with self._cond:
            return bool(self._lines or self._dropped)

    def _pump(self) -> float | None:
        """Send what the pacer allows; return how long to sleep before trying again."""
        now = time.monotonic()
        with self._cond:
            if self._partial and now - self._partial_since >= _PARTIAL_LINE_SECONDS:
                self._hold(self._partial)
                self._partial = b""
            partial_wait = _PARTIAL_LINE_SECONDS if self._partial else None
        while self._enabled and self._has_text():
            delay = self._pacer.delay(time.monotonic())
            if delay > 0:
                return delay
            if not self._send_batch(blocking=False):
                return _BUSY_RETRY_SECONDS
        return partial_wait

    def _next_batch(self) -> str:
        """Take lines off the queue for one MSG of at most MAX_EVENT_TEXT characters."""
        parts: list[str] = []
        size = 0
        with self._cond:
            if self._dropped:
                parts.append(f"[{self._dropped} bytes of output dropped]")
                size = len(parts[0])
                self._dropped = 0
            while self._lines:
                text = _decode(self._lines[0])
                separator = 1 if parts else 0
                room = MAX_EVENT_TEXT - size - separator
                if len(text) <= room:
                    parts.append(text)
                    size += separator + len(text)
                    self._held -= len(self._lines.popleft())
                elif not parts:
                    # One line longer than an event: send its head, keep the rest.
                    parts.append(text[:room])
                    rest = text[room:].encode("utf-8")
                    self._held -= len(self._lines[0]) - len(rest)
                    self._lines[0] = rest
                    break
                else:
                    break
        return "\n".join(parts)

    def _send_batch(self, *, blocking: bool) -> bool:
        """Send one MSG if the channel is free; False if it was busy."""
        channel = self._channel
        if not channel.lock.acquire(blocking=blocking):
            return False
        try:
            if channel.closed:
                with self._cond:
                    self._lines.clear()
                    self._dropped = 0
                return True
            text = self._next_batch()
            if not text:
                return True
            sent_at = time.monotonic()
            channel.request(Msg(text), Ok)
            self._pacer.sent(sent_at, time.monotonic())
            return True
        finally:
            channel.lock.release()
