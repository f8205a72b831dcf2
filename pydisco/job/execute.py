"""Running one task of one stage: read inputs, call the user's function, write outputs.

The same code runs a task inline (:mod:`pydisco.job.inline`) and in a worker
on a node (:mod:`pydisco.job.launcher`); only the task object differs (see
:class:`TaskLike`). Errors in user code are annotated with the stage, task and
input (or key) being processed; inline the original exception propagates, in
a worker it becomes the FATAL (or ERROR) text.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain, islice, repeat
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, Final, Protocol
from zlib import crc32

import attrs

from pydisco.dataurls import shown_url
from pydisco.job.errors import StageFailed
from pydisco.job.partition import partition_of
from pydisco.job.records import (
    JsonFormat,
    KeyedBlock,
    RecordFormat,
    Repeated,
    blocks_of,
    get_format,
    json_key_bytes,
    json_value_bytes,
)
from pydisco.job.sort import _value_size, sorted_block_groups

if TYPE_CHECKING:
    from pydisco.job.api import Job, Stage

__all__ = ["RunSpec", "StageFailed", "TaskLike", "run_task_stage"]

#: Bytes buffered per output label before a write.
WRITE_BUFFER: Final = 1 << 20
#: Values a combine buffer holds for one key before folding them.
COMBINE_EVERY: Final = 64
#: Pairs a combine takes from the stage function at a time.
COUNT_BATCH: Final = 512
#: Value types a counted value may have (immutable, so repeating it is the same as emitting it).
_PLAIN_VALUES: Final = frozenset({int, str, bytes, bool, float, type(None)})
_ENTRY_OVERHEAD: Final = 200


class TaskLike(Protocol):
    """A task: inputs to read, outputs to write."""

    @property
    def info(self) -> Any: ...

    def inputs(self) -> Iterator[Any]: ...

    def output(self, label: int = 0) -> Any: ...


@attrs.frozen
class RunSpec:
    """What a task needs besides the job: params and how to decode each input."""

    params: Any = None
    #: Format of each job input, by replica URL (the first stage); default ``default_format``.
    input_formats: Mapping[str, str] = attrs.field(factory=dict)
    default_format: str = "lines"
    #: First-stage inputs that are ranges of local files: ``url -> (path, start, end, size)``.
    input_ranges: Mapping[str, tuple[str, int, int, int]] = attrs.field(factory=dict)
    #: Where sort runs go (``None``: the system's temporary directory).
    tmpdir: str | None = None


class _Where:
    """What the task is doing now, for error messages."""

    def __init__(self, info: Any) -> None:
        self.info = info
        self.input: str | None = None
        self.key: Any = ...

    def text(self) -> str:
        parts = [f"stage {self.info.stage!r}, task {self.info.taskid}"]
        if self.input is not None:
            parts.append(f"input {shown_url(self.input)}")
        if self.key is not ...:
            parts.append(f"key {self.key!r:.200}")
        return "while running " + ", ".join(parts)


# --- outputs ------------------------------------------------------------------------------------


class Emitter:
    """Encodes emitted pairs, partitions them and writes them (buffered) to outputs."""

    def __init__(
        self, task: TaskLike, fmt: RecordFormat, partitions: int | None, label: int
    ) -> None:
        self._task = task
        self._fmt = fmt
        self._partitions = partitions
        self._label = label
        self._buffers: dict[int, list[bytes]] = {}
        self._sizes: dict[int, int] = {}
        self.count = 0

    def key_bytes(self, key: Any) -> bytes:
        """The encoded key of ``key`` in the output format."""
        return self._fmt.key_bytes(key)

    def emit(self, key: Any, value: Any) -> None:
        """Write one record."""
        fmt = self._fmt
        key_bytes = fmt.key_bytes(key)
        label = partition_of(key_bytes, self._partitions) if self._partitions else self._label
        record = fmt.encode(key_bytes, value)
        buffer = self._buffers.get(label)
        if buffer is None:
            buffer = self._buffers[label] = []
            self._sizes[label] = 0
        buffer.append(record)
        self._sizes[label] += len(record)
        self.count += 1
        if self._sizes[label] >= WRITE_BUFFER:
            self._flush(label)

    def emit_all(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        """Write every pair of ``pairs`` (the same as :meth:`emit`, in one tight loop)."""
        fmt = self._fmt
        if type(fmt) is JsonFormat:
            self._emit_json(pairs)
            return
        key_bytes_of, encode = fmt.key_bytes, fmt.encode
        partitions, fixed = self._partitions, self._label
        buffers, sizes = self._buffers, self._sizes
        count = 0
        for key, value in pairs:
            key_bytes = key_bytes_of(key)
            label = crc32(key_bytes) % partitions if partitions else fixed
            record = encode(key_bytes, value)
            buffer = buffers.get(label)
            if buffer is None:
                buffer = buffers[label] = []
                sizes[label] = 0
            buffer.append(record)
            sizes[label] += len(record)
            count += 1
            if sizes[label] >= WRITE_BUFFER:
                self._flush(label)
        self.count += count

    def _lanes(self) -> tuple[list[int], list[Callable[[bytes], None]], list[int]]:
        """The labels this emitter writes, each label's buffer ``append`` and buffered size.

        Partitioned, lane ``i`` is label ``i``; otherwise the one lane is the
        fixed label. Buffers of labels that get no record stay empty, and
        :meth:`close` opens no output for them.
        """
        labels = list(range(self._partitions)) if self._partitions else [self._label]
        appends = [self._buffers.setdefault(label, []).append for label in labels]
        return labels, appends, [self._sizes.get(label, 0) for label in labels]

    def _emit_json(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        """:meth:`emit_all` for the ``json`` format, strings and integers encoded inline."""
        partitions = self._partitions
        labels, appends, sizes = self._lanes()
        count = 0
        try:
            for key, value in pairs:
                if type(key) is str:
                    key_bytes = encode_basestring(key).encode()
                else:
                    key_bytes = json_key_bytes(key)
                kind = type(value)
                if kind is int:
                    record = b"[%b,%d]\n" % (key_bytes, value)
                elif kind is str:
                    record = b"[%b,%b]\n" % (key_bytes, encode_basestring(value).encode())
                else:
                    record = b"[%b,%b]\n" % (key_bytes, json_value_bytes(value))
                lane = crc32(key_bytes) % partitions if partitions else 0
                appends[lane](record)
                count += 1
                size = sizes[lane] = sizes[lane] + len(record)
                if size >= WRITE_BUFFER:
                    self._flush(labels[lane])
                    sizes[lane] = 0
        finally:  # what was buffered stays accounted for, whatever stopped the loop
            self._sizes.update(zip(labels, sizes, strict=True))
            self.count += count

    def emit_counted(self, value: Any, counts: Iterable[tuple[Any, int]]) -> None:
        """Write ``(key, value)`` ``n`` times for each ``(key, n)``: one record per key."""
        fmt = self._fmt
        partitions = self._partitions
        labels, appends, sizes = self._lanes()
        is_json = type(fmt) is JsonFormat
        if is_json:
            value_bytes = json_value_bytes(value)
            single = b",%b]\n" % value_bytes
            several = b",%b,%%d]\n" % value_bytes
        written = 0
        try:
            for key, times in counts:
                if is_json and type(key) is str:
                    key_bytes = encode_basestring(key).encode()
                else:
                    key_bytes = fmt.key_bytes(key)
                if is_json:
                    record = b"[" + key_bytes + (single if times == 1 else several % times)
                elif times == 1:
                    record = fmt.encode(key_bytes, value)
                else:
                    record = fmt.encode_repeated(key_bytes, value, times)
                lane = crc32(key_bytes) % partitions if partitions else 0
                appends[lane](record)
                written += 1
                size = sizes[lane] = sizes[lane] + len(record)
                if size >= WRITE_BUFFER:
                    self._flush(labels[lane])
                    sizes[lane] = 0
        finally:
            self._sizes.update(zip(labels, sizes, strict=True))
            self.count += written

    def _flush(self, label: int) -> None:
        buffer = self._buffers[label]
        self._task.output(label).write(b"".join(buffer))
        buffer.clear()  # in place: the lanes of a running emit keep appending to it
        self._sizes[label] = 0

    def close(self) -> None:
        """Write what is buffered."""
        for label in sorted(self._buffers):
            if self._buffers[label]:
                self._flush(label)


class _Unhashable:
    """A key that cannot be a dict key (a list, a dict), buffered by its encoding."""

    __slots__ = ("encoded", "key")

    def __init__(self, encoded: bytes, key: Any) -> None:
        self.encoded = encoded
        self.key = key

    def __hash__(self) -> int:
        return hash(self.encoded)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unhashable) and other.encoded == self.encoded


def _real_key(key: Any) -> Any:
    return key.key if type(key) is _Unhashable else key


class Combiner:
    """Holds emitted values per key and folds them with ``combine`` before writing.

    Pairs are taken from the stage function in batches. While every pair of
    a batch carries one and the same immutable value object (word count's
    ``(word, 1)``), the batch's keys are only counted, in C
    (:class:`collections.Counter`), and ``combine`` later gets that value
    repeated. Identical values cannot be out of emission order, and equal but
    different values (``1``, ``1.0``, ``True``) are never merged. The first
    batch that does not qualify flushes what was counted, and the rest of the
    task takes the general path: a list of values per key, folded every
    :data:`COMBINE_EVERY`.
    """

    #: Whether only ``str`` keys are counted (see :class:`RepeatCounter`).
    _str_keys_only = False

    def __init__(
        self,
        combine: Callable[..., Iterable[tuple[Any, Any]]],
        extra: tuple[Any, ...],
        out: Emitter,
        memory: int,
    ) -> None:
        self._combine = combine
        self._extra = extra
        self._out = out
        self._memory = memory
        self._entries: dict[Any, list[Any]] = {}
        self._used = 0
        #: Counting path: the one value counted so far, and the count of each key.
        self._counting = True
        self._value: Any = None
        self._counts: Counter[Any] = Counter()

    def emit_all(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        """Buffer every pair of ``pairs`` (the hot loop of a map with combine)."""
        if self._counting:
            pairs = iter(pairs)
            while True:
                batch = list(islice(pairs, COUNT_BATCH))
                if not batch:
                    return
                if not self._count(batch):
                    self._counting = False
                    self._flush_counts()
                    pairs = chain(batch, pairs)
                    break
        self._buffer(pairs)

    def _count(self, batch: list[Any]) -> bool:
        """Count ``batch`` if it qualifies for the counting path (see the class)."""
        keys = self._qualifying_keys(batch)
        if keys is None:
            return False
        counts = self._counts
        before = len(counts)
        try:
            counts.update(keys)
        except TypeError:  # an unhashable key: what precedes it was counted, the rest is not
            for index, key in enumerate(keys):
                try:
                    hash(key)
                except TypeError:
                    del batch[:index]
                    return False
            raise
        added = len(counts) - before
        if added:
            key = keys[-1]
            size = _value_size(key) if type(key) is not str else len(key) + 49
            self._used += added * (size + _ENTRY_OVERHEAD)
            if self._used >= self._memory:
                self._flush_counts()
        return True

    def _qualifying_keys(self, batch: list[Any]) -> list[Any] | None:
        """The keys of ``batch`` if every pair carries the counted value object, else None.

        One comprehension checks it all: unpacking a pair (as the general path
        does) fails on anything but two items, and the value must be the very
        object of the first pair, of a plain type, and of the pairs counted so far.
        """
        # (With _str_keys_only, str keys only: Counter merges equal keys of other types,
        # 1, 1.0 and True.)
        try:
            value = batch[0][1]
            if type(value) not in _PLAIN_VALUES or (self._counts and value is not self._value):
                return None
            if self._str_keys_only:
                keys = [key for key, each in batch if each is value and type(key) is str]
            else:
                keys = [key for key, each in batch if each is value]
        except (TypeError, ValueError, LookupError):  # the general path raises what applies
            return None
        if len(keys) != len(batch):
            return None
        self._value = value
        return keys

    def _buffer(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        entries = self._entries
        get = entries.get
        for emitted, value in pairs:
            key = emitted
            try:
                entry = get(key)
            except TypeError:  # an unhashable key (e.g. a list): buffer it by its encoding
                key = _Unhashable(self._out.key_bytes(emitted), emitted)
                entry = get(key)
            if entry is None:
                entries[key] = [key, value]
                self._used += _value_size(key) + _ENTRY_OVERHEAD
                if self._used >= self._memory:
                    self.flush()
                    entries = self._entries  # flush starts a new buffer
                    get = entries.get
            else:
                entry.append(value)
                if len(entry) > COMBINE_EVERY:
                    self._fold(key, entry)

    def _fold(self, key: Any, entry: list[Any]) -> None:
        real = _real_key(entry[0])
        values = entry[1:]
        del entry[1:]
        for out_key, out_value in self._combine(real, iter(values), *self._extra):
            if out_key == real:
                entry.append(out_value)
            else:
                self._out.emit(out_key, out_value)

    def _flush_counts(self) -> None:
        counts, self._counts = self._counts, Counter()
        self._used = 0
        if counts:
            value, combine, extra = self._value, self._combine, self._extra
            self._out.emit_all(
                chain.from_iterable(
                    combine(key, repeat(value, n), *extra) for key, n in counts.items()
                )
            )

    def flush(self) -> None:
        """Fold and write everything buffered."""
        self._flush_counts()
        entries, self._entries = self._entries, {}
        self._used = 0
        for entry in entries.values():
            if len(entry) < 2:
                continue  # the combine dropped every value of this key
            real = _real_key(entry[0])
            self._out.emit_all(self._combine(real, iter(entry[1:]), *self._extra))


def _no_combine(key: Any, values: Iterable[Any]) -> Iterable[tuple[Any, Any]]:
    return ((key, value) for value in values)


class RepeatCounter(Combiner):
    """The automatic combiner of a map stage without ``combine`` that feeds another stage.

    It takes the counting path of :class:`Combiner` (same immutable value
    object in every pair of a batch, ``str`` keys) and writes each key once
    with its count, a :class:`~pydisco.job.records.Repeated` record; the next
    stage reads it back as the pair repeated, so it sees exactly what was
    emitted (the values of a counted key are all the same object, so their
    order cannot differ). The first batch that does not qualify writes what
    was counted, and the rest of the task is written pair by pair, as
    without a combiner. Nothing is ever folded by user code.
    """

    _str_keys_only = True

    def __init__(self, out: Emitter, memory: int) -> None:
        super().__init__(_no_combine, (), out, memory)

    def emit_all(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        """Count while the pairs qualify, then write them as they come."""
        if not self._counting:
            self._out.emit_all(pairs)
            return
        pairs = iter(pairs)
        while batch := list(islice(pairs, COUNT_BATCH)):
            if not self._count(batch):
                self._counting = False
                self._flush_counts()
                self._out.emit_all(chain(batch, pairs))
                return

    def _flush_counts(self) -> None:
        counts, self._counts = self._counts, Counter()
        self._used = 0
        if counts:
            self._out.emit_counted(self._value, counts.items())

    def flush(self) -> None:
        """Write what was counted."""
        self._flush_counts()


def _unrepeat(value: Any) -> Iterable[Any]:
    return repeat(value.value, value.times) if type(value) is Repeated else (value,)


def _expand(values: Iterable[Any]) -> Iterator[Any]:
    """A reduce key's values with each :class:`Repeated` value repeated (in C, per value)."""
    return chain.from_iterable(map(_unrepeat, values))


