"""A job's events file, in Disco's line format.

Each line is ``["YYYY/MM/DD HH:MM:SS","<host>",<JSON string>]\\n`` (pure ASCII:
non-ASCII is escaped). Lines are appended and flushed one by one, so a crash
loses nothing already reported; event text is cut at Disco's 8192 characters.
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import IO

from pydisco.master.layout import local_time
from pydisco.protocol import jsoncodec
from pydisco.protocol.limits import MAX_EVENT_TEXT

__all__ = ["EventLog", "filter_events", "normalise_filter"]

#: How many recent lines are kept in memory for ``jobevents``.
RING_LINES = 100


class EventLog:
    """Appends events to a job's ``events`` file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fp: IO[bytes] | None = open(path, "ab")  # noqa: SIM115 - held open for appends
        self.recent: deque[str] = deque(maxlen=RING_LINES)

    def add(self, message: str, host: str = "master") -> None:
        """Append one event now."""
        if len(message) > MAX_EVENT_TEXT:
            message = message[:MAX_EVENT_TEXT]
        line = jsoncodec.dumps_text([local_time(), host, message]) + "\n"
        self.recent.append(line)
        if self._fp is None:
            self._fp = open(self.path, "ab")  # noqa: SIM115
        self._fp.write(line.encode("ascii"))
        self._fp.flush()

    def close(self) -> None:
        """Close the file; a later :meth:`add` reopens it."""
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
