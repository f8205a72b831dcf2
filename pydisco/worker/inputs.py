"""A task's inputs: listing them with INPUT, and reading each one with replica fallback.

:func:`poll_inputs` asks the master for inputs not yet seen
(``INPUT ["exclude", [...]]``) until it says ``"done"``. Each entry becomes a
:class:`TaskInput`, which reads one replica after another: a replica that
fails to open or fails mid-read hands over to the next, which resumes after
the bytes already delivered. When every replica has failed the worker sends
``INPUT_ERR`` and follows the master's answer: ``RETRY`` (try the replicas it
lists, a bounded number of rounds), ``WAIT`` (sleep, then ask again) or
``FAIL`` (raise :class:`~pydisco.worker.errors.InputFailed`, so the task ends
with ERROR and is retried).

A ``dir://`` replica is a results index (:mod:`pydisco.resultsindex`): the
input's bytes are those of every listed URL whose label is the input's
label, or of every URL when the label is ``"all"``, one after the other.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Final

from pydisco.protocol.messages import (
    ALL_LABELS,
    Fail,
    Input,
    InputErr,
    InputReply,
    InputRequest,
    Replica,
    Retry,
    TaskInfo,
    Wait,
)
from pydisco.resultsindex import IndexEntry, IndexLineError, parse_index
from pydisco.worker.errors import DataError, InputFailed
from pydisco.worker.schemes import (
    CHUNK_BYTES,
    locate,
    open_location,
    read_errors,
    split_url,
)
from pydisco.worker.stdio import Channel

__all__ = ["IndexEntry", "TaskInput", "parse_index", "poll_inputs"]

#: How many RETRY answers an input may get before the task gives up on it.
MAX_RETRY_ROUNDS: Final = 3
#: How many WAIT answers an input may get before the task gives up on it.
MAX_WAITS: Final = 10
#: The longest pause between two INPUT requests answered "more" with nothing new.
MAX_POLL_PAUSE: Final = 1.0
_FIRST_POLL_PAUSE: Final = 0.05

# A part boundary inside an input's chunk stream (between two files of a dir index).
_BOUNDARY: Final = None


def select_entries(entries: Iterable[IndexEntry], label: int | str) -> list[IndexEntry]:
    """The entries a task reads for an input with ``label`` (``"all"`` keeps every one)."""
    if label == ALL_LABELS:
        return list(entries)
    return [entry for entry in entries if entry.label == label]


class _Position:
    """How far an input has been delivered: whole parts, then bytes into the next."""

    __slots__ = ("offset", "part")

    def __init__(self) -> None:
        self.part = 0
        self.offset = 0


class TaskInput:
    """One input of the task, as user code sees it.

    Iterate over it for ``bytes`` chunks, or use :meth:`lines` /
    :meth:`text_lines`. The data is streamed in constant memory and read
    only once: a second iteration raises.
    """

    def __init__(
        self,
        entry: Input,
        task: TaskInfo,
        channel: Channel | None,
        *,
        on_url: Callable[[str | None], None] | None = None,
    ) -> None:
        self.entry = entry
        self._task = task
        self._channel = channel
        self._on_url = on_url
        self._started = False
        #: The replica URL being read now (the first one before reading starts).
        self.url: str | None = entry.replicas[0].url if entry.replicas else None
        #: Within a dir index, the listed URL being read now.
        self.part_url: str | None = None

    @property
    def input_id(self) -> int:
        """The input's id within the task."""
        return self.entry.input_id

    @property
    def label(self) -> int | str:
        """The input's label: an integer, or ``"all"`` for a dir index read whole."""
        return self.entry.label

    @property
    def replicas(self) -> tuple[Replica, ...]:
        """The replicas the master listed for this input."""
        return self.entry.replicas

    def __repr__(self) -> str:
        return f"<TaskInput {self.input_id} label={self.label!r} url={self.url!r}>"

    # --- what user code calls -----------------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks()

    def chunks(self) -> Iterator[bytes]:
        """The input's bytes, in chunks."""
        for chunk in self._stream():
            if chunk is not _BOUNDARY:
                yield chunk

    def lines(self) -> Iterator[bytes]:
        """The input's lines as bytes, each with its ``\\n`` (the last may lack it).

        A file listed in a dir index always ends a line, so lines never span files.
        """
        pending = b""
        for chunk in self._stream():
            if chunk is _BOUNDARY:
                if pending:
                    yield pending
                    pending = b""
                continue
            pieces = (pending + chunk).split(b"\n")
            pending = pieces.pop()
            for piece in pieces:
                yield piece + b"\n"
        if pending:
            yield pending

    def text_lines(self, encoding: str = "utf-8", errors: str = "strict") -> Iterator[str]:
        """The input's lines decoded as text, without their line ends (``\\n``, ``\\r\\n``).

        The lines of each chunk are decoded and split at once and handed on
        as a block, so no Python step runs per line (``counts.update(chain.
        from_iterable(map(str.split, input.text_lines())))`` counts in C).
        """
        return chain.from_iterable(self.text_blocks(encoding, errors))

    def text_blocks(self, encoding: str = "utf-8", errors: str = "strict") -> Iterator[list[str]]:
        """:meth:`text_lines` as lists, one per run of whole lines read (the faster form)."""
        pending = b""
        for chunk in self._stream():
            if chunk is _BOUNDARY:
                if pending:
                    yield [pending.decode(encoding, errors).rstrip("\r")]
                    pending = b""
                continue
            cut = chunk.rfind(b"\n")
            if cut < 0:
                pending += chunk
                continue
            text = (pending + chunk[:cut]).decode(encoding, errors)
            pending = chunk[cut + 1 :]
            lines = text.split("\n")
            yield [line.rstrip("\r") for line in lines] if "\r" in text else lines
        if pending:
            yield [pending.decode(encoding, errors).rstrip("\r")]

    def read(self) -> bytes:
        """The whole input in memory (only for inputs known to be small)."""
        return b"".join(self.chunks())

    # --- replica fallback ---------------------------------------------------------------------

    def _stream(self) -> Iterator[bytes | None]:
        if self._started:
            raise RuntimeError(f"Input {self.input_id} was already read; inputs stream once.")
        self._started = True
        position = _Position()
        replicas = list(self.entry.replicas)
        if not replicas:
            return  # no data for this label (the master sends no replicas): an empty input
        failures: list[tuple[int, str, str]] = []
        rounds = waits = 0
        while True:
            failed_now: list[int] = []
            for replica in replicas:
                self._set_url(replica.url)
                try:
                    yield from self._read_replica(replica.url, position)
                    self._set_url(None)
                    return
                except DataError as exc:
                    failures.append((replica.replica_id, replica.url, str(exc)))
                    failed_now.append(replica.replica_id)
            replicas, rounds, waits = self._ask_master(failed_now, failures, rounds, waits)

    def _ask_master(
        self,
        failed: list[int],
        failures: list[tuple[int, str, str]],
        rounds: int,
        waits: int,
    ) -> tuple[list[Replica], int, int]:
        """Send INPUT_ERR (again after WAIT) until the master names replicas to retry."""
        while True:
            if self._channel is None:
                raise self._failed(failures, "no master to ask for other replicas")
            reply = self._channel.request_any(InputErr(self.input_id, tuple(failed)))
            if isinstance(reply, Retry):
                rounds += 1
                if rounds > MAX_RETRY_ROUNDS or not reply.replicas:
                    raise self._failed(failures, f"gave up after {rounds} RETRY answers")
                return list(reply.replicas), rounds, waits
            if isinstance(reply, Wait):
                waits += 1
                if waits > MAX_WAITS:
                    raise self._failed(failures, f"gave up after {MAX_WAITS} WAIT answers")
                time.sleep(reply.seconds)
                continue
            if isinstance(reply, Fail):
                raise self._failed(failures, "the master answered FAIL")
            raise self._failed(failures, f"the master answered INPUT_ERR with {reply.NAME}")

    def _failed(self, failures: list[tuple[int, str, str]], why: str) -> InputFailed:
        detail = "\n".join(f"  replica {rid} {url}: {reason}" for rid, url, reason in failures)
        return InputFailed(
            f"Input {self.input_id} could not be read ({why}). Failures:\n{detail}",
            self.input_id,
            tuple(failures),
        )

    def _set_url(self, url: str | None) -> None:
        if url is not None:
            self.url = url
        self.part_url = None
        if self._on_url is not None:
            self._on_url(url)

    def _parts(self, url: str) -> list[str]:
        """The URLs a replica's bytes come from: itself, or the entries of its dir index."""
        if split_url(url)[0] != "dir":
            return [url]
        index = b"".join(_read_from(url, self._task, 0))
        try:
            entries = select_entries(parse_index(index, url), self.label)
        except IndexLineError as exc:
            raise DataError(str(exc), url) from None
        return [entry.url for entry in entries]

    def _read_replica(self, url: str, position: _Position) -> Iterator[bytes | None]:
        parts = self._parts(url)
        is_dir = split_url(url)[0] == "dir"
        while position.part < len(parts):
            part_url = parts[position.part]
            if is_dir:
                self.part_url = part_url
                if self._on_url is not None:
                    self._on_url(part_url)
            for chunk in _read_from(part_url, self._task, position.offset):
                position.offset += len(chunk)
                yield chunk
            position.part += 1
            position.offset = 0
            yield _BOUNDARY