# --- inputs -------------------------------------------------------------------------------------


def _format_of(entry: Any, spec: RunSpec, first: bool, job_format: str) -> RecordFormat:
    if not first:
        return get_format(job_format)
    fmt = getattr(entry, "format", None)
    if isinstance(fmt, str):
        return get_format(fmt)
    for url in _urls_of(entry):
        if url in spec.input_formats:
            return get_format(spec.input_formats[url])
    return get_format(spec.default_format)


def _urls_of(entry: Any) -> list[str]:
    urls = [getattr(entry, "url", None)]
    urls.extend(getattr(r, "url", None) for r in getattr(entry, "replicas", ()))
    return [u for u in urls if isinstance(u, str)]


def _chunks(entry: Any, spec: RunSpec, first: bool) -> Iterator[bytes]:
    """The bytes of one input: its range of a local file read in place, or what the task reads."""
    if first and spec.input_ranges:
        for url in _urls_of(entry):
            found = spec.input_ranges.get(url)
            if found is not None:
                from pydisco.job.sources import read_file_range

                return read_file_range(*found)
    chunks: Iterator[bytes] = entry.chunks()
    return chunks


def _records(task: TaskLike, spec: RunSpec, first: bool, job: Job, where: _Where) -> Iterator[Any]:
    """Every record of every input, each input's records straight from its decoder."""

    def of_each() -> Iterator[Iterator[Any]]:
        for entry in task.inputs():
            fmt = _format_of(entry, spec, first, job.records)
            where.input = (_urls_of(entry) or [repr(entry)])[0]
            yield fmt.records(_chunks(entry, spec, first))
        where.input = None

    return chain.from_iterable(of_each())


