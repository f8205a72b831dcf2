"""Reading a finished job's results as data.

A job's results are entries, one per output of its last stage; each entry is
a list of replica URLs of the same data (facts §12.5). This module turns them
into bytes:

- ``dir://host/path`` is a results index (:mod:`pydisco.resultsindex`)
  fetched from ``http://host:<port>/path``; each of its lines is a data file,
  kept when its label is among the wanted ones;
- ``disco://host/path`` is read from ``http://host:<port>/path``;
- ``http://`` and ``https://`` are read as they are, ``file://`` (or a bare
  path) from the local disk (the path verbatim, as :mod:`pydisco.dataurls`
  says), and ``raw://<data>`` *is* the data;
- a URL ending ``.gz`` is gunzipped on the fly.

``<port>`` is the master URL's port: Disco nodes serve data on ``DISCO_PORT``,
and the reference master serves its data on its own port. Replicas are tried
in order; when one fails, the next one takes over, skipping the bytes already
delivered. Memory use does not grow with the size of the data.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import NamedTuple, ParamSpec, TypeVar

import httpx

from pydisco.client.errors import HTTPStatusError, ResultsError
from pydisco.dataurls import UnsafeURL, file_path, is_gzip, node_http_url, split_url
from pydisco.resultsindex import IndexLineError, parse_index

__all__ = ["AsyncResultReader", "ResultFile", "ResultReader", "data_url", "parse_index"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


async def in_thread(func: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """``asyncio.to_thread``, with asyncio imported only by asynchronous clients that run."""
    import asyncio

    return await asyncio.to_thread(func, *args, **kwargs)


async def sleep(seconds: float) -> None:
    """``asyncio.sleep`` (asyncio imported on first use: blocking drivers never need it)."""
    import asyncio

    await asyncio.sleep(seconds)


CHUNK = 1 << 16


def data_url(url: str, port: int) -> str:
    """``disco://`` and ``dir://`` URLs as the ``http://`` URL that serves them.

    :mod:`pydisco.dataurls` holds the rule; a ``..`` path segment is a
    :class:`ResultsError` here.
    """
    try:
        return node_http_url(url, port)
    except UnsafeURL as exc:
        raise ResultsError(str(exc), url=url) from None


def _replicas(entry: Sequence[str] | str) -> list[str]:
    return [entry] if isinstance(entry, str) else list(entry)


def _plan(entry: Sequence[str] | str, port: int) -> tuple[str, list[str]]:
    """``("dir", index replicas)``, ``("data", data URLs)`` or ``("skip", [])`` for an entry."""
    replicas = _replicas(entry)
    if not replicas:
        return "skip", []
    if all(url.startswith("dir://") for url in replicas):
        return "dir", replicas
    if any(url.startswith("tag://") for url in replicas):
        raise ResultsError(
            f"The result {replicas[0]} is a DDFS tag (save_results); pydisco cannot "
            "read DDFS. Read it with Disco's own 'ddfs' tool.",
            url=replicas[0],
        )
    return "data", [data_url(url, port) for url in replicas]


class ResultFile(NamedTuple):
    """One data file of a job's results: its label (None when no index gave one) and replicas.

    The replicas are the URLs to read (``http://`` for ``disco://``), in order.
    """

    label: int | None
    urls: list[str]


def _select(index: bytes, url: str, wanted: set[int] | None, port: int) -> list[ResultFile]:
    try:
        entries = parse_index(index, url)
    except IndexLineError as exc:
        raise ResultsError(f"{exc} The index is damaged; re-run the job.", url=url) from None
    return [
        ResultFile(entry.label, [data_url(entry.url, port)])
        for entry in entries
        if wanted is None or entry.label in wanted
    ]


def _source(url: str, port: int) -> tuple[str, str]:
    """How to read ``url``: ``("raw", data)``, ``("http", url)`` or ``("file", path)``."""
    scheme = split_url(url)[0]
    if scheme == "raw":
        return "raw", url[len("raw://") :]
    if scheme in ("http", "https", "disco", "dir"):
        return "http", data_url(url, port)
    if scheme in ("file", ""):
        return "file", file_path(url)
    raise ResultsError(
        f"Cannot read the result URL {url}: the scheme {scheme!r} is not supported "
        "(use http, https, disco, dir, file or raw).",
        url=url,
    )


#: What a failing replica may raise; the next replica is then tried.
_REPLICA_ERRORS = (ResultsError, HTTPStatusError, httpx.HTTPError, OSError, zlib.error)


class _Decoder:
    """Turns one replica's raw bytes into data: gunzip for ``.gz``, then skip ``skip`` bytes."""

    def __init__(self, url: str, skip: int) -> None:
        self.url = url
        self.skip = skip
        self.gzip = is_gzip(url)
        self._zlib = zlib.decompressobj(wbits=31)
        self._member_open = False  # a gzip member has started and not ended

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """The data in ``raw``, in pieces of at most :data:`CHUNK` decompressed bytes."""
        for chunk in self._gunzip(raw) if self.gzip else (raw,):
            if self.skip >= len(chunk):
                self.skip -= len(chunk)
                continue
            yield chunk[self.skip :]
            self.skip = 0

    def finish(self) -> None:
        if self._member_open:
            raise ResultsError(f"{self.url} ends in the middle of its gzip data.", url=self.url)

    def _gunzip(self, raw: bytes) -> Iterator[bytes]:
        # Concatenated gzip members are one stream, as gzip(1) reads them. Output is
        # bounded per step, so a highly compressed input does not fill memory.
        data = raw
        while data:
            self._member_open = True
            out = self._zlib.decompress(data, CHUNK)
            while out:
                yield out
                out = self._zlib.decompress(self._zlib.unconsumed_tail, CHUNK)
            if self._zlib.eof:
                data = self._zlib.unused_data
                self._zlib = zlib.decompressobj(wbits=31)
                self._member_open = False
            else:
                data = b""


class ResultReader:
    """Reads result entries over a shared blocking ``httpx`` client."""

    def __init__(self, http: httpx.Client, *, data_port: int) -> None:
        self.http = http
        self.data_port = data_port

    def files(
        self, entries: Iterable[Sequence[str]], labels: Sequence[int] | None = None
    ) -> Iterator[ResultFile]:
        """Each data file with its label, in order; indexes are read, every replica tried."""
        wanted = None if labels is None else set(labels)
        for entry in entries:
            kind, urls = _plan(entry, self.data_port)
            if kind == "data":
                yield ResultFile(None, urls)
            elif kind == "dir":
                yield from self._read_index(urls, wanted)

    def deref(
        self, entries: Iterable[Sequence[str]], labels: Sequence[int] | None = None
    ) -> Iterator[list[str]]:
        """Each data file as its replica URLs (``http://`` for ``disco://``), in order."""
        for file in self.files(entries, labels):
            yield file.urls

    def _read_index(self, replicas: Sequence[str], wanted: set[int] | None) -> list[ResultFile]:
        failures: list[str] = []
        for url in replicas:
            try:
                data = b"".join(self._stream(url, 0))
            except _REPLICA_ERRORS as exc:
                failures.append(f"{url}: {exc}")
                continue
            return _select(data, url, wanted, self.data_port)
        raise _all_failed("results index", replicas, failures)

    def iter_chunks(
        self, entries: Iterable[Sequence[str]], labels: Sequence[int] | None = None
    ) -> Iterator[bytes]:
        """All result data, file after file, as byte chunks."""
        for replicas in self.deref(entries, labels):
            yield from self.read(replicas)

    def iter_lines(
        self, entries: Iterable[Sequence[str]], labels: Sequence[int] | None = None
    ) -> Iterator[bytes]:
        """All result data as lines (each keeps its ``\\n``); files are not joined."""
        for replicas in self.deref(entries, labels):
            yield from _lines(self.read(replicas))

    def read(self, replicas: Sequence[str]) -> Iterator[bytes]:
        """One data file's bytes (decompressed), from the first replica that works."""
        delivered = 0
        failures: list[str] = []
        for url in replicas:
            try:
                for chunk in self._stream(url, delivered):
                    delivered += len(chunk)
                    yield chunk
                return
            except _REPLICA_ERRORS as exc:
                failures.append(f"{url}: {exc}")
        raise _all_failed("result", replicas, failures)

    def _stream(self, url: str, skip: int) -> Iterator[bytes]:
        decoder = _Decoder(url, skip)
        for raw in self._raw(url):
            yield from decoder.feed(raw)
        decoder.finish()

    def _raw(self, url: str) -> Iterator[bytes]:
        kind, where = _source(url, self.data_port)
        if kind == "raw":
            yield where.encode("utf-8")
        elif kind == "file":
            with open(where, "rb") as fileobj:
                while chunk := fileobj.read(CHUNK):
                    yield chunk
        else:
            with self.http.stream("GET", where) as response:
                if not response.is_success:
                    body = response.read().decode("utf-8", "replace")
                    raise HTTPStatusError(where, response.status_code, body)
                yield from response.iter_bytes(CHUNK)


class AsyncResultReader:
    """The asynchronous twin of :class:`ResultReader` (same rules, ``httpx.AsyncClient``)."""

    def __init__(self, http: httpx.AsyncClient, *, data_port: int) -> None:
        self.http = http
        self.data_port = data_port

    async def files(
        self, entries: Iterable[Sequence[str]], labels: Sequence[int] | None = None
    ) -> list[ResultFile]:
        """Each data file with its label, in order; indexes are read now, every replica tried."""
        wanted = None if labels is None else set(labels)
        out: list[ResultFile] = []
        for entry in entries:
            kind, urls = _plan(entry, self.data_port)
            if kind == "data":
                out.append(ResultFile(None, urls))
            elif kind == "dir":
                out.extend(await self._read_index(urls, wanted))
        return out

    async def deref(
        self, entries: Iterable[Sequence[str]], labels: Sequence[int] | None = None
    ) -> list[list[str]]:
        """Each data file as its replica URLs, in order (indexes are read now)."""
        return [file.urls for file in await self.files(entries, labels)]

    async def _read_index(
        self, replicas: Sequence[str], wanted: set[int] | None
    ) -> list[ResultFile]:
        failures: list[str] = []
        for url in replicas:
            try:
                data = b"".join([chunk async for chunk in self._stream(url, 0)])
            except _REPLICA_ERRORS as exc:
                failures.append(f"{url}: {exc}")
                continue
            return _select(data, url, wanted, self.data_port)
        raise _all_failed("results index", replicas, failures)

    async def iter_chunks(
        self, entries: Iterable[Sequence[str]], labels: Sequence[int] | None = None
    ) -> AsyncIterator[bytes]:
        """All result data, file after file, as byte chunks."""
        for replicas in await self.deref(entries, labels):
            async for chunk in self.read(replicas):
                yield chunk

    async def iter_lines(
        self, entries: Iterable[Sequence[str]], labels: Sequence[int] | None = None
    ) -> AsyncIterator[bytes]:
        """All result data as lines (each keeps its ``\\n``); files are not joined."""
        for replicas in await self.deref(entries, labels):
            splitter = _LineSplitter()
            async for chunk in self.read(replicas):
                for line in splitter.feed(chunk):
                    yield line
            for line in splitter.finish():
                yield line

    async def read(self, replicas: Sequence[str]) -> AsyncIterator[bytes]:
        """One data file's bytes (decompressed), from the first replica that works."""
        delivered = 0
        failures: list[str] = []
        for url in replicas:
            try:
                async for chunk in self._stream(url, delivered):
                    delivered += len(chunk)
                    yield chunk
                return
            except _REPLICA_ERRORS as exc:
                failures.append(f"{url}: {exc}")
        raise _all_failed("result", replicas, failures)

    async def _stream(self, url: str, skip: int) -> AsyncIterator[bytes]:
        decoder = _Decoder(url, skip)
        async for raw in self._raw(url):
            for chunk in decoder.feed(raw):
                yield chunk
        decoder.finish()

    async def _raw(self, url: str) -> AsyncIterator[bytes]:
        kind, where = _source(url, self.data_port)
        if kind == "raw":
            yield where.encode("utf-8")
        elif kind == "file":  # read off the event loop
            fileobj = await in_thread(open, where, "rb")
            try:
                while chunk := await in_thread(fileobj.read, CHUNK):
                    yield chunk
            finally:
                await in_thread(fileobj.close)
        else:
            async with self.http.stream("GET", where) as response:
                if not response.is_success:
                    body = (await response.aread()).decode("utf-8", "replace")
                    raise HTTPStatusError(where, response.status_code, body)
                async for chunk in response.aiter_bytes(CHUNK):
                    yield chunk


class _LineSplitter:
    def __init__(self) -> None:
        self.pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        *complete, self.pending = (self.pending + chunk).split(b"\n")
        return [line + b"\n" for line in complete]

    def finish(self) -> list[bytes]:
        return [self.pending] if self.pending else []


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    splitter = _LineSplitter()
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.finish()


def _all_failed(what: str, replicas: Sequence[str], failures: Sequence[str]) -> ResultsError:
    detail = "; ".join(failures)
    return ResultsError(
        f"Could not read the {what} from any of its {len(replicas)} replica(s): {detail}. "
        "Check that the nodes holding the data are up.",
        url=replicas[0] if replicas else "",
        attempts=failures,
    )
