"""Every DDFS endpoint as data (no I/O): tag names, tokens, requests and reply parsers.

The same :class:`~pydisco.client._api.Call` objects run on the blocking and the
asynchronous DDFS clients. The rules follow Disco 0.5.4's client (ddfs facts §4):
a tag is named bare (``data:book``) or as ``tag://[user:TOKEN@][host]/name``;
a token goes as HTTP Basic ``token:TOKEN``; without an explicit token, the one in
the ``tag://`` URL is used, then ``DDFS_READ_TOKEN`` for reads and
``DDFS_WRITE_TOKEN`` for writes.
"""

from __future__ import annotations

import base64
import io
import os
import urllib.parse
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import IO, Any

import attrs

from pydisco import jsoncodec
from pydisco.client._api import Call, Reply, Upload
from pydisco.client.errors import BadReply, DdfsRequestError, HTTPStatusError, InvalidTag
from pydisco.ddfsnames import is_valid_name

__all__ = [
    "DdfsRequestError",
    "InvalidTag",
    "TagInfo",
    "TagRef",
    "auth_header",
    "is_tag",
    "tag_ref",
]

#: A Range header Disco's ``exists()`` sends; any 2xx answer means "exists".
EXISTS_RANGE = "bytes=0-10485759"


def is_tag(value: str) -> bool:
    """Disco's ``istag``: a ``tag://`` URL, or a string with no ``://`` and no ``/``."""
    return value.startswith("tag://") or ("://" not in value and "/" not in value)


@attrs.frozen
class TagRef:
    """A tag as named by the user: its name and the token its URL carried, if any."""

    name: str
    token: str | None = None


def tag_ref(value: str) -> TagRef:
    """``data:book``, ``tag://data:book`` or ``tag://user:TOKEN@/data:book`` as a reference."""
    token = None
    name = value
    if value.startswith("tag://"):
        parts = urllib.parse.urlsplit(value)
        name = parts.path.lstrip("/") or parts.netloc
        if parts.path.lstrip("/"):
            token = parts.password
        name = urllib.parse.unquote(name)
    if not is_valid_name(name):
        raise InvalidTag(value)
    return TagRef(name, token)


def auth_header(token: str | None) -> tuple[tuple[str, str], ...]:
    """``Authorization: Basic base64("token:" + token)``; nothing for no token."""
    if token is None:
        return ()
    encoded = base64.b64encode(f"token:{token}".encode()).decode("ascii")
    return (("Authorization", f"Basic {encoded}"),)


def choose_token(
    ref: TagRef, token: str | None, write: bool, env: Mapping[str, str] | None = None
) -> str | None:
    """The token a request sends: explicit, then the URL's, then the environment's."""
    if token is not None:
        return token
    if ref.token is not None:
        return ref.token
    env = os.environ if env is None else env
    return env.get("DDFS_WRITE_TOKEN" if write else "DDFS_READ_TOKEN")


@attrs.frozen
class TagInfo:
    """A tag as ``GET /ddfs/tag/<name>`` answers it."""

    name: str
    id: str
    last_modified: str
    urls: tuple[tuple[str, ...], ...]
    user_data: dict[str, str] = attrs.field(hash=False)

    def to_json(self) -> dict[str, Any]:
        """The tag object, as the server sends it."""
        return {
            "version": 1,
            "id": self.id,
            "last-modified": self.last_modified,
            "urls": [list(s) for s in self.urls],
            "user-data": dict(self.user_data),
        }


def _url_sets(value: Any, url: str) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list) or not all(
        isinstance(s, list) and all(isinstance(u, str) for u in s) for s in value
    ):
        raise BadReply(url, "a list of replica URL lists", value)
    return tuple(tuple(s) for s in value)


def _parse_tag(name: str) -> Any:
    def parse(reply: Reply) -> TagInfo:
        value = reply.json()
        if not isinstance(value, dict) or not isinstance(value.get("user-data"), dict):
            raise BadReply(reply.url, "a tag object", value)
        return TagInfo(
            name,
            str(value.get("id", "")),
            str(value.get("last-modified", "")),
            _url_sets(value.get("urls"), reply.url),
            {str(k): str(v) for k, v in value["user-data"].items()},
        )

    return parse


