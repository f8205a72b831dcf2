"""The blocking client's plain-http transport against a real HTTP/1.1 server on loopback.

Keep-alive reuse, an idle connection the server closed, chunked bodies both
ways, a server that never answers, and the promise that made it worth having:
no httpcore in a driver.
"""

from __future__ import annotations

import http.server
import select
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest

from pydisco.client import Master, MasterUnreachable
from pydisco.client._plainhttp import PlainHTTPTransport


class Server:
    """Answers ``GET /disco/version``, echoes POST bodies (chunked), holds ``/hold``."""

    def __init__(self) -> None:
        self.peers: list[tuple[str, int]] = []
        self.release = threading.Event()
        #: Every GET is held (no answer) until the server stops.
        self.holding = False
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, body: bytes, *, chunked: bool = False) -> None:
                self.send_response(200)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for piece in (body[:3], body[3:]):
                        self.wfile.write(b"%x\r\n%b\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def do_GET(self) -> None:
                owner.peers.append(self.client_address)
                if self.path == "/hold" or owner.holding:
                    owner.release.wait(60)
                    self.close_connection = True
                    return
                self._reply(b'"0.5.4"')
                if self.path == "/disco/version?close":
                    self.close_connection = True  # closed idle, without saying so

            def do_POST(self) -> None:
                body = b""
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    piece = self.rfile.read(size + 2)[:-2]
                    if size == 0:
                        break
                    body += piece
                self._reply(body, chunked=True)

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


def test_requests_share_one_kept_alive_connection(server: Server) -> None:
    with Master(server.url, retries=0) as master:
        assert [master.version() for _ in range(3)] == ["0.5.4"] * 3
    assert len(set(server.peers)) == 1


def test_an_idle_connection_closed_by_the_server_is_replaced(server: Server) -> None:
    transport = PlainHTTPTransport()
    with httpx.Client(transport=transport) as client:
        first = client.get(server.url + "/disco/version?close")
        assert first.json() == "0.5.4"
        (idle,) = [c for pool in transport._idle.values() for c in pool]
        assert idle.sock is not None
        closed, _, _ = select.select([idle.sock], [], [], 60)  # the server's close arrives
        assert closed
        second = client.get(server.url + "/disco/version")  # not sent on the dead one
        assert second.json() == "0.5.4"
    assert len(set(server.peers)) == 2


def test_chunked_bodies_both_ways(server: Server) -> None:
    with httpx.Client(transport=PlainHTTPTransport()) as client:
        pieces = [b"job ", b"", b"pack ", b"bytes"]
        reply = client.post(server.url + "/echo", content=iter(pieces))
        assert reply.content == b"job pack bytes"
        assert reply.headers["transfer-encoding"] == "chunked"


def test_a_server_that_never_answers_is_a_timeout(server: Server) -> None:
    with httpx.Client(transport=PlainHTTPTransport()) as client, pytest.raises(httpx.ReadTimeout):
        client.get(server.url + "/hold", timeout=0.3)
    server.holding = True
    with (
        Master(server.url, retries=0, timeout=0.3) as master,
        pytest.raises(MasterUnreachable, match=r"no answer within 0\.3 s"),
    ):
        master.version()


def test_a_blocking_driver_imports_no_httpcore(server: Server) -> None:
    code = (
        "import sys; from pydisco.client import Master; "
        f"m = Master({server.url!r}, retries=0); assert m.version() == '0.5.4'; m.close(); "
        "print(sorted(n for n in sys.modules if n.split('.')[0] in "
        "('httpcore', 'h11', 'anyio', 'trio', 'aiohttp', 'asyncio')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
