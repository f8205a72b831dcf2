"""The blocking client's transport for plain ``http://``: :mod:`http.client` under ``httpx``.

``httpx`` keeps the policy (headers, redirects, timeouts, content decoding,
the exception tree); this transport only moves bytes. httpx's default
transport would import ``httpcore``, ``h11`` and ``anyio`` (and ``trio``
whenever it is installed), most of a driver's start-up for one plain
connection to a master on loopback, while :mod:`http.client` is imported by
``httpx`` anyway. ``https://`` keeps httpx's own transport (see
:class:`pydisco.client.master.Master`).

Connections are kept alive and reused, one request at a time each; an idle
connection the server has closed (readable before a request is sent) is
dropped, as httpcore does.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import threading
from collections.abc import Iterator

import httpx

__all__ = ["PlainHTTPTransport"]

#: Bytes read from a response at a time.
CHUNK = 1 << 16


class PlainHTTPTransport(httpx.BaseTransport):
    """An ``httpx`` transport for ``http://`` URLs over :class:`http.client.HTTPConnection`."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"{url.scheme!r} is not plain http", request=request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        address = (url.host, url.port or 80)
        connection = self._checkout(address, timeouts.get("connect"), request)
        try:
            return self._exchange(connection, address, request, timeouts)
        except BaseException:
            connection.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [c for pool in self._idle.values() for c in pool]
            self._idle.clear()
        for connection in idle:
            connection.close()

    def _checkout(
        self, address: tuple[str, int], timeout: float | None, request: httpx.Request
    ) -> http.client.HTTPConnection:
        with self._lock:
            pool = self._idle.get(address, [])
            while pool:
                connection = pool.pop()
                if connection.sock is not None and not _readable(connection.sock):
                    return connection
                connection.close()  # closed by the server while idle (or sent junk)
        connection = http.client.HTTPConnection(*address, timeout=timeout)
        try:
            connection.connect()
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        return connection

    def _checkin(self, address: tuple[str, int], connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.setdefault(address, []).append(connection)
                return
        connection.close()

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        address: tuple[str, int],
        request: httpx.Request,
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        sock = connection.sock
        assert sock is not None
        sock.settimeout(timeouts.get("write"))
        chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
        with _mapped(request, httpx.WriteTimeout, httpx.WriteError):
            connection.putrequest(
                request.method,
                request.url.raw_path.decode("ascii"),
                skip_host=True,
                skip_accept_encoding=True,
            )
            for name, value in request.headers.raw:
                connection.putheader(name.decode("latin-1"), value.decode("latin-1"))
            connection.endheaders()
            for chunk in request.stream:  # type: ignore[union-attr]
                if chunked:
                    if chunk:
                        connection.send(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                elif chunk:
                    connection.send(chunk)
            if chunked:
                connection.send(b"0\r\n\r\n")
        sock.settimeout(timeouts.get("read"))
        with _mapped(request, httpx.ReadTimeout, httpx.ReadError):
            reply = connection.getresponse()
        return httpx.Response(
            reply.status,
            headers=reply.getheaders(),
            stream=_Body(self, connection, address, reply, request),
            extensions={
                "http_version": b"HTTP/1.1" if reply.version == 11 else b"HTTP/1.0",
                "reason_phrase": reply.reason.encode("latin-1"),
            },
        )


class _Body(httpx.SyncByteStream):
    """A response's body as read; its connection is reused once the body was read whole."""

    def __init__(
        self,
        transport: PlainHTTPTransport,
        connection: http.client.HTTPConnection,
        address: tuple[str, int],
        reply: http.client.HTTPResponse,
        request: httpx.Request,
    ) -> None:
        self._transport = transport
        self._connection: http.client.HTTPConnection | None = connection
        self._address = address
        self._reply = reply
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        with _mapped(self._request, httpx.ReadTimeout, httpx.ReadError):
            while chunk := self._reply.read1(CHUNK):
                yield chunk
            self._reply.read()  # b"": marks the response complete (read1 does not always)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._reply.isclosed() and not self._reply.will_close:
            self._transport._checkin(self._address, connection)
        else:
            connection.close()


@contextlib.contextmanager
def _mapped(
    request: httpx.Request,
    on_timeout: type[httpx.TimeoutException],
    on_error: type[httpx.NetworkError],
) -> Iterator[None]:
    """Raise the ``httpx`` exception for a socket or HTTP failure of ``request``."""
    try:
        yield
    except TimeoutError as exc:
        raise on_timeout(str(exc) or "timed out", request=request) from exc
    except http.client.HTTPException as exc:
        # The peer closed the connection early or broke HTTP/1.1: nothing whole came back.
        raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
    except OSError as exc:
        raise on_error(str(exc) or type(exc).__name__, request=request) from exc


def _readable(sock: socket.socket) -> bool:
    """Whether an idle connection has something to read: end of file, or bytes it should not."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
