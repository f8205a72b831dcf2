"""Job inputs: local files, URLs, raw data and other jobs' results, as :class:`Source`.

:func:`as_sources` accepts, for each input:

- a path (``str`` without ``://``, or ``os.PathLike``) or ``file://`` URL:
  a local file, split into line-aligned chunks when it is large;
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

__all__ = ["Source", "as_sources", "line_chunks"]

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


def _one(value: Any, fmt: str) -> Iterator[Source]:
    if isinstance(value, Source):
        yield value
    elif _is_results(value):
        yield from value.sources
    elif isinstance(value, (bytes, bytearray, memoryview)):
        yield Source.raw(bytes(value), fmt)
    elif isinstance(value, os.PathLike):
        yield Source.file(value, fmt)
    elif isinstance(value, str):
        if split_url(value)[0] == "file":
            yield Source.file(file_path(value), fmt)
        elif value.startswith("raw://"):
            yield Source((value,), fmt, data=value[len("raw://") :].encode())
        elif "://" in value:
            yield Source((value,), fmt)
        else:
            yield Source.file(value, fmt)
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


def line_chunks(path: str, chunk_size: int) -> list[tuple[int, int]]:
    """``(start, end)`` byte ranges of ``path``, ending at line ends, as even as lines allow.

    A file of ``size`` bytes gives ``ceil(size / chunk_size)`` ranges of about
    ``size / n`` bytes each (not full chunks and a small rest), so its map
    tasks take about the same time.
    """
    size = os.path.getsize(path)
    if size <= chunk_size:
        return [(0, size)]
    count = -(-size // chunk_size)
    step = -(-size // count)
    ranges = []
    start = 0
    with open(path, "rb") as handle:
        while start < size:
            target = start + step
            if target >= size:
                ranges.append((start, size))
                break
            handle.seek(target)
            end = size
            while True:
                block = handle.read(_SCAN)
                if not block:
                    break
                newline = block.find(b"\n")
                if newline >= 0:
                    end = handle.tell() - len(block) + newline + 1
                    break
            ranges.append((start, end))
            start = end
    return ranges


def split_source(source: Source, chunk_size: int) -> list[Source]:
    """A whole local text file as several sources, one per line-aligned chunk."""
    if source.path is None or source.start or source.end is not None or source.format != "lines":
        return [source]
    pieces = line_chunks(source.path, chunk_size)
    if len(pieces) == 1:
        return [source]
    return [attrs.evolve(source, start=start, end=end) for start, end in pieces]


_READ: Final = 1 << 20


def _read_file(path: str, start: int, end: int | None) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        if start:
            handle.seek(start)
        left = None if end is None else end - start
        while left is None or left > 0:
            block = handle.read(_READ if left is None else min(_READ, left))
            if not block:
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
        yield from _read_file(source.path, source.start, source.end)
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
