"""Delayed tag updates (``POST /ddfs/tag/<tag>?delayed=1``), batched as Disco batches them.

Disco (ddfs facts §2.4) buffers the delayed appends to an existing tag per option
set (``update`` or not) and writes them as **one** version, either a fixed time
after the first buffered request (1 s) or just before the next other operation on
the tag; each request is answered only after that write, with its version URLs.
Later requests' sets go in front of earlier ones. Many tasks putting OOB values
into one tag thus cost one tag rewrite, not one each (facts §7.12).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

import attrs

from pydisco.master.ddfs.tags import Tag, Urls

__all__ = ["DELAYED_SECONDS", "DelayedUpdates"]

#: Disco's wait before a delayed batch is written.
DELAYED_SECONDS: Final = 1.0


@attrs.define
class _Batch:
    """The buffered requests of one tag and option set, and the future all of them await."""

    token: str | None
    sets: list[Urls] = attrs.Factory(list)
    done: asyncio.Future[Tag] = attrs.Factory(lambda: asyncio.get_running_loop().create_future())
    timer: asyncio.TimerHandle | None = None


class DelayedUpdates:
    """The pending delayed batches of one master.

    ``write(name, token, batches)`` applies the buffered appends (in arrival order)
    to the tag and returns the version the requests are answered with; it takes the
    tag's lock itself.
    """

    def __init__(
        self,
        write: Callable[[str, str | None, bool, list[Urls]], Awaitable[Tag]],
        seconds: float = DELAYED_SECONDS,
    ) -> None:
        self._write = write
        self.seconds = seconds
        self._batches: dict[tuple[str, bool], _Batch] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    def pending(self, name: str) -> int:
        """How many requests are buffered for tag ``name`` (for tests and status)."""
        return sum(len(b.sets) for (n, _), b in self._batches.items() if n == name)

    async def add(self, name: str, update: bool, sets: Urls, token: str | None) -> Tag:
        """Buffer one delayed request; returns the version written by its batch's flush."""
        key = (name, update)
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = _Batch(token)
            loop = asyncio.get_running_loop()
            batch.timer = loop.call_later(self.seconds, self._flush_later, key)
        batch.sets.append(sets)
        # The batch is written even when this request's client goes away.
        return await asyncio.shield(batch.done)

    def _flush_later(self, key: tuple[str, bool]) -> None:
        task = asyncio.ensure_future(self._flush(key))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def flush(self, name: str) -> None:
        """Write every batch of ``name`` now (before another operation on the tag)."""
        for key in [k for k in self._batches if k[0] == name]:
            await self._flush(key)

    async def flush_all(self) -> None:
        """Write every batch (at shutdown, so no buffered request is left unanswered)."""
        for key in list(self._batches):
            await self._flush(key)

    async def _flush(self, key: tuple[str, bool]) -> None:
        batch = self._batches.pop(key, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        try:
            tag = await self._write(key[0], batch.token, key[1], batch.sets)
        except Exception as exc:  # every waiting request gets the refusal
            batch.done.add_done_callback(lambda done: done.exception())
            batch.done.set_exception(exc)
        else:
            batch.done.set_result(tag)
