"""Job inputs: local files, URLs, raw data and other jobs' results, as :class:`Source`.

:func:`as_sources` accepts, for each input:

- a path (``str`` without ``://``, or ``os.PathLike``) or ``file://`` URL:
  a local file, cut into line-aligned byte ranges by :func:`plan_map_tasks`;
- any other URL (``http://``, ``https://``, ``raw://``, ``disco://``, ...);
- ``bytes``: raw data;
- a list or tuple of URLs: replicas of the same data;
- a :class:`~pydisco.job.results.Results`: another job's results (chaining);
- a :class:`Source`, for an explicit format or label.

A source's ``format`` says how its bytes are decoded (``lines`` for text,
``json``/``pickle`` for pydisco records, ``disco`` for classic Disco output).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any, Final

import attrs

from pydisco.dataurls import file_path, file_url, split_url
from pydisco.job.errors import MissingInput

__all__ = [
    "Source",
    "as_sources",
    "default_map_tasks",
    "line_chunks",
    "line_ranges",
    "plan_map_tasks",
    "range_url",
    "read_file_range",
    "splittable",
]

_SCAN: Final = 64 * 1024


def _urls(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Source:
    """One job input: replica URLs (or a local file range), its format and label."""

    urls: tuple[str, ...] = attrs.field(converter=_urls)
    format: str = "lines"
    label: int = 0
    #: A local file this input reads, from ``start`` to ``end`` (``None``: to EOF).
    path: str | None = None
    start: int = 0
    end: int | None = None
    #: Literal data (raw input), when there is no URL to read.
    data: bytes | None = None

    @classmethod
    def file(cls, path: str | os.PathLike[str], fmt: str = "lines") -> Source:
        """A whole local file."""
        full = os.path.abspath(os.fspath(path))
        return cls((file_url(full),), fmt, path=full)

    @classmethod
    def raw(cls, data: bytes | str, fmt: str = "lines") -> Source:
        """Literal data."""
        blob = data.encode() if isinstance(data, str) else bytes(data)
        return cls((), fmt, data=blob)

    def describe(self) -> str:
        """How the input is named in messages."""
        if self.path is not None:
            if self.start or self.end is not None:
                return f"{self.path}[{self.start}:{'' if self.end is None else self.end}]"
            return self.path
        if self.data is not None:
            return f"raw data ({len(self.data)} bytes)"
        return self.urls[0] if self.urls else "(no replica)"


def _is_results(value: Any) -> bool:
    return hasattr(value, "sources") and hasattr(value, "format") and hasattr(value, "job_name")


def _existing_file(given: str, path: str, fmt: str) -> Source:
    """A local file input; :class:`MissingInput` at once when there is none."""
    if not os.path.exists(path):
        raise MissingInput(given, os.path.abspath(path), relative=not os.path.isabs(path))
    return Source.file(path, fmt)


def _one(value: Any, fmt: str) -> Iterator[Source]:
    if isinstance(value, Source):
        yield value
    elif _is_results(value):
        yield from value.sources
    elif isinstance(value, (bytes, bytearray, memoryview)):
        yield Source.raw(bytes(value), fmt)
    elif isinstance(value, os.PathLike):
        yield _existing_file(os.fspath(value), os.fspath(value), fmt)
    elif isinstance(value, str):
        if split_url(value)[0] == "file":
            yield _existing_file(value, file_path(value), fmt)
        elif value.startswith("raw://"):
            yield Source((value,), fmt, data=value[len("raw://") :].encode())
        elif "://" in value:
            yield Source((value,), fmt)
        else:
            yield _existing_file(value, value, fmt)
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        yield Source(tuple(value), fmt)
    else:
        raise TypeError(
            f"{value!r} is not a job input: give a path, a URL, bytes, a list of replica URLs, "
            "a Source or another job's results."
        )


def as_sources(inputs: Iterable[Any] | Any, fmt: str = "lines") -> list[Source]:
    """The :class:`Source` of each input (a single path, URL or results is one input)."""
    if isinstance(inputs, (str, bytes, os.PathLike, Source)) or _is_results(inputs):
        inputs = [inputs]
    sources: list[Source] = []
    for value in inputs:
        sources.extend(_one(value, fmt))
    return sources


#: Default map-task planning (docs/jobs.md, "How local files become map tasks").
#: Map tasks per slot once the input pays for them: a task that ends early leaves its
#: slot to the other, so unequal tasks (or a busy core) idle a slot for at most half a task.
TASKS_PER_SLOT: Final = 2
#: The least input a map task gets by default: a task costs about 0.09 s of CPU (worker
#: start, partial aggregates), counting 16 MiB of words about 0.8 s (bench/README.md).
MIN_TASK_BYTES: Final = 16 * 1024 * 1024
#: The most input a map task gets by default (more tasks, in multiples of the slots, past it):
#: a failed task is retried whole, and the master's progress advances task by task.
MAX_TASK_BYTES: Final = 256 * 1024 * 1024


def default_map_tasks(total: int, slots: int) -> int:
    """How many map tasks ``total`` bytes of local text become on ``slots`` slots by default.

    A multiple of ``slots`` once every slot can get :data:`MIN_TASK_BYTES`:
    ``TASKS_PER_SLOT`` per slot once each of those tasks can, more once
    tasks would exceed :data:`MAX_TASK_BYTES`. Less input gives one task per
    :data:`MIN_TASK_BYTES` (at least one).
    """
    slots = max(1, slots)
    if total <= MIN_TASK_BYTES:
        return 1
    if total < slots * MIN_TASK_BYTES:
        return -(-total // MIN_TASK_BYTES)
    per_slot = TASKS_PER_SLOT if total >= TASKS_PER_SLOT * slots * MIN_TASK_BYTES else 1
    per_slot = max(per_slot, -(-total // (slots * MAX_TASK_BYTES)))
    return slots * per_slot


def splittable(source: Source) -> bool:
    """Whether ``source`` is a whole local text file that map tasks may share by byte ranges."""
    return (
        source.path is not None
        and not source.start
        and source.end is None
        and source.format == "lines"
        and not source.path.endswith(".gz")
    )


def plan_map_tasks(
    sources: list[Source],
    *,
    slots: int,
    chunk_size: int | None = None,
    map_tasks: int | None = None,
) -> list[Source]:
    """``sources`` with each whole local text file cut into line-aligned ranges (one task each).

    ``chunk_size`` cuts every such file into ``ceil(size / chunk_size)``
    ranges; otherwise the files are cut into ``map_tasks`` ranges in all
    (default :func:`default_map_tasks` of their total size on ``slots``),
    each file into a share proportional to its size (at least one). Other
    inputs (URLs, raw data, results, ranges) stay one task each.
    """
    sizes = {id(s): os.path.getsize(s.path) for s in sources if splittable(s) and s.path}
    if not sizes:
        return list(sources)
    total = sum(sizes.values())
    tasks = map_tasks if map_tasks is not None else default_map_tasks(total, slots)
    per_task = max(1.0, total / tasks)
    planned: list[Source] = []
    for source in sources:
        size = sizes.get(id(source))
        if size is None or source.path is None:
            planned.append(source)
            continue
        count = -(-size // chunk_size) if chunk_size else max(1, round(size / per_task))
        ranges = line_ranges(source.path, count)
        if len(ranges) == 1:
            planned.append(source)
        else:
            planned.extend(attrs.evolve(source, start=start, end=end) for start, end in ranges)
    return planned


def line_ranges(path: str, count: int) -> list[tuple[int, int]]:
    """``count`` (or fewer) ``(start, end)`` byte ranges of ``path``, ending at line ends.

    The ranges are about ``size / count`` bytes each, so the tasks take
    about the same time; a range extends to the end of the line it would
    cut, so a line longer than a range makes fewer ranges. Finding them
    reads one block per range, not the file.
    """
    size = os.path.getsize(path)
    if count <= 1 or size == 0:
        return [(0, size)]
    ranges = []
    start = 0
    with open(path, "rb") as handle:
        for k in range(1, count):
            target = k * size // count  # cut points fixed in advance: no error builds up
            if target <= start:
                continue  # inside the long line the last range ended with
            handle.seek(target - 1)  # a cut that already falls on a line end stays
            end = size
            while block := handle.read(_SCAN):
                newline = block.find(b"\n")
                if newline >= 0:
                    end = handle.tell() - len(block) + newline + 1
                    break
            if end >= size:
                break
            ranges.append((start, end))
            start = end
    ranges.append((start, size))
    return ranges


def line_chunks(path: str, chunk_size: int) -> list[tuple[int, int]]:
    """:func:`line_ranges` of ``path`` in ``ceil(size / chunk_size)`` ranges."""
    return line_ranges(path, -(-os.path.getsize(path) // chunk_size))


#: Bytes read at a time from a local file, a response or a gzip stream. A map task
#: splitting its text 256 KiB at a time counted 25 MiB 6 % faster than 1 MiB at a time
#: (bench/README.md, "Word count"): the block, its text and its lines stay in the cache.
_READ: Final = 256 * 1024


def range_url(path: str, start: int, end: int) -> str:
    """The URL naming bytes ``start`` to ``end`` of local ``path`` in a pydisco job's inputs.

    Only pydisco's own job layer reads it, through the job data's
    ``input_ranges`` (the URL is a name, never parsed back); a Disco worker
    would take it for a file called ``path#bytes=...``.
    """
    return f"file://{path}#bytes={start}-{end}"


def read_file_range(
    path: str, start: int, end: int | None, size: int | None = None
) -> Iterator[bytes]:
    """The bytes of local ``path`` from ``start`` to ``end`` (``None``: to its end), in blocks.

    ``size`` is the file's size when its ranges were planned; a file of
    another size, or one that ends before ``end``, raises :class:`InputChanged`.
    """
    from pydisco.job.errors import InputChanged

    with open(path, "rb") as handle:
        if size is not None and os.fstat(handle.fileno()).st_size != size:
            raise InputChanged(
                f"The input file {path} is now {os.fstat(handle.fileno()).st_size} bytes, "
                f"{size} when the job cut it into map tasks; run the job again."
            )
        if start:
            handle.seek(start)
        left = None if end is None else end - start
        while left is None or left > 0:
            block = handle.read(_READ if left is None else min(_READ, left))
            if not block:
                if left is not None:
                    raise InputChanged(
                        f"The input file {path} ends before byte {end} of its map task's range "
                        f"{start}-{end}; it changed after the job was planned."
                    )
                return
            if left is not None:
                left -= len(block)
            yield block


def _read_url(url: str) -> Iterator[bytes]:
    import urllib.request

    if url.endswith(".gz"):
        import gzip

        with (
            urllib.request.urlopen(url, timeout=300) as response,
            gzip.GzipFile(fileobj=response) as unzipped,
        ):
            while block := unzipped.read(_READ):
                yield block
        return
    with urllib.request.urlopen(url, timeout=300) as response:
        while block := response.read(_READ):
            yield block


def read_source(source: Source) -> Iterator[bytes]:
    """The bytes of ``source`` in this process: a local file range, raw data, or HTTP(S)."""
    if source.data is not None:
        if source.data:
            yield source.data
        return
    if source.path is not None:
        if source.path.endswith(".gz") and not source.start and source.end is None:
            import gzip

            with gzip.open(source.path, "rb") as unzipped:
                while block := unzipped.read(_READ):
                    yield block
            return
        yield from read_file_range(source.path, source.start, source.end)
        return
    failures = []
    for url in source.urls:
        if url.startswith(("http://", "https://")):
            try:
                yield from _read_url(url)
                return
            except OSError as exc:
                failures.append(f"{url}: {exc}")
                continue
        failures.append(f"{url}: only file, raw and http(s) inputs can be read in this process")
    raise OSError(f"No replica of {source.describe()} could be read: {'; '.join(failures)}")