def _keyed_blocks(
    task: TaskLike,
    spec: RunSpec,
    first: bool,
    job: Job,
    where: _Where,
    *,
    readers: list[RecordFormat],
) -> Iterator[KeyedBlock]:
    """Every record of the task's inputs, in blocks; ``readers`` gets each decoder."""
    target = get_format(job.records)
    for entry in task.inputs():
        fmt = _format_of(entry, spec, first, job.records)
        readers.append(fmt)
        where.input = (_urls_of(entry) or [repr(entry)])[0]
        if fmt.name == target.name:
            yield from fmt.keyed_blocks(_chunks(entry, spec, first))
        else:
            key_bytes = target.key_bytes
            yield from blocks_of(
                (key_bytes(key), value) for key, value in fmt.records(_chunks(entry, spec, first))
            )
    where.input = None


# --- running a stage ----------------------------------------------------------------------------


def _annotate(exc: BaseException, where: _Where) -> None:
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(f"pydisco: {where.text()}")


def run_task_stage(
    job: Job, stage: Stage, task: TaskLike, spec: RunSpec, *, wrap_errors: bool = False
) -> int:
    """Run ``task`` of ``stage``; returns the number of records written.

    With ``wrap_errors`` (in a worker) a failure in user code is raised as
    :class:`StageFailed` naming where it happened, caused by the original
    exception; otherwise the original exception propagates, with a note.
    """
    where = _Where(task.info)
    try:
        return _run(job, stage, task, spec, where)
    except StageFailed:
        raise
    except Exception as exc:
        _annotate(exc, where)
        if wrap_errors and not _node_fault(exc):
            raise StageFailed(f"{type(exc).__name__}: {exc} ({where.text()})") from exc
        raise


