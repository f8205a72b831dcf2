"""Opening one URL as a byte stream, for every scheme a Disco task may see (facts §6.1).

:func:`locate` maps a URL to a :class:`Location`: literal bytes (``raw://``),
a local file (``file://``, plain paths, and ``disco://`` / ``dir://`` URLs on
this task's own host) or an HTTP(S) URL (``http://``, ``https://``, and
``disco://`` / ``dir://`` URLs on other hosts, at the node's ``disco_port``).
:func:`open_location` opens it at a byte offset, as far as the source allows,
and says where the stream really starts; a ``.gz`` path is decompressed on
the fly. Every failure to open or read is a
:class:`~pydisco.worker.errors.DataError` naming the URL.

Only the standard library is used, and ``http.client``, ``ssl`` and ``gzip``
are imported on first use: a worker node may have nothing but Python, and a
worker that reads local files should start fast.

HTTPS certificates are always verified, against the system's trust store as
OpenSSL finds it (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` replace it), plus the
PEM file named by ``PYDISCO_WORKER_CAFILE`` when that is set (for a cluster's
own CA). An untrusted certificate is a failed replica like any other.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import IO, Any, Final, NamedTuple, Protocol

from pydisco.dataurls import (
    DATA_SCHEMES,
    UnsafeURL,
    file_path,
    is_gzip,
    local_data_path,
    node_http_url,
    split_url,
    url_hostname,
)
from pydisco.protocol.messages import TaskInfo
from pydisco.worker.errors import DataError, UnsafeLocation

__all__ = [
    "ByteStream",
    "Location",
    "is_gzip",
    "locate",
    "open_location",
    "split_url",
]

#: Redirects followed before an HTTP read fails.
MAX_REDIRECTS: Final = 5
#: Seconds an HTTP connection may stay silent before the read fails.
HTTP_TIMEOUT_SECONDS: Final = 300.0
CHUNK_BYTES: Final = 256 * 1024

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Environment variable naming extra trusted CA certificates (PEM) for https:// inputs.
CAFILE_ENV: Final = "PYDISCO_WORKER_CAFILE"
_tls_context: Any = None


class ByteStream(Protocol):
    """What an opened location offers: ``read(n)`` and ``close()``."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class Location(NamedTuple):
    """Where the bytes of a URL are: ``kind`` is ``raw``, ``file`` or ``http``."""

    kind: str
    url: str
    #: The literal data (``raw``), the local path (``file``) or the URL to fetch (``http``).
    target: str
    gzip: bool = False


def locate(url: str, task: TaskInfo) -> Location:
    """Where to read ``url`` from, for a task running as ``task`` (:mod:`pydisco.dataurls`)."""
    scheme, authority, path = split_url(url)
    gz = is_gzip(url)
    if scheme == "raw":
        return Location("raw", url, url[len("raw://") :])
    if scheme in ("", "file"):
        return Location("file", url, file_path(url), gz)
    if scheme in ("http", "https"):
        return Location("http", url, url, gz)
    if scheme in DATA_SCHEMES:
        try:
            local = None
            if url_hostname(authority) == task.host:
                local = local_data_path(path, task.disco_data, task.ddfs_data)
            target = local or node_http_url(url, task.disco_port)
        except UnsafeURL as exc:
            raise UnsafeLocation(str(exc), url) from None
        return Location("file" if local else "http", url, target, gz)
    raise DataError(f"Cannot read {url!r}: the scheme {scheme!r} is not supported.", url)


# --- opening --------------------------------------------------------------------------------


class _BytesStream:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            size = len(self._data)
        chunk, self._data = self._data[:size], self._data[size:]
        return bytes(chunk)

    def close(self) -> None:
        self._data = memoryview(b"")


def _open_raw(location: Location, start: int) -> tuple[ByteStream, int]:
    data = location.target.encode("utf-8", "surrogateescape")
    return _BytesStream(data[start:]), start


def _open_file(location: Location, start: int) -> tuple[ByteStream, int]:
    try:
        handle: IO[bytes] = open(location.target, "rb")  # noqa: SIM115 - returned open
        if start:
            handle.seek(start)
    except OSError as exc:
        raise DataError(
            f"Cannot open {location.url!r} (local file {location.target!r}): {exc.strerror}.",
            location.url,
        ) from exc
    return handle, start


class _HttpStream:
    """An HTTP response body that closes its connection with it."""

    def __init__(self, connection: Any, response: Any) -> None:
        self._connection = connection
        self._response = response

    def read(self, size: int = -1, /) -> bytes:
        data = bytes(self._response.read(size if size >= 0 else None))
        if not data and size != 0 and self._response.length:
            # http.client returns b"" when the peer hangs up before Content-Length
            # bytes arrived; that is a failed read, not the end of the data.
            raise DataError(
                f"The connection closed with {self._response.length} bytes still to come."
            )
        return data

    def close(self) -> None:
        self._response.close()
        self._connection.close()