def _strings(reply: Reply) -> list[str]:
    value = reply.json()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadReply(reply.url, "a JSON list of strings", value)
    return list(value)


def _string(reply: Reply) -> str:
    value = reply.json()
    if not isinstance(value, str):
        raise BadReply(reply.url, "a JSON string", value)
    return value


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe=":@_-")


def _tag_path(ref: TagRef, attr: str = "") -> str:
    path = f"/ddfs/tag/{_quote(ref.name)}"
    return f"{path}/{urllib.parse.quote(attr, safe=':@_-')}" if attr else path


# -- calls ---------------------------------------------------------------------------------------


def list_tags(prefix: str = "") -> Call[list[str]]:
    return Call("GET", f"/ddfs/tags/{urllib.parse.quote(prefix, safe=':@_-')}", _strings)


def get(ref: TagRef, token: str | None) -> Call[TagInfo]:
    return Call("GET", _tag_path(ref), _parse_tag(ref.name), headers=auth_header(token))


def exists(ref: TagRef) -> Call[bool]:
    """Disco's ``exists``: no token, and a 401 also means the tag is there."""
    return Call("GET", _tag_path(ref), lambda r: True, headers=(("Range", EXISTS_RANGE),))


def getattr_(ref: TagRef, attr: str, token: str | None) -> Call[Any]:
    return Call("GET", _tag_path(ref, attr), lambda r: r.json(), headers=auth_header(token))


def setattr_(ref: TagRef, attr: str, value: Any, token: str | None) -> Call[list[str]]:
    return Call(
        "PUT",
        _tag_path(ref, attr),
        _strings,
        body=jsoncodec.dumps(value),
        headers=auth_header(token),
    )


def delattr_(ref: TagRef, attr: str, token: str | None) -> Call[str]:
    return Call("DELETE", _tag_path(ref, attr), _string, headers=auth_header(token))


def delete(ref: TagRef, token: str | None) -> Call[str]:
    return Call("DELETE", _tag_path(ref), _string, headers=auth_header(token))


def tag(
    ref: TagRef,
    urls: Sequence[Sequence[str]],
    token: str | None,
    *,
    update: bool = False,
    delayed: bool = False,
) -> Call[list[str]]:
    """POST: add replica sets (newest first); ``update`` adds only sets with new keys."""
    return Call(
        "POST",
        _tag_path(ref),
        _strings,
        params=(("delayed", "1" if delayed else ""), ("update", "1" if update else "")),
        body=jsoncodec.dumps([list(s) for s in urls]),
        headers=auth_header(token),
    )


def put(ref: TagRef, urls: Sequence[Sequence[str]], token: str | None) -> Call[list[str]]:
    """PUT: replace the tag's replica sets."""
    return Call(
        "PUT",
        _tag_path(ref),
        _strings,
        body=jsoncodec.dumps([list(s) for s in urls]),
        headers=auth_header(token),
    )


