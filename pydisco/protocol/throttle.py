"""The MSG rate limit: the master's throttle, and the worker's pacer that respects it.

Disco's master keeps a queue of the times MSG messages arrived. For each new
MSG it appends the time, drops *one* entry if the oldest is more than a
second old, and then looks at the queue length N: ten or more is fatal, more
than five delays the OK reply by 200 ms. Because at most one entry is dropped
per message, a burst leaves the queue long for good; a worker that wants to
live must keep it short from the start.

Both classes take the current time as an argument: no clocks in here.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Final

import attrs

from pydisco.protocol.limits import (
    MSG_DELAY_ABOVE,
    MSG_DELAY_SECONDS,
    MSG_FATAL_AT,
    MSG_WINDOW_SECONDS,
)

__all__ = ["MsgPacer", "MsgThrottle", "ThrottleAction", "ThrottleVerdict"]


class ThrottleAction(enum.Enum):
    """What the master does with one MSG."""

    REPLY = "reply"
    DELAY = "delay"
    FATAL = "fatal"


@attrs.frozen(slots=True)
class ThrottleVerdict:
    """The throttle's decision for one MSG, with the queue length behind it."""

    action: ThrottleAction
    count: int
    delay: float = 0.0

    @property
    def warning(self) -> str:
        """The master's event text for a fatal verdict."""
        return f"Worker is behaving badly: Sent {self.count} events in a second, ignoring replies."


class MsgThrottle:
    """The master's MSG throttle, exactly as Disco 0.5.4 runs it."""

    __slots__ = ("_times",)

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def on_msg(self, now: float) -> ThrottleVerdict:
        """Record a MSG that arrived at ``now`` and say how to answer it."""
        times = self._times
        times.append(now)
        if times[0] < now - MSG_WINDOW_SECONDS:
            times.popleft()
        count = len(times)
        if count >= MSG_FATAL_AT:
            return ThrottleVerdict(ThrottleAction.FATAL, count)
        if count > MSG_DELAY_ABOVE:
            return ThrottleVerdict(ThrottleAction.DELAY, count, MSG_DELAY_SECONDS)
        return ThrottleVerdict(ThrottleAction.REPLY, count)


#: Extra age the pacer requires before it counts on the master dropping an entry.
PACER_MARGIN_SECONDS: Final = 0.05


class MsgPacer:
    """The worker's model of the master's throttle queue.

    It keeps the queue at most :data:`~pydisco.protocol.limits.MSG_DELAY_ABOVE`
    long, so replies are never delayed and the fatal limit is never near. Call
    :meth:`delay` before sending a MSG (wait that long, or hold the text back),
    and :meth:`sent` when its OK arrives. Timestamps taken at OK time are no
    earlier than the master's own, and the send time is no later than the
    master's, so the model never thinks an entry is older than the master does.
    """

    __slots__ = ("_limit", "_times")

    def __init__(self, limit: int = MSG_DELAY_ABOVE) -> None:
        if not 1 <= limit < MSG_FATAL_AT:
            raise ValueError(f"limit must be between 1 and {MSG_FATAL_AT - 1}")
        self._limit = limit
        self._times: deque[float] = deque()

    def _drops_oldest(self, now: float) -> bool:
        return (
            bool(self._times) and self._times[0] < now - MSG_WINDOW_SECONDS - PACER_MARGIN_SECONDS
        )

    def delay(self, now: float) -> float:
        """Seconds to wait before a MSG sent at ``now + delay`` keeps the queue short."""
        if len(self._times) < self._limit or self._drops_oldest(now):
            return 0.0
        return self._times[0] + MSG_WINDOW_SECONDS + PACER_MARGIN_SECONDS - now + 1e-3

    def sent(self, sent_at: float, acknowledged_at: float) -> None:
        """Record a MSG sent at ``sent_at`` whose OK arrived at ``acknowledged_at``."""
        drop = self._drops_oldest(sent_at)
        self._times.append(acknowledged_at)
        if drop:
            self._times.popleft()
