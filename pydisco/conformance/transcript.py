"""The transcript of one scenario run: what each side sent, and when."""

from __future__ import annotations

import enum
import time

import attrs

__all__ = ["Check", "Direction", "Entry", "Transcript"]

#: Frames longer than this are cut in transcripts (the byte count is kept).
_SHOW_BYTES = 240


class Direction(str, enum.Enum):
    """Who an entry is about."""

    WORKER = "worker"
    MASTER = "master"
    KIT = "kit"
    HTTP = "http"


@attrs.frozen(slots=True)
class Entry:
    """One line of a transcript: seconds since the worker started, who, and what."""

    at: float
    direction: Direction
    text: str

    def render(self) -> str:
        arrow = {
            Direction.WORKER: "worker>",
            Direction.MASTER: "master>",
            Direction.KIT: "kit    ",
            Direction.HTTP: "http   ",
        }[self.direction]
        return f"{self.at:8.3f}s {arrow} {self.text}"


@attrs.frozen(slots=True)
class Check:
    """One judgement of one rule in one scenario run."""

    rule: str
    passed: bool
    #: Rendered transcript lines and notes that show why.
    evidence: tuple[str, ...] = ()


def show_bytes(data: bytes) -> str:
    """Bytes as a transcript shows them: printable, escaped, cut when long."""
    cut = data[:_SHOW_BYTES]
    text = cut.decode("utf-8", "backslashreplace").encode("unicode_escape").decode("ascii")
    if len(data) > _SHOW_BYTES:
        text += f"... ({len(data)} bytes)"
    return text


class Transcript:
    """Timestamped entries, relative to the moment the worker was started."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.entries: list[Entry] = []

    def add(self, direction: Direction, text: str, at: float | None = None) -> Entry:
        """Record ``text``; ``at`` is a :func:`time.monotonic` value (default: now)."""
        moment = time.monotonic() if at is None else at
        entry = Entry(round(moment - self.start, 6), direction, text)
        self.entries.append(entry)
        return entry

    def frame(self, direction: Direction, raw: bytes, at: float | None = None) -> Entry:
        """Record a frame's wire bytes (without the final newline)."""
        return self.add(direction, show_bytes(raw.rstrip(b"\n")), at)

    def lines(self) -> list[str]:
        """Every entry, rendered."""
        return [entry.render() for entry in self.entries]
