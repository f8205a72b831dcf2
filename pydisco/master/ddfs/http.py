"""DDFS over HTTP: the ``/ddfs/...`` API on the master's port and the blob upload port.

Replies follow Disco (facts §2): JSON values are 200 ``application/json``;
refusals are plain text with Disco's wording (facts §2.9). Where Disco crashes,
hangs or leaks (facts §7), this answers a specific error at once instead:
raw tag files (which hold the tokens) are never served, bad ``new_blob``
parameters are 400, ``/ddfs/tagsXYZ`` is 404, uploads stop at a size cap.
"""

from __future__ import annotations

import asyncio
import random
import re
import urllib.parse
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final

from aiohttp import web

from pydisco import jsoncodec
from pydisco.ddfsnames import MAX_BLOB_PREFIX, is_valid_name, parse_objname
from pydisco.integers import parse_decimal
from pydisco.master.ddfs.delayed import DELAYED_SECONDS, DelayedUpdates
from pydisco.master.ddfs.store import VOLUME, BlobTooLarge, DdfsStore
from pydisco.master.ddfs.tags import (
    MAX_ATTR_VALUE_BYTES,
    MAX_ATTRIBUTES,
    DdfsRefused,
    Tag,
    attr_not_found,
    check_attr_name,
    check_read,
    check_write,
    not_found,
    parse_auth,
    parse_urls,
)
from pydisco.master.ddfs.tags import Urls as UrlSets

__all__ = ["MAX_BLOB_BYTES", "MAX_TAG_BODY_BYTES", "MAX_UPLOADS", "DdfsApi"]

#: The largest tag-API request body (Disco's ``MAX_TAG_BODY_SIZE``).
MAX_TAG_BODY_BYTES: Final = 512 << 20
#: Disco's cap on one blob upload (1 TiB); ``MasterSettings.ddfs_max_blob_bytes`` lowers it.
MAX_BLOB_BYTES: Final = 1 << 40
#: Blob uploads in progress at once (Disco: 3 active and 100 waiting per node).
MAX_UPLOADS: Final = 32
READ_CHUNK: Final = 1 << 16
#: Request bodies this large are decoded in a thread.
BIG_BODY_BYTES: Final = 1 << 20
#: Tags with this many replica sets are encoded in a thread when read.
BIG_TAG_SETS: Final = 2000

#: The volumes blobs are served from (``vol0``, ``vol1``, ...; Disco: any ``vol*``).
_VOLUME_NAME: Final = re.compile(r"vol[0-9]+")

GC_STUBS: Final[dict[str, Any]] = {
    "gc_status": "",
    "gc_stats": "",
    "gc_start": "GC has started",
    "safe_gc_blacklist": [],
}


def ok(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=jsoncodec.dumps(value), content_type="application/json")


def text(status: int, body: str) -> web.Response:
    response = web.Response(status=status, text=body, content_type="text/plain")
    return response


def _not_found() -> web.Response:
    return text(404, "Not found.")


