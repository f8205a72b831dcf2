"""Submitting streams the job pack: a large pack is sent in bounded memory, by both clients.

A real HTTP server on loopback takes the body in small pieces and keeps only
their count and a checksum; ``tracemalloc`` measures what Python allocates
meanwhile (the server thread included).
"""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import json
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from pydisco.client import AsyncMaster, Master

from .support import pack_bytes

#: Size of the job data of the submitted pack.
DATA_BYTES = 48 << 20
#: Peak Python memory allowed while submitting it.
LIMIT = 12 << 20


class Sink:
    def __init__(self) -> None:
        self.received: list[tuple[int, str]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                left = int(self.headers["Content-Length"])
                digest = hashlib.sha256()
                total = 0
                while left:
                    piece = self.rfile.read(min(left, 1 << 16))
                    if not piece:
                        break
                    digest.update(piece)
                    total += len(piece)
                    left -= len(piece)
                owner.received.append((total, digest.hexdigest()))
                reply = json.dumps(["ok", "Big@5a1:2:3"]).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def big_pack(tmp_path: Path, data_bytes: int) -> Path:
    """A valid binary job pack whose job data (the file's tail) is ``data_bytes`` long."""
    path = tmp_path / "big.pack"
    with path.open("wb") as out:
        out.write(pack_bytes(tmp_path))
        block = bytes(range(256)) * 4096
        for _ in range(data_bytes // len(block)):
            out.write(block)
    return path


def _checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_both_clients_submit_a_large_pack_in_bounded_memory(sink: Sink, tmp_path: Path) -> None:
    path = big_pack(tmp_path, DATA_BYTES)
    expected = (path.stat().st_size, _checksum(path))

    def submit_sync() -> str:
        with Master(sink.url) as client:
            return client.submit(path)

    async def submit_async() -> str:
        async with AsyncMaster(sink.url) as client:
            return await client.submit(path)

    peaks = []
    for submit in (submit_sync, lambda: asyncio.run(submit_async())):
        tracemalloc.start()
        try:
            assert submit() == "Big@5a1:2:3"
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert sink.received == [expected, expected]
    assert max(peaks) < LIMIT, f"peak Python memory {peaks} bytes for a {expected[0]}-byte pack"