#: The directory of the pydisco package this task runs (in a job home: the shipped copy).
_PYDISCO_DIR: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _node_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is the node's or the data's fault (ERROR, retried), not the user's.

    Memory errors are; an ``OSError`` is when pydisco raised it (reading the
    task's inputs, writing its outputs). An ``OSError`` raised in the user's
    own code (opening a side file that is not there) fails the same way on
    every retry, so it is the user's failure and FATAL, like any other bug.
    """
    if isinstance(exc, MemoryError):
        return True
    if not isinstance(exc, OSError):
        return False
    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    return os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_PYDISCO_DIR)


def _reduce_calls(
    function: Callable[..., Iterable[tuple[Any, Any]]],
    groups: Iterator[tuple[Any, Iterator[Any]]],
    extra: tuple[Any, ...],
    readers: list[RecordFormat],
    where: _Where,
) -> Iterator[Iterable[tuple[Any, Any]]]:
    """The reduce function's output for each group, :attr:`_Where.key` naming its key.

    The sink takes the outputs one after another (one ``emit_all`` for the
    task, not one per key), so each is used up before the next group is taken.
    """
    first = next(groups, None)
    if first is None:
        return
    # Every input was read (and sorted) before the first group.
    repeated = any(getattr(reader, "repeated", False) for reader in readers)
    for key, values in chain((first,), groups):
        where.key = key
        yield function(key, _expand(values) if repeated else values, *extra)


def _run(job: Job, stage: Stage, task: TaskLike, spec: RunSpec, where: _Where) -> int:
    first = job.stages[0].name == stage.name
    fmt = get_format(job.records)
    out = Emitter(task, fmt, stage.partitions, task.info.group_label)
    extra = (spec.params,) if stage.takes_params() else ()
    sink: Emitter | Combiner = out
    if stage.combine is not None:
        combine_extra = (spec.params,) if stage.combine_takes_params() else ()
        sink = Combiner(stage.combine, combine_extra, out, job.combine_memory)
    elif stage.kind == "map" and stage is not job.stages[-1]:
        sink = RepeatCounter(out, job.combine_memory)
    function = stage.function
    if stage.kind == "map":
        records = _records(task, spec, first, job, where)
        calls = map(function, records, *(repeat(e) for e in extra))
        # One emit_all over the flattened pairs: no Python-level call per record.
        sink.emit_all(chain.from_iterable(calls))
    elif stage.kind == "task":
        sink.emit_all(function(_records(task, spec, first, job, where), *extra))
    else:
        tmpdir = spec.tmpdir
        if tmpdir is not None:
            os.makedirs(tmpdir, exist_ok=True)
        readers: list[RecordFormat] = []
        groups = sorted_block_groups(
            _keyed_blocks(task, spec, first, job, where, readers=readers),
            fmt.decode_key,
            memory=job.sort_memory,
            tmpdir=tmpdir,
        )
        sink.emit_all(chain.from_iterable(_reduce_calls(function, groups, extra, readers, where)))
        where.key = ...
    if isinstance(sink, Combiner):
        sink.flush()
    out.close()
    return out.count
