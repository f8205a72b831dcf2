"""Reading a finished job's results as data.

A job's results are entries, one per output of its last stage; each entry is
a list of replica URLs of the same data (facts §12.5). This module turns them
into bytes:

- ``dir://host/path`` is an index (facts §5.2) fetched from
  ``http://host:<port>/path``; each of its ``label url size`` lines is a data
  file, kept when its label is among the wanted ones;
- ``disco://host/path`` is read from ``http://host:<port>/path``;
- ``http://`` and ``https://`` are read as they are, ``file://`` (or a bare
  path) from the local disk, and ``raw://<data>`` *is* the data;
- a URL ending ``.gz`` is gunzipped on the fly.

``<port>`` is the master URL's port: Disco nodes serve data on ``DISCO_PORT``,
and the reference master serves its data on its own port. Replicas are tried
in order; when one fails, the next one takes over, skipping the bytes already
delivered. Memory use does not grow with the size of the data.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from urllib.parse import unquote, urlsplit

import httpx

from pydisco.client.errors import HTTPStatusError, ResultsError

__all__ = ["AsyncResultReader", "ResultReader", "data_url", "parse_index"]

CHUNK = 1 << 16


def data_url(url: str, port: int) -> str:
    """``disco://`` and ``dir://`` URLs as the ``http://`` URL that serves them."""
    parts = urlsplit(url)
    if parts.scheme in ("disco", "dir"):
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 address: urlsplit drops its brackets
            host = f"[{host}]"
        netloc = f"{host}:{parts.port or port}"
        return f"http://{netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return url


def parse_index(text: str, source: str) -> list[tuple[int, str, int]]:
    """The ``(label, url, size)`` lines of a results index."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 3 or not fields[0].lstrip("-").isdigit() or not fields[2].isdigit():
            raise ResultsError(
                f"Line {number} of the results index {source} is not 'label url size': "
                f"{line!r}. The index is damaged; re-run the job.",
                url=source,
            )
        entries.append((int(fields[0]), fields[1], int(fields[2])))
    return entries


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


def _select(index: bytes, url: str, wanted: set[int] | None, port: int) -> list[list[str]]:
    entries = parse_index(index.decode("utf-8", "replace"), url)
    return [[data_url(u, port)] for label, u, _ in entries if wanted is None or label in wanted]


def _source(url: str, port: int) -> tuple[str, str]:
    """How to read ``url``: ``("raw", data)``, ``("http", url)`` or ``("file", path)``."""
    parts = urlsplit(url)
    if parts.scheme == "raw":
        return "raw", url[len("raw://") :]
    if parts.scheme in ("http", "https", "disco", "dir"):
        return "http", data_url(url, port)
    if parts.scheme in ("file", ""):
        return "file", unquote(parts.path) if parts.scheme == "file" else url
    raise ResultsError(
        f"Cannot read the result URL {url}: the scheme {parts.scheme!r} is not supported "
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
        self.gzip = urlsplit(url).path.endswith(".gz")
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

    def deref(
        self, entries: Iterable[Sequence[str]], labels: Sequence[int] | None = None
    ) -> Iterator[list[str]]:
        """Each data file as its replica URLs (``http://`` for ``disco://``), in order."""
        wanted = None if labels is None else set(labels)
        for entry in entries:
            kind, urls = _plan(entry, self.data_port)
            if kind == "data":
                yield urls
            elif kind == "dir":
                yield from self._read_index(urls, wanted)

    def _read_index(self, replicas: Sequence[str], wanted: set[int] | None) -> list[list[str]]:
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

    async def deref(
        self, entries: Iterable[Sequence[str]], labels: Sequence[int] | None = None
    ) -> list[list[str]]:
        """Each data file as its replica URLs, in order (indexes are read now)."""
        wanted = None if labels is None else set(labels)
        out: list[list[str]] = []
        for entry in entries:
            kind, urls = _plan(entry, self.data_port)
            if kind == "data":
                out.append(urls)
            elif kind == "dir":
                out.extend(await self._read_index(urls, wanted))
        return out

    async def _read_index(
        self, replicas: Sequence[str], wanted: set[int] | None
    ) -> list[list[str]]:
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
        elif kind == "file":
            with open(where, "rb") as fileobj:
                while chunk := fileobj.read(CHUNK):
                    yield chunk
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
