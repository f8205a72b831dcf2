"""Clients for DDFS, the Disco Distributed File System, blocking and asynchronous.

::

    from pydisco.client import DDFS

    with DDFS("http://127.0.0.1:8989") as ddfs:
        ddfs.chunk("data:book", "book.txt")            # line-aligned blobs in one tag
        for replicas in ddfs.blobs("data:book"):
            print(b"".join(ddfs.cat(replicas)))

They speak Disco 0.5.4's DDFS API (``/ddfs/...`` on the master's port, blob
uploads on the upload port), so they work against pydisco's master and a real
Disco master alike. Tags are named bare (``data:book``) or as ``tag://`` URLs,
which may carry a token (``tag://user:TOKEN@/data:book``). Requests run through
:meth:`pydisco.client.Master.execute` (retries, timeouts, errors).
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import IO, Any, Final, TypeVar

import httpx

from pydisco.client import _ddfs_api as api
from pydisco.client._api import Call, Upload
from pydisco.client._ddfs_api import (
    DdfsRequestError,
    InvalidTag,
    TagInfo,
    TagRef,
    tag_ref,
)
from pydisco.client.config import ClientConfig
from pydisco.client.errors import ClientError, HTTPStatusError
from pydisco.client.master import AsyncMaster, Master
from pydisco.client.results import AsyncResultReader, ResultReader, data_url
from pydisco.ddfsnames import blob_name, oob_tag, safe_name

__all__ = [
    "DDFS",
    "AsyncDDFS",
    "DdfsRequestError",
    "InvalidTag",
    "PushSource",
    "TagInfo",
    "TagRef",
    "tag_ref",
]

T = TypeVar("T")

#: A file to push: a path (its base name becomes the blob name), or ``(source, name)``
#: where ``source`` is a path, bytes or a seekable binary file.
PushSource = str | os.PathLike[str] | tuple[str | os.PathLike[str] | bytes | IO[bytes], str]

#: The default size of the blobs ``chunk`` makes (Disco's 64 MiB).
CHUNK_SIZE: Final = 64 << 20


#: Type aliases the classes use (their ``list`` method hides the builtin there).
Strings = list[str]
Sets = list[list[str]]


def _ref(tag: str | TagRef) -> TagRef:
    return tag if isinstance(tag, TagRef) else tag_ref(tag)


def _open_source(source: PushSource) -> tuple[IO[bytes], str, bool]:
    """A binary file for ``source``, the blob name, and whether the caller must close it."""
    if isinstance(source, tuple):
        data, name = source
    else:
        data, name = source, os.path.basename(os.fspath(source))
    name = safe_name(name)
    if isinstance(data, (bytes, bytearray)):
        return io.BytesIO(bytes(data)), name, True
    if isinstance(data, (str, os.PathLike)):
        return open(data, "rb"), name, True
    return data, name, False


class DDFS:
    """A blocking DDFS client for the master at ``url`` (default: ``DISCO_MASTER``)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        config: ClientConfig | None = None,
        transport: httpx.BaseTransport | None = None,
        **policy: float,
    ) -> None:
        self.master = Master(url, token=None, config=config, transport=transport, **policy)

    def __enter__(self) -> DDFS:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.master.close()

    @property
    def url(self) -> str:
        return self.master.url

    def execute(self, call: Call[T]) -> T:
        """Run one call; a refusal is a :class:`DdfsRequestError`."""
        try:
            return self.master.execute(call)
        except HTTPStatusError as exc:
            raise DdfsRequestError(exc.url, exc.status, exc.body) from None

    # -- tags ----------------------------------------------------------------------------------

    def list(self, prefix: str = "") -> Strings:
        """Every tag name starting with ``prefix``, sorted."""
        return self.execute(api.list_tags(prefix))

    def get(self, tag: str | TagRef, token: str | None = None) -> TagInfo:
        """The tag (404 → :class:`~pydisco.client.HTTPStatusError` with ``status`` 404)."""
        ref = _ref(tag)
        return self.execute(api.get(ref, api.choose_token(ref, token, False)))

    def urls(self, tag: str | TagRef, token: str | None = None) -> Sets:
        """The tag's replica sets, newest first."""
        return [[*s] for s in self.get(tag, token).urls]

    def attrs(self, tag: str | TagRef, token: str | None = None) -> dict[str, str]:
        """The tag's user attributes."""
        return dict(self.get(tag, token).user_data)

    def getattr(self, tag: str | TagRef, attr: str, token: str | None = None) -> Any:
        ref = _ref(tag)
        return self.execute(api.getattr_(ref, attr, api.choose_token(ref, token, False)))

    def setattr(self, tag: str | TagRef, attr: str, value: Any, token: str | None = None) -> None:
        """Set an attribute (a string; ``ddfs:read-token``/``ddfs:write-token`` set tokens)."""
        ref = _ref(tag)
        self.execute(api.setattr_(ref, attr, value, api.choose_token(ref, token, True)))

    def delattr(self, tag: str | TagRef, attr: str, token: str | None = None) -> None:
        ref = _ref(tag)
        self.execute(api.delattr_(ref, attr, api.choose_token(ref, token, True)))

    def exists(self, tag: str | TagRef) -> bool:
        """Whether the tag exists (a token-protected one counts), as Disco's ``exists``."""
        try:
            return self.execute(api.exists(_ref(tag)))
        except HTTPStatusError as exc:
            if exc.status == 401:
                return True
            if exc.status in (403, 404):
                return False
            raise

    def delete(self, tag: str | TagRef, token: str | None = None) -> None:
        """Delete the tag (its blobs stay)."""
        ref = _ref(tag)
        self.execute(api.delete(ref, api.choose_token(ref, token, True)))

    def tag(
        self,
        tag: str | TagRef,
        urls: Sequence[Sequence[str]],
        *,
        update: bool = False,
        delayed: bool = False,
        token: str | None = None,
    ) -> Strings:
        """Add replica sets in front of the tag's (creating it); ``update``: only new keys."""
        ref = _ref(tag)
        token = api.choose_token(ref, token, True)
        return self.execute(api.tag(ref, urls, token, update=update, delayed=delayed))

    def put(
        self, tag: str | TagRef, urls: Sequence[Sequence[str]], token: str | None = None
    ) -> Strings:
        """Replace the tag's replica sets (creating it)."""
        ref = _ref(tag)
        return self.execute(api.put(ref, urls, api.choose_token(ref, token, True)))

    # -- blobs ---------------------------------------------------------------------------------

    def new_blob(
        self,
        prefix: str,
        replicas: int | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> Strings:
        """Upload URLs for a new blob named ``prefix$<timestamp>``."""
        return self.execute(api.new_blob(prefix, replicas, include, exclude))

    def upload(self, name: str, data: bytes | Upload, replicas: int | None = None) -> Strings:
        """Store one blob; its replica URLs (``disco://...``)."""
        return [self.execute(api.upload(url, data)) for url in self.new_blob(name, replicas)]

    def push(
        self,
        tag: str | TagRef,
        files: Iterable[PushSource],
        *,
        replicas: int | None = None,
        update: bool = False,
        delayed: bool = False,
        token: str | None = None,
    ) -> tuple[Strings, Sets]:
        """Upload each file as a blob, then add them to ``tag`` in one request.

        Returns the tag's version URLs and the blobs' replica sets, as Disco's ``push``.
        """
        sets = []
        for source in files:
            fileobj, name, close = _open_source(source)
            try:
                sets.append(self.upload(name, Upload.of(fileobj), replicas))
            finally:
                if close:
                    fileobj.close()
        return self.tag(tag, sets, update=update, delayed=delayed, token=token), sets

    def chunk(
        self,
        tag: str | TagRef,
        path: str | os.PathLike[str],
        *,
        chunk_size: int = CHUNK_SIZE,
        replicas: int | None = None,
        update: bool = False,
        delayed: bool = False,
        token: str | None = None,
    ) -> Sets:
        """Cut a local file into line-aligned blobs of about ``chunk_size`` bytes and add
        them to ``tag`` in order; returns the blobs' replica sets.

        Unlike Disco's ``chunk``, the blobs hold the file's own bytes (no record
        re-encoding), so a job reads them as lines.
        """
        base = safe_name(os.path.basename(os.fspath(path)))
        with open(path, "rb") as fileobj:
            pieces = api.line_pieces(fileobj, chunk_size)
            sets = [
                self.upload(f"{base}-{n}", Upload(fileobj, start, size), replicas)
                for n, (start, size) in enumerate(pieces)
            ]
        # A POST puts its sets first, in request order: the file's chunks in file order.
        self.tag(tag, sets, update=update, delayed=delayed, token=token)
        return sets

    def walk_blobs(
        self,
        tag: str | TagRef,
        *,
        ignore_missing: bool = True,
        token: str | None = None,
        require_first: bool = False,
    ) -> Iterator[Strings]:
        """Every blob set reachable from ``tag``, breadth first, each tag once (cycles are
        fine); the first tag's token (explicit or from its URL) is used for it only.
        Missing tags are skipped with ``ignore_missing``, but ``tag`` itself must exist
        with ``require_first``."""
        walk = api.TagWalk(
            _ref(tag), token, ignore_missing=ignore_missing, require_first=require_first
        )
        return api.walk_blobs(walk, lambda ref, given: self.execute(api.get(ref, given)))

    def blobs(
        self, tag: str | TagRef, *, ignore_missing: bool = True, token: str | None = None
    ) -> Sets:
        """See :meth:`walk_blobs`."""
        return list(self.walk_blobs(tag, ignore_missing=ignore_missing, token=token))

    def expand(self, tag: str | TagRef, token: str | None = None) -> Sets:
        """A ``tag://`` job input as Disco's client expands it: one replica set per blob
        reachable from the tag (linked tags that are missing are skipped; a missing ``tag``
        itself is a :class:`DdfsRequestError`)."""
        return list(self.walk_blobs(tag, token=token, require_first=True))

    def blob_url(self, url: str) -> str:
        """A ``disco://`` blob URL as the ``http://`` URL that serves it."""
        return data_url(url, self.master.config.port)

    def cat(self, replicas: Sequence[str] | str) -> Iterator[bytes]:
        """A blob's bytes, from the first replica that answers."""
        urls = [replicas] if isinstance(replicas, str) else list(replicas)
        reader = ResultReader(self.master.http, data_port=self.master.config.port)
        return reader.read([self.blob_url(u) for u in urls])

    def read(self, replicas: Sequence[str] | str) -> bytes:
        """A blob's bytes, in memory."""
        return b"".join(self.cat(replicas))

    # -- OOB (out-of-band results, kept in the tag disco:job:oob:<job>) ----------------------

    def oob_list(self, jobname: str) -> set[str]:
        """The OOB keys job ``jobname`` stored (Disco's ``oob_list``)."""
        return {blob_name(s[0]) for s in self.urls(oob_tag(jobname)) if s}

    def oob_get(self, jobname: str, key: str) -> bytes:
        """The newest value job ``jobname`` stored under ``key`` (Disco's ``oob_get``)."""
        for replicas in self.urls(oob_tag(jobname)):
            if replicas and blob_name(replicas[0]) == key:
                return self.read(replicas)
        raise ClientError(f"Job {jobname} stored no OOB value under {key!r}.")

    # -- GC control (stubs on pydisco's master) -----------------------------------------------

    def gc_status(self) -> str:
        return self.execute(api.gc_status())

    def gc_start(self) -> str:
        return self.execute(api.gc_start())


class AsyncDDFS:
    """The asynchronous twin of :class:`DDFS`."""

    def __init__(
        self,
        url: str | None = None,
        *,
        config: ClientConfig | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **policy: float,
    ) -> None:
        self.master = AsyncMaster(url, token=None, config=config, transport=transport, **policy)

    async def __aenter__(self) -> AsyncDDFS:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.master.aclose()

    @property
    def url(self) -> str:
        return self.master.url

    async def execute(self, call: Call[T]) -> T:
        try:
            return await self.master.execute(call)
        except HTTPStatusError as exc:
            raise DdfsRequestError(exc.url, exc.status, exc.body) from None

    async def list(self, prefix: str = "") -> Strings:
        return await self.execute(api.list_tags(prefix))

    async def get(self, tag: str | TagRef, token: str | None = None) -> TagInfo:
        ref = _ref(tag)
        return await self.execute(api.get(ref, api.choose_token(ref, token, False)))

    async def urls(self, tag: str | TagRef, token: str | None = None) -> Sets:
        return [[*s] for s in (await self.get(tag, token)).urls]

    async def attrs(self, tag: str | TagRef, token: str | None = None) -> dict[str, str]:
        return dict((await self.get(tag, token)).user_data)

    async def getattr(self, tag: str | TagRef, attr: str, token: str | None = None) -> Any:
        ref = _ref(tag)
        return await self.execute(api.getattr_(ref, attr, api.choose_token(ref, token, False)))

    async def setattr(
        self, tag: str | TagRef, attr: str, value: Any, token: str | None = None
    ) -> None:
        ref = _ref(tag)
        await self.execute(api.setattr_(ref, attr, value, api.choose_token(ref, token, True)))

    async def delattr(self, tag: str | TagRef, attr: str, token: str | None = None) -> None:
        ref = _ref(tag)
        await self.execute(api.delattr_(ref, attr, api.choose_token(ref, token, True)))

    async def exists(self, tag: str | TagRef) -> bool:
        try:
            return await self.execute(api.exists(_ref(tag)))
        except HTTPStatusError as exc:
            if exc.status == 401:
                return True
            if exc.status in (403, 404):
                return False
            raise

    async def delete(self, tag: str | TagRef, token: str | None = None) -> None:
        ref = _ref(tag)
        await self.execute(api.delete(ref, api.choose_token(ref, token, True)))

    async def tag(
        self,
        tag: str | TagRef,
        urls: Sequence[Sequence[str]],
        *,
        update: bool = False,
        delayed: bool = False,
        token: str | None = None,
    ) -> Strings:
        ref = _ref(tag)
        token = api.choose_token(ref, token, True)
        return await self.execute(api.tag(ref, urls, token, update=update, delayed=delayed))

    async def put(
        self, tag: str | TagRef, urls: Sequence[Sequence[str]], token: str | None = None
    ) -> Strings:
        ref = _ref(tag)
        return await self.execute(api.put(ref, urls, api.choose_token(ref, token, True)))

    async def new_blob(
        self,
        prefix: str,
        replicas: int | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> Strings:
        return await self.execute(api.new_blob(prefix, replicas, include, exclude))

    async def upload(self, name: str, data: bytes | Upload, replicas: int | None = None) -> Strings:
        return [
            await self.execute(api.upload(url, data)) for url in await self.new_blob(name, replicas)
        ]

    async def push(
        self,
        tag: str | TagRef,
        files: Iterable[PushSource],
        *,
        replicas: int | None = None,
        update: bool = False,
        delayed: bool = False,
        token: str | None = None,
    ) -> tuple[Strings, Sets]:
        sets = []
        for source in files:
            fileobj, name, close = _open_source(source)
            try:
                sets.append(await self.upload(name, Upload.of(fileobj), replicas))
            finally:
                if close:
                    fileobj.close()
        versions = await self.tag(tag, sets, update=update, delayed=delayed, token=token)
        return versions, sets

    async def chunk(
        self,
        tag: str | TagRef,
        path: str | os.PathLike[str],
        *,
        chunk_size: int = CHUNK_SIZE,
        replicas: int | None = None,
        update: bool = False,
        delayed: bool = False,
        token: str | None = None,
    ) -> Sets:
        base = safe_name(os.path.basename(os.fspath(path)))
        sets = []
        with open(path, "rb") as fileobj:
            pieces = api.line_pieces(fileobj, chunk_size)
            for n, (start, size) in enumerate(pieces):
                sets.append(
                    await self.upload(f"{base}-{n}", Upload(fileobj, start, size), replicas)
                )
        await self.tag(tag, sets, update=update, delayed=delayed, token=token)
        return sets

    def walk_blobs(
        self,
        tag: str | TagRef,
        *,
        ignore_missing: bool = True,
        token: str | None = None,
        require_first: bool = False,
    ) -> AsyncIterator[Strings]:
        """See :meth:`DDFS.walk_blobs`."""
        walk = api.TagWalk(
            _ref(tag), token, ignore_missing=ignore_missing, require_first=require_first
        )
        return api.walk_blobs_async(walk, lambda ref, given: self.execute(api.get(ref, given)))

    async def blobs(
        self, tag: str | TagRef, *, ignore_missing: bool = True, token: str | None = None
    ) -> Sets:
        return [b async for b in self.walk_blobs(tag, ignore_missing=ignore_missing, token=token)]

    async def expand(self, tag: str | TagRef, token: str | None = None) -> Sets:
        """See :meth:`DDFS.expand`."""
        return [b async for b in self.walk_blobs(tag, token=token, require_first=True)]

    def blob_url(self, url: str) -> str:
        return data_url(url, self.master.config.port)

    async def cat(self, replicas: Sequence[str] | str) -> AsyncIterator[bytes]:
        urls = [replicas] if isinstance(replicas, str) else list(replicas)
        reader = AsyncResultReader(self.master.http, data_port=self.master.config.port)
        async for chunk in reader.read([self.blob_url(u) for u in urls]):
            yield chunk

    async def read(self, replicas: Sequence[str] | str) -> bytes:
        return b"".join([chunk async for chunk in self.cat(replicas)])

    async def oob_list(self, jobname: str) -> set[str]:
        """See :meth:`DDFS.oob_list`."""
        return {blob_name(s[0]) for s in await self.urls(oob_tag(jobname)) if s}

    async def oob_get(self, jobname: str, key: str) -> bytes:
        """See :meth:`DDFS.oob_get`."""
        for replicas in await self.urls(oob_tag(jobname)):
            if replicas and blob_name(replicas[0]) == key:
                return await self.read(replicas)
        raise ClientError(f"Job {jobname} stored no OOB value under {key!r}.")

    async def gc_status(self) -> str:
        return await self.execute(api.gc_status())

    async def gc_start(self) -> str:
        return await self.execute(api.gc_start())