def tls_context() -> Any:
    """The :class:`ssl.SSLContext` for https:// reads, made once per process.

    Verifies certificates and host names against the default trust store and
    the file named by ``PYDISCO_WORKER_CAFILE``; a file that cannot be loaded
    is a :class:`DataError`.
    """
    global _tls_context
    if _tls_context is None:
        import ssl

        context = ssl.create_default_context()
        cafile = os.environ.get(CAFILE_ENV)
        if cafile:
            try:
                context.load_verify_locations(cafile=cafile)
            except (OSError, ValueError) as exc:
                raise DataError(
                    f"Cannot load the CA certificates in {CAFILE_ENV}={cafile!r}: {exc}."
                ) from exc
        _tls_context = context
    return _tls_context


def _connect(url: str) -> tuple[Any, str]:
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.hostname is None:
        raise DataError(f"Cannot fetch {url!r}: the URL names no host.", url)
    target = parts.path or "/"
    target = urllib.parse.quote(target, safe="/%:@!$&'()*+,;=~-._")
    if parts.query:
        target += "?" + parts.query
    connection: Any
    if parts.scheme == "https":
        try:
            context = tls_context()
        except DataError as exc:
            raise DataError(f"Cannot fetch {url!r}: {exc}", url) from exc
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=HTTP_TIMEOUT_SECONDS, context=context
        )
    else:
        connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=HTTP_TIMEOUT_SECONDS
        )
    return connection, target


def _content_range_start(value: str | None) -> int | None:
    match = re.match(r"[ \t]*bytes[ \t]+([0-9]+)-", value or "")
    return int(match.group(1)) if match else None


def _open_http(location: Location, start: int) -> tuple[ByteStream, int]:
    import http.client
    import urllib.parse

    url = location.target
    for _ in range(MAX_REDIRECTS + 1):
        connection, target = _connect(url)
        headers = {"User-Agent": "pydisco-worker", "Accept-Encoding": "identity"}
        if start:
            headers["Range"] = f"bytes={start}-"
        try:
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise DataError(
                f"Cannot fetch {location.url!r} ({url}): {exc!r}.", location.url
            ) from exc
        status = response.status
        if status in _REDIRECTS and response.getheader("Location"):
            url = urllib.parse.urljoin(url, response.getheader("Location"))
            connection.close()
            continue
        if status == 206:
            actual = _content_range_start(response.getheader("Content-Range"))
            return _HttpStream(connection, response), start if actual is None else actual
        if status == 416 and start:
            connection.close()
            return _BytesStream(b""), start  # nothing left after the bytes already read
        if 200 <= status < 300:
            return _HttpStream(connection, response), 0
        connection.close()
        raise DataError(
            f"Cannot fetch {location.url!r}: {url} answered HTTP {status} {response.reason}.",
            location.url,
        )
    raise DataError(
        f"Cannot fetch {location.url!r}: more than {MAX_REDIRECTS} redirects.", location.url
    )


_OPENERS: Final[dict[str, Callable[[Location, int], tuple[ByteStream, int]]]] = {
    "raw": _open_raw,
    "file": _open_file,
    "http": _open_http,
}


class _Skipping:
    """Discards the first ``skip`` bytes of a stream."""

    def __init__(self, stream: ByteStream, skip: int) -> None:
        self._stream = stream
        self._skip = skip

    def read(self, size: int = -1, /) -> bytes:
        while self._skip:
            chunk = self._stream.read(min(self._skip, CHUNK_BYTES))
            if not chunk:
                self._skip = 0
                return b""
            self._skip -= len(chunk)
        return self._stream.read(size)

    def close(self) -> None:
        self._stream.close()


def open_location(location: Location, start: int = 0) -> ByteStream:
    """A stream of ``location``'s (decompressed) bytes from offset ``start`` on.

    Local files seek and HTTP asks for a range; where that is not possible
    (gzip data, a server that ignores ``Range``) the leading bytes are read
    and dropped.
    """
    opener = _OPENERS[location.kind]
    if location.gzip:
        import gzip

        raw, _ = opener(location, 0)
        stream: ByteStream = gzip.GzipFile(fileobj=_Sequential(raw), mode="rb")
        return _Closing(_Skipping(stream, start), raw) if start else _Closing(stream, raw)
    raw, actual = opener(location, start)
    return _Skipping(raw, start - actual) if actual < start else raw


class _Sequential:
    """A stream as :class:`gzip.GzipFile` takes it: it reads sequentially and never seeks."""

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream

    def read(self, size: int, /) -> bytes:
        return self._stream.read(size)

    def seek(self, offset: int, /) -> int:
        raise OSError("A data stream cannot seek.")


class _Closing:
    """A stream that also closes the stream under it."""

    def __init__(self, stream: ByteStream, under: ByteStream) -> None:
        self._stream = stream
        self._under = under

    def read(self, size: int = -1, /) -> bytes:
        return self._stream.read(size)

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._under.close()


def read_errors() -> tuple[type[BaseException], ...]:
    """What a read may raise that means "this replica's data is bad or unreachable".

    ``http.client``'s errors are included only once it has been imported
    (an HTTP replica was opened), to keep start-up light.
    """
    import zlib

    errors: list[type[BaseException]] = [OSError, EOFError, zlib.error]
    http_client = sys.modules.get("http.client")
    if http_client is not None:
        errors.append(http_client.HTTPException)
    return tuple(errors)
