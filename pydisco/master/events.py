"""A job's events file, in Disco's line format.

Each line is ``["YYYY/MM/DD HH:MM:SS","<host>",<JSON string>]\\n`` (pure ASCII:
non-ASCII is escaped); event text is cut at Disco's 8192 characters. As in
Disco (facts §9.4), lines are buffered and flushed within a second, or once
1000 are pending; readers (``rawevents``, ``jobevents``) flush first, and so
does closing the log when the job ends.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from pathlib import Path
from typing import IO

from pydisco import jsoncodec
from pydisco.master.layout import local_time
from pydisco.protocol.limits import MAX_EVENT_TEXT

__all__ = ["EventLog", "filter_events", "normalise_filter"]

#: How many recent lines are kept in memory for ``jobevents``.
RING_LINES = 100
#: Unflushed lines are written at most this many seconds after the first of them.
FLUSH_SECONDS = 1.0
#: ... or as soon as this many are pending.
FLUSH_LINES = 1000


_stamp: tuple[int, str] = (-1, "")


def _now() -> str:
    """:func:`local_time` of now, formatted once per second."""
    global _stamp
    second = int(time.time())
    if _stamp[0] != second:
        _stamp = (second, local_time(second))
    return _stamp[1]


class EventLog:
    """Appends events to a job's ``events`` file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fp: IO[bytes] | None = open(path, "ab")  # noqa: SIM115 - held open for appends
        self.recent: deque[str] = deque(maxlen=RING_LINES)
        self._pending = 0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, message: str, host: str = "master") -> None:
        """Append one event (written to the file within :data:`FLUSH_SECONDS`)."""
        if len(message) > MAX_EVENT_TEXT:
            message = message[:MAX_EVENT_TEXT]
        line = jsoncodec.dumps_text([_now(), host, message]) + "\n"
        self.recent.append(line)
        if self._fp is None:
            self._fp = open(self.path, "ab")  # noqa: SIM115
        self._fp.write(line.encode("ascii"))
        self._pending += 1
        if self._pending >= FLUSH_LINES:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
            else:
                self._timer = loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Write every pending line to the file now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._fp is not None and self._pending:
            self._fp.flush()
        self._pending = 0

    def close(self) -> None:
        """Flush and close the file; a later :meth:`add` reopens it."""
        self.flush()
        if self._fp is not None:
            self._fp.close()
            self._fp = None


def append_event(path: Path, message: str, host: str = "master") -> None:
    """Append one event to an events file that no :class:`EventLog` holds open."""
    log = EventLog(path)
    try:
        log.add(message, host)
    finally:
        log.close()


_FILTER_DROP = re.compile(r"[^a-zA-Z0-9:-_!@]")


def normalise_filter(query: str) -> str:
    """Disco's filter clean-up: lowercase, then keep only ``[a-zA-Z0-9:-_!@]``."""
    return _FILTER_DROP.sub("", query.lower())


def filter_events(lines: list[str], query: str, num: int) -> list[str]:
    """The first ``num`` lines containing ``query`` (case-insensitively), newest first.

    Disco runs ``grep -i`` on the file; this is a literal, case-insensitive
    substring match in Python (never a shell).
    """
    needle = normalise_filter(query)
    matches = [line for line in lines if needle in line.lower()][:num]
    matches.reverse()
    return matches