def _read_from(url: str, task: TaskInfo, start: int) -> Iterator[bytes]:
    """The bytes of ``url`` from ``start`` on; any failure is a :class:`DataError`."""
    errors = read_errors()
    try:
        stream = open_location(locate(url, task), start)
    except DataError:
        raise
    except errors as exc:
        raise DataError(f"Cannot open {url!r}: {exc!r}.", url) from exc
    try:
        while True:
            try:
                chunk = stream.read(CHUNK_BYTES)
            except errors as exc:
                raise DataError(f"Reading {url!r} failed: {exc!r}.", url) from exc
            if not chunk:
                return
            yield chunk
    finally:
        with contextlib.suppress(*errors):
            stream.close()


def poll_inputs(channel: Channel, seen: set[int], order: list[int]) -> Iterator[Input]:
    """The task's inputs, each once, asking with ``INPUT ["exclude", seen]`` until "done".

    ``seen`` and ``order`` are updated as inputs are handed out, so a second
    call continues where the first stopped. The master may withhold a reply
    until it has something new; when it answers "more" with nothing new
    anyway, the next request waits a little longer, up to one second.
    """
    pause = _FIRST_POLL_PAUSE
    while True:
        reply = channel.request(InputRequest("exclude", tuple(order)), InputReply)
        fresh = [entry for entry in reply.inputs if entry.input_id not in seen]
        for entry in fresh:
            seen.add(entry.input_id)
            order.append(entry.input_id)
            yield entry
        if reply.done:
            return
        if fresh:
            pause = _FIRST_POLL_PAUSE
        else:
            time.sleep(pause)
            pause = min(pause * 2, MAX_POLL_PAUSE)