def new_blob(
    prefix: str,
    replicas: int | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Call[list[str]]:
    params: list[tuple[str, str]] = []
    if exclude:
        params.append(("exclude", ",".join(exclude)))
    if include:
        params.append(("include", ",".join(include)))
    if replicas is not None:
        params.append(("replicas", str(replicas)))
    return Call("GET", f"/ddfs/new_blob/{_quote(prefix)}", _strings, params=tuple(params))


def upload(url: str, data: bytes | Upload) -> Call[str]:
    """PUT a blob to an upload URL ``new_blob`` gave; the reply is its ``disco://`` URL."""
    if isinstance(data, Upload):
        return Call("PUT", url, _string, upload=data)
    return Call("PUT", url, _string, upload=Upload.of(io.BytesIO(data)))


def gc_status() -> Call[str]:
    return Call("GET", "/ddfs/ctrl/gc_status", _string)


def gc_start() -> Call[str]:
    return Call("GET", "/ddfs/ctrl/gc_start", _string)


def line_pieces(fileobj: IO[bytes], chunk_size: int) -> list[tuple[int, int]]:
    """``(start, size)`` of consecutive pieces of a seekable file, each ending at a line end.

    A piece is at most ``chunk_size`` bytes unless one line alone is longer; the last
    piece ends at the end of the file, with or without a newline.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1 byte")
    pieces: list[tuple[int, int]] = []
    fileobj.seek(0)
    start = 0
    pending = b""
    while True:
        block = fileobj.read(chunk_size - len(pending)) if len(pending) < chunk_size else b""
        data = pending + block
        if not block and not data:
            break
        if not block or len(data) < chunk_size:
            if block:
                pending = data
                continue
            pieces.append((start, len(data)))
            break
        cut = data.rfind(b"\n") + 1
        while cut == 0:  # one line longer than a chunk: extend it to its end
            more = fileobj.read(chunk_size)
            if not more:
                cut = len(data) + 0
                break
            found = more.find(b"\n")
            if found >= 0:
                data += more
                cut = len(data) - len(more) + found + 1
            else:
                data += more
        pieces.append((start, cut))
        start += cut
        pending = data[cut:]
    return pieces


def child_tags(sets: Iterable[Sequence[str]]) -> tuple[list[str], list[list[str]]]:
    """The tag names and blob sets of a tag's ``urls`` (a set is a tag by its first URL)."""
    tags: list[str] = []
    blobs: list[list[str]] = []
    for replicas in sets:
        if not replicas:
            continue
        if is_tag(replicas[0]):
            try:
                tags.append(tag_ref(replicas[0]).name)
            except InvalidTag:
                continue
        else:
            blobs.append(list(replicas))
    return tags, blobs


class TagWalk:
    """The blob sets reachable from one tag, breadth first, each tag once (cycles are fine).

    Sans-IO: the caller fetches each tag :meth:`next` names and hands its info
    to :meth:`found`, which returns that tag's blob sets; a tag that is missing
    (404) is skipped when :meth:`skips_missing` says so, else the caller's error
    stands. Missing tags are skipped with ``ignore_missing``, except the first
    one with ``require_first``. The first tag's token (explicit or from its
    URL) is used for it only.
    """

    def __init__(
        self,
        first: TagRef,
        token: str | None,
        *,
        ignore_missing: bool = True,
        require_first: bool = False,
    ) -> None:
        self._queue: deque[tuple[TagRef, str | None]] = deque(
            [(first, choose_token(first, token, False))]
        )
        self._seen = {first.name}
        self._ignore_missing = ignore_missing
        self._require_first = require_first
        self._named = 0

    def next(self) -> tuple[TagRef, str | None] | None:
        """The next tag to fetch and the token to send, or None when the walk is over."""
        if not self._queue:
            return None
        self._named += 1
        return self._queue.popleft()

    def skips_missing(self) -> bool:
        """Whether the tag :meth:`next` named last may be missing (the walk goes on)."""
        if self._named == 1 and self._require_first:
            return False
        return self._ignore_missing

    def found(self, info: TagInfo) -> list[list[str]]:
        """Record a fetched tag; its blob sets."""
        children, blobs = child_tags(info.urls)
        for child in children:
            if child not in self._seen:
                self._seen.add(child)
                ref = TagRef(child)
                self._queue.append((ref, choose_token(ref, None, False)))
        return blobs


def walk_blobs(
    walk: TagWalk, fetch: Callable[[TagRef, str | None], TagInfo]
) -> Iterator[list[str]]:
    """Drive ``walk`` with a blocking ``fetch(tag, token)``: every blob set it reaches."""
    while (step := walk.next()) is not None:
        try:
            info = fetch(*step)
        except HTTPStatusError as exc:
            if exc.status == 404 and walk.skips_missing():
                continue
            raise
        yield from walk.found(info)


async def walk_blobs_async(
    walk: TagWalk, fetch: Callable[[TagRef, str | None], Awaitable[TagInfo]]
) -> AsyncIterator[list[str]]:
    """:func:`walk_blobs` with a coroutine ``fetch``."""
    while (step := walk.next()) is not None:
        try:
            info = await fetch(*step)
        except HTTPStatusError as exc:
            if exc.status == 404 and walk.skips_missing():
                continue
            raise
        for blob in walk.found(info):
            yield blob
