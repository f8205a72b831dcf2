"""External sort and grouping of ``(encoded key, value)`` items.

Reduce needs every key once, with all its values, in key order, even when a
task's data is larger than memory. :class:`ExternalSorter` keeps items in
memory up to a budget (an estimate of the bytes they occupy); past it, the
buffer is sorted and spilled as a *run* (a temporary file of pickled blocks)
in the task directory. Reading merges the runs with :func:`heapq.merge`
(at most :data:`MAX_FAN_IN` at a time; more runs are merged in passes first),
so memory stays about the budget plus one block per run.

Order is by the encoded key bytes (``bytes`` comparison, i.e. unsigned
lexicographic). The sort is stable: values of one key keep the order in
which they were added.
"""

from __future__ import annotations

import heapq
import itertools
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import IO, Any, Final

__all__ = ["DEFAULT_SORT_MEMORY", "ExternalSorter", "group_sorted", "sorted_groups"]

Item = tuple[bytes, Any]

#: The default memory budget of a sort, in bytes.
DEFAULT_SORT_MEMORY: Final = 64 * 1024 * 1024
#: How many runs are merged at once.
MAX_FAN_IN: Final = 64
#: Items per pickled block of a run.
BLOCK_ITEMS: Final = 2048
#: Bytes assumed per item beyond its key and value (tuple, objects, list slot).
ITEM_OVERHEAD: Final = 120

_first = itemgetter(0)


def _value_size(value: Any) -> int:
    kind = type(value)
    if kind is str or kind is bytes:
        return len(value) + 49
    if kind is int or kind is float:
        return 32
    if kind is list or kind is tuple:
        return (
            56 + 8 * len(value) + sum(_value_size(v) for v in value[:8]) * max(1, len(value) // 8)
        )
    return 64


class ExternalSorter:
    """Collects items, spilling sorted runs past ``memory`` bytes; iterate to get them sorted."""

    def __init__(self, memory: int = DEFAULT_SORT_MEMORY, tmpdir: str | None = None) -> None:
        self.memory = max(int(memory), 1)
        self.tmpdir = tmpdir
        self._buffer: list[Item] = []
        self._used = 0
        self._runs: list[IO[bytes]] = []
        #: How many runs were spilled (for tests and reports).
        self.spilled = 0

    def add(self, key_bytes: bytes, value: Any) -> None:
        """Add one item."""
        self._buffer.append((key_bytes, value))
        self._used += len(key_bytes) + _value_size(value) + ITEM_OVERHEAD
        if self._used >= self.memory:
            self._spill()

    def extend(self, items: Iterable[Item]) -> None:
        """Add every item of ``items`` (the same as :meth:`add`, in one tight loop)."""
        append = self._buffer.append
        used, memory = self._used, self.memory
        for item in items:
            append(item)
            value = item[1]
            kind = type(value)
            if kind is str or kind is bytes:
                used += len(item[0]) + len(value) + 49 + ITEM_OVERHEAD
            else:
                used += len(item[0]) + _value_size(value) + ITEM_OVERHEAD
            if used >= memory:
                self._used = used
                self._spill()
                append = self._buffer.append
                used = 0
        self._used = used

    def _new_run(self) -> IO[bytes]:
        import tempfile  # only a sort that spills needs it; worker start-up does not pay for it

        if self.tmpdir is not None:
            os.makedirs(self.tmpdir, exist_ok=True)
        return tempfile.TemporaryFile(dir=self.tmpdir, prefix="sortrun-")

    def _write_run(self, items: Iterable[Item]) -> IO[bytes]:
        run = self._new_run()
        iterator = iter(items)
        while True:
            block = list(itertools.islice(iterator, BLOCK_ITEMS))
            if not block:
                break
            # One pickle per block: no memo grows across blocks (it would keep every item alive).
            pickle.dump(block, run, pickle.HIGHEST_PROTOCOL)
        run.flush()
        run.seek(0)
        self.spilled += 1
        return run

    def _spill(self) -> None:
        self._buffer.sort(key=_first)
        self._runs.append(self._write_run(self._buffer))
        self._buffer = []
        self._used = 0

    @staticmethod
    def _read_run(run: IO[bytes]) -> Iterator[Item]:
        try:
            while True:
                try:
                    block = pickle.load(run)
                except EOFError:
                    return
                yield from block
        finally:
            run.close()

    def __iter__(self) -> Iterator[Item]:
        return self.sorted()

    def sorted(self) -> Iterator[Item]:
        """Every item added, in key order (stable); the sorter is used up."""
        if not self._runs:
            buffer, self._buffer = self._buffer, []
            buffer.sort(key=_first)
            return iter(buffer)
        if self._buffer:
            self._spill()
        while len(self._runs) > MAX_FAN_IN:
            # Merge neighbouring runs in order, so equal keys keep their order (stability).
            runs, self._runs = self._runs, []
            for start in range(0, len(runs), MAX_FAN_IN):
                batch = runs[start : start + MAX_FAN_IN]
                merged = heapq.merge(*(self._read_run(r) for r in batch), key=_first)
                self._runs.append(self._write_run(merged))
        runs, self._runs = self._runs, []
        return heapq.merge(*(self._read_run(r) for r in runs), key=_first)

    def close(self) -> None:
        """Drop the buffer and delete any runs not yet read."""
        for run in self._runs:
            run.close()
        self._runs = []
        self._buffer = []


def group_sorted(items: Iterable[Item]) -> Iterator[tuple[bytes, Iterator[Any]]]:
    """``(encoded key, values)`` for each run of equal keys in sorted ``items``.

    The values iterator is lazy; it must be used (or dropped) before the next
    group is taken, as with :func:`itertools.groupby`.
    """
    for key_bytes, group in itertools.groupby(items, key=_first):
        yield key_bytes, (value for _key, value in group)


def sorted_groups(
    items: Iterable[Item],
    decode_key: Callable[[bytes], Any],
    *,
    memory: int = DEFAULT_SORT_MEMORY,
    tmpdir: str | None = None,
) -> Iterator[tuple[Any, Iterator[Any]]]:
    """Each distinct key once, decoded, with all its values, in encoded-key order."""
    sorter = ExternalSorter(memory, tmpdir)
    try:
        sorter.extend(items)
        for key_bytes, values in group_sorted(sorter.sorted()):
            yield decode_key(key_bytes), values
    finally:
        sorter.close()