class DdfsApi:
    """The DDFS handlers of one master.

    ``nodes()`` gives the node table as ``(host, usable)`` pairs, in table order;
    ``put_port()`` the port uploads go to.
    """

    def __init__(
        self,
        store: DdfsStore,
        nodes: Callable[[], Sequence[tuple[str, bool]]],
        put_port: Callable[[], int],
        *,
        max_blob_bytes: int = MAX_BLOB_BYTES,
        max_uploads: int = MAX_UPLOADS,
        max_attributes: int = MAX_ATTRIBUTES,
        delayed_seconds: float = DELAYED_SECONDS,
    ) -> None:
        self.store = store
        self.nodes = nodes
        self.put_port = put_port
        self.max_blob_bytes = max_blob_bytes
        self.max_uploads = max_uploads
        self.max_attributes = max_attributes
        self.delayed = DelayedUpdates(self._write_delayed, delayed_seconds)
        self.uploads = 0
        self.rng = random.Random()

    # -- master port ---------------------------------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """Any request whose path starts ``/ddfs/``."""
        try:
            return await self._dispatch(request)
        except DdfsRefused as exc:
            response = text(exc.status, exc.text)
            if request.can_read_body:
                response.force_close()
            return response

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path  # decoded, without the query
        rest = path[len("/ddfs/") :]
        head, _, tail = rest.partition("/")
        method = request.method
        if head == "tag" and tail:
            return await self.tag_request(request, tail)
        if head == "tags":
            if method != "GET":
                return _not_found()
            return ok(self.store.names(tail.strip("/")))
        if head == "new_blob" and tail and method == "GET":
            return self.new_blob(request, tail)
        if head == "ctrl" and tail:
            return await self.ctrl(request, tail)
        if method in ("GET", "HEAD"):
            return await self.blob_file(request, rest)
        return _not_found()

    # -- new_blob ------------------------------------------------------------------------------

    def _hosts(self, request: web.Request, key: str, known: Sequence[str]) -> list[str]:
        if key not in request.query:
            return []
        hosts = request.query[key].split(",")
        unknown = [h for h in hosts if h not in known]
        if unknown:
            raise DdfsRefused(
                400, f"Unknown host {unknown[0]!r} in '{key}': the nodes are {', '.join(known)}."
            )
        return hosts

    def new_blob(self, request: web.Request, prefix: str) -> web.StreamResponse:
        """``GET /ddfs/new_blob/<prefix>``: upload URLs for a new blob (facts §2.3)."""
        if not is_valid_name(prefix):
            raise DdfsRefused(403, "Invalid tag")
        if len(prefix) > MAX_BLOB_PREFIX:
            raise DdfsRefused(403, f"Invalid prefix: longer than {MAX_BLOB_PREFIX} characters.")
        replicas_text = request.query.get("replicas", "1")
        replicas = parse_decimal(replicas_text)
        if replicas is None:
            raise DdfsRefused(400, "The 'replicas' parameter must be a non-negative integer.")
        table = list(self.nodes())
        known = [host for host, _ in table]
        include = self._hosts(request, "include", known)
        exclude = set(self._hosts(request, "exclude", known))
        candidates = [host for host, usable in table if usable and host not in exclude]
        chosen = [h for h in include if h not in exclude]
        rest = [h for h in candidates if h not in chosen]
        self.rng.shuffle(rest)
        chosen = (chosen + rest)[:replicas]
        if len(chosen) < replicas:
            raise DdfsRefused(403, "Not enough nodes for replicas.")
        objname = self.store.new_objname(prefix)
        port = self.put_port()
        return ok([f"http://{host}:{port}/ddfs/{objname}" for host in chosen])

    # -- tags ------------------------------------------------------------------------------------

    def version_urls(self, tag: Tag) -> list[str]:
        """Where the version was written, in Disco's ``disco://`` form (never served)."""
        table = list(self.nodes())
        host = table[0][0] if table else "localhost"
        rel = self.store.tag_path(tag.id).relative_to(self.store.root).as_posix()
        return [f"disco://{host}/ddfs/{rel}"]

    async def tag_request(self, request: web.Request, tail: str) -> web.StreamResponse:
        """``/ddfs/tag/<tag>[/<attr>]``, any method (facts §2.4)."""
        name, _, attr = tail.partition("/")
        if not is_valid_name(name):
            raise DdfsRefused(403, "Invalid tag")
        if attr:
            check_attr_name(attr)
        given = parse_auth(request.headers.get("Authorization"))
        method = request.method
        if method in ("GET", "HEAD"):
            # Any operation but a delayed POST first writes the tag's buffered updates.
            await self.delayed.flush(name)
            return await self.read_tag(name, attr, given)
        if method not in ("POST", "PUT", "DELETE"):
            return _not_found()
        body = await self._body(request) if method in ("POST", "PUT") else b""
        value = await self._decode(body) if body or method != "DELETE" else None
        if method == "POST" and not attr and request.query.get("delayed"):
            delayed = await self.post_delayed(request, name, value, given)
            if delayed is not None:
                return delayed
        await self.delayed.flush(name)
        async with self.store.lock(name):
            if method == "DELETE":
                return await self.delete(name, attr, given)
            if method == "POST":
                if attr:
                    return _not_found()
                return await self.post(request, name, value, given)
            return await self.put(name, attr, value, body, given)

    async def _body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > MAX_TAG_BODY_BYTES:
            raise DdfsRefused(403, "Invalid request.")
        parts: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(READ_CHUNK):
            size += len(chunk)
            if size > MAX_TAG_BODY_BYTES:
                raise DdfsRefused(403, "Invalid request.")
            parts.append(chunk)
        return b"".join(parts)

    async def _decode(self, body: bytes) -> Any:
        """The JSON body; a big one is decoded in a thread, off the event loop."""
        if len(body) < BIG_BODY_BYTES:
            return self._json(body)
        return await asyncio.to_thread(self._json, body)

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return jsoncodec.loads(body)
        except jsoncodec.JSONError:
            raise DdfsRefused(403, "Invalid request body.") from None

    async def read_tag(self, name: str, attr: str, given: str | None) -> web.StreamResponse:
        tag = self.store.get(name)
        if tag is None:
            raise not_found()
        privilege = check_read(given, tag.read_token, tag.write_token)
        value = tag.get_attr(attr, privilege) if attr else tag.to_json()
        if len(tag.urls) < BIG_TAG_SETS:
            return ok(value)
        # A tag of many thousands of sets takes milliseconds to encode: not on the loop.
        body = await asyncio.to_thread(jsoncodec.dumps, value)
        return web.Response(body=body, content_type="application/json")

    def _writable(self, name: str, given: str | None) -> tuple[Tag, bool]:
        """The tag to change (a fresh one when missing) and whether it exists; 401 if refused."""
        tag = self.store.get(name)
        if tag is None:
            return Tag.fresh(name, given), False
        check_write(given, tag.write_token)
        return tag, True

    async def post(
        self, request: web.Request, name: str, value: Any, given: str | None
    ) -> web.StreamResponse:
        sets = parse_urls(value)
        update = bool(request.query.get("update"))
        tag, exists = self._writable(name, given)
        changed = tag.append(sets, update=update, exists=exists)
        if changed is None:
            return ok(self.version_urls(tag))
        return ok(self.version_urls(await self.store.commit(changed)))

    async def post_delayed(
        self, request: web.Request, name: str, value: Any, given: str | None
    ) -> web.StreamResponse | None:
        """``POST ?delayed=1`` to an existing tag: buffered and answered after its batch is
        written (facts §2.4); None when the tag is missing (then it is an immediate update)."""
        sets = parse_urls(value)
        async with self.store.lock(name):
            tag = self.store.get(name)
            if tag is None:
                return None
            check_write(given, tag.write_token)
        version = await self.delayed.add(name, bool(request.query.get("update")), sets, given)
        return ok(self.version_urls(version))

    async def _write_delayed(
        self, name: str, token: str | None, update: bool, batches: list[UrlSets]
    ) -> Tag:
        """Apply buffered appends in arrival order as one version (later sets end up first)."""
        async with self.store.lock(name):
            tag = self.store.get(name)
            exists = tag is not None
            current = tag if tag is not None else Tag.fresh(name, token)
            changed = False
            for sets in batches:
                after = current.append(sets, update=update, exists=exists or changed)
                if after is not None:
                    current, changed = after, True
            if not changed:
                return current
            return await self.store.commit(current)

    async def put(
        self, name: str, attr: str, value: Any, body: bytes, given: str | None
    ) -> web.StreamResponse:
        tag, _ = self._writable(name, given)
        if not attr or attr == "ddfs:urls":
            changed = tag.set_attr("ddfs:urls", value)
        else:
            if not attr.startswith("ddfs:") and len(body) > MAX_ATTR_VALUE_BYTES:
                raise DdfsRefused(403, "Attribute value too big.")
            changed = tag.set_attr(attr, value, self.max_attributes)
        return ok(self.version_urls(await self.store.commit(changed)))

    async def delete(self, name: str, attr: str, given: str | None) -> web.StreamResponse:
        tag = self.store.get(name)
        if tag is None:
            if attr:
                raise attr_not_found()
            return ok("deleted")
        check_write(given, tag.write_token)
        if not attr:
            await self.store.delete(name)
            return ok("deleted")
        await self.store.commit(tag.delete_attr(attr))
        return ok("deleted")

    # -- ctrl ------------------------------------------------------------------------------------

    async def ctrl(self, request: web.Request, op: str) -> web.StreamResponse:
        """GC and re-replication controls: stubs, as a one-disk master needs no GC (facts §2.7)."""
        if op in GC_STUBS and request.method in ("GET", "POST"):
            return ok(GC_STUBS[op])
        if op == "hosted_tags" and request.method == "POST":
            host = self._json(await self._body(request))
            known = [h for h, _ in self.nodes()]
            if not isinstance(host, str) or host not in known:
                raise DdfsRefused(404, f"Unknown host {host!r}: the nodes are {', '.join(known)}.")
            return ok(self.store.names())
        return _not_found()

    # -- files -----------------------------------------------------------------------------------

    async def blob_file(self, request: web.Request, rel: str) -> web.StreamResponse:
        """``GET|HEAD /ddfs/<vol>/blob/<hh>/<object>``; tag files are refused (facts §7.1)."""
        parts = rel.split("/")
        if len(parts) == 4 and parts[0].startswith("vol") and parts[1] == "tag":
            return text(403, "Forbidden: tag files are not served; GET /ddfs/tag/<name>.")
        if (
            len(parts) != 4
            or not _VOLUME_NAME.fullmatch(parts[0])
            or parts[1] != "blob"
            or len(parts[2]) != 2
            or parse_objname(parts[3]) is None
        ):
            return _not_found()
        path = self.store.blob_file(parts[3], parts[0])
        if path.parent.name != parts[2] or not path.is_file():
            return _not_found()
        from pydisco.master.files import serve_file

        return await serve_file(request, path, "application/octet-stream")

    # -- the upload port -------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.StreamResponse:
        """``PUT /ddfs/<prefix>$<ts>`` on the upload port (facts §2.8): 201 and the blob URL."""
        try:
            return await self._upload(request)
        except DdfsRefused as exc:
            response = text(exc.status, exc.text)
            response.force_close()
            return response

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if not path.startswith("/ddfs/"):
            return _not_found()
        host = self._upload_host(request)
        if request.method != "PUT":
            return text(501, "Method not supported")
        objname = path[len("/ddfs/") :]
        if parse_objname(objname) is None:
            raise DdfsRefused(403, "Invalid blob name")
        limit = self.max_blob_bytes
        if request.content_length is not None and request.content_length > limit:
            raise DdfsRefused(413, f"Blob too large: at most {limit} bytes.")

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in request.content.iter_chunked(READ_CHUNK):
                yield chunk

        if self.uploads >= self.max_uploads:
            raise DdfsRefused(503, "Maximum number of uploaders reached. Try again later")
        self.uploads += 1
        try:
            rel = await self.store.put_blob(objname, chunks(), limit, self.volume_of(host))
        except BlobTooLarge:
            raise DdfsRefused(413, f"Blob too large: at most {limit} bytes.") from None
        finally:
            self.uploads -= 1
        return ok(f"disco://{host}/ddfs/{rel}", status=201)

    def volume_of(self, host: str) -> str:
        """The volume node ``host`` writes blobs to: ``vol<i>`` for the i-th node of the table
        (``vol0`` for an unknown one), so replicas on distinct nodes are distinct files."""
        table = [name for name, _ in self.nodes()]
        return f"vol{table.index(host)}" if host in table else VOLUME

    def _upload_host(self, request: web.Request) -> str:
        """The node the upload URL named (the Host header), if it is one; else the first node."""
        table = [host for host, _ in self.nodes()]
        asked = urllib.parse.urlsplit(f"//{request.host}").hostname or ""
        if asked in table:
            return asked
        return table[0] if table else "localhost"
