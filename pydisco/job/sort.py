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

import gc
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import IO, Any, Final

__all__ = [
    "DEFAULT_SORT_MEMORY",
    "ExternalSorter",
    "group_sorted",
    "sorted_block_groups",
    "sorted_groups",
]

Item = tuple[bytes, Any]
#: ``(encoded keys, keys as read or None, values, size)``: a
#: :class:`~pydisco.job.records.KeyedBlock` (this module imports no record format).
Block = tuple[list[bytes], "list[Any] | None", list[Any], int]

#: The default memory budget of a sort, in bytes.
DEFAULT_SORT_MEMORY: Final = 64 * 1024 * 1024
#: How many runs are merged at once.
MAX_FAN_IN: Final = 64
#: Items per pickled block of a run.
BLOCK_ITEMS: Final = 2048
#: Bytes assumed per item beyond its key and value (tuple, objects, list slot).
ITEM_OVERHEAD: Final = 120
#: Bytes assumed, beyond the bytes a block was read from, per distinct key grouped in
#: memory (the encoded key and the key as read, a dict entry, the key's list) and per
#: value (its object and list slot). Measured on 80-byte values under distinct keys,
#: whose peak RSS then stays near the external sort's.
GROUPED_KEY_OVERHEAD: Final = 280
GROUPED_VALUE_OVERHEAD: Final = 40

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
        import pickle  # only a sort that spills needs it

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

    def spill_sorted(self, items: Iterable[Item]) -> None:
        """Write ``items``, already in key order and each key's in the order added, as a run.

        They count as added before everything added after (the merge is stable).
        """
        if self._buffer:
            self._spill()
        self._runs.append(self._write_run(items))

    def _spill(self) -> None:
        self._buffer.sort(key=_first)
        self._runs.append(self._write_run(self._buffer))
        self._buffer = []
        self._used = 0

    @staticmethod
    def _read_run(run: IO[bytes]) -> Iterator[Item]:
        import pickle

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
        import heapq

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
    return _sorted_groups(ExternalSorter(memory, tmpdir), items, decode_key)


def _sorted_groups(
    sorter: ExternalSorter, items: Iterable[Item], decode_key: Callable[[bytes], Any]
) -> Iterator[tuple[Any, Iterator[Any]]]:
    try:
        sorter.extend(items)
        for key_bytes, values in group_sorted(sorter.sorted()):
            yield decode_key(key_bytes), values
    finally:
        sorter.close()


def sorted_block_groups(
    blocks: Iterable[Block],
    decode_key: Callable[[bytes], Any],
    *,
    memory: int = DEFAULT_SORT_MEMORY,
    tmpdir: str | None = None,
) -> Iterator[tuple[Any, Iterator[Any]]]:
    """:func:`sorted_groups` of the items of ``blocks``, grouped in memory while they fit.

    Each item goes into a list per encoded key (a dict), and the distinct keys
    are sorted once: the groups, their order and each key's values (in the
    order read) are those of the sort, which a stable sort by key gives, at a
    fraction of the cost. A ``str`` key as read stands for its decoded self.
    Past ``memory`` (estimated from each block's size), what is held is
    written as a sorted run of an :class:`ExternalSorter`, which takes the rest.
    """
    groups: dict[bytes, list[Any]] = {}
    blocks = iter(blocks)
    # The grouping makes only acyclic objects (lists, bytes, the decoded records); the
    # cyclic collector would walk every one of them many times over, and find nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        grouped = _group_blocks(blocks, groups, memory)
    finally:
        if collecting:
            gc.enable()
    if not grouped:
        # What is held becomes the first run (sorted already; freed as it is written),
        # the rest goes through the external sort after it.
        sorter = ExternalSorter(memory, tmpdir)
        try:
            sorter.spill_sorted(_held_items(groups))
        except BaseException:
            sorter.close()
            raise
        yield from _sorted_groups(sorter, _block_items(blocks), decode_key)
        return
    for encoded in sorted(groups):
        held = iter(groups.pop(encoded))
        key = next(held)
        yield (key if type(key) is str else decode_key(encoded)), held


def _group_blocks(blocks: Iterator[Block], groups: dict[bytes, list[Any]], memory: int) -> bool:
    """Group the items of ``blocks`` into ``groups``; False once past ``memory`` (rest unread)."""
    used = 0
    for key_bytes, keys, values, size in blocks:
        known = len(groups)
        get = groups.get
        as_read = itertools.repeat(None, len(values)) if keys is None else keys
        for encoded, key, value in zip(key_bytes, as_read, values, strict=True):
            entry = get(encoded)
            if entry is None:
                groups[encoded] = [key, value]
            else:
                entry.append(value)
        used += (
            size
            + GROUPED_KEY_OVERHEAD * (len(groups) - known)
            + GROUPED_VALUE_OVERHEAD * len(values)
        )
        if used >= memory:
            return False
    return True


def _held_items(groups: dict[bytes, list[Any]]) -> Iterator[Item]:
    """The items held in ``groups`` in key order, each key's values in order, emptying it."""
    for encoded in sorted(groups):
        for value in itertools.islice(groups.pop(encoded), 1, None):
            yield encoded, value


def _block_items(blocks: Iterable[Block]) -> Iterator[Item]:
    return itertools.chain.from_iterable(zip(block[0], block[2], strict=True) for block in blocks)
