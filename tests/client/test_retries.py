"""Bounded retries with backoff, against a real HTTP server on loopback that answers 503.

The reference master never answers 503, so a small ``http.server`` plays a busy
master: it answers 503 a given number of times, then as a master would.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pydisco.client import (
    AsyncMaster,
    ClientConfig,
    HTTPStatusError,
    Master,
    MasterUnreachable,
)

from .support import pack_bytes


class BusyMaster:
    """Answers 503 to the first ``busy`` requests, then like a Disco master."""

    def __init__(self) -> None:
        self.busy = 0
        self.requests: list[tuple[str, str, bytes]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with owner.lock:
                    owner.requests.append((self.command, self.path, body))
                    busy = owner.busy > 0
                    if busy:
                        owner.busy -= 1
                if busy:
                    status, reply = 503, b"Service Unavailable: the master is busy"
                elif self.path.startswith("/disco/version"):
                    status, reply = 200, b'"0.5.4"'
                elif self.path.startswith("/disco/job/new"):
                    status, reply = 200, json.dumps(["ok", "Busy@5a1:2:3"]).encode()
                else:
                    status, reply = 404, b"Not found."
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = _answer
            do_POST = _answer

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> BusyMaster:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def busy() -> Iterator[BusyMaster]:
    with BusyMaster() as server:
        yield server


def _recording(client: Master) -> list[float]:
    slept: list[float] = []
    client._sleep = slept.append
    return slept


def test_503_is_retried_with_growing_bounded_delays(busy: BusyMaster) -> None:
    busy.busy = 3
    with Master(busy.url, retries=5, backoff=0.001, max_backoff=0.003) as client:
        slept = _recording(client)
        assert client.version() == "0.5.4"
    assert len(busy.requests) == 4
    caps = [0.001, 0.002, 0.003]  # backoff * 2**n, capped by max_backoff
    assert len(slept) == 3
    assert all(0 <= delay <= cap for delay, cap in zip(slept, caps, strict=True))


def test_503_retries_stop_after_the_bound(busy: BusyMaster) -> None:
    busy.busy = 100
    with Master(busy.url, retries=2, backoff=0.0) as client:
        slept = _recording(client)
        with pytest.raises(HTTPStatusError) as info:
            client.version()
    assert info.value.status == 503 and "busy" in str(info.value)
    assert len(busy.requests) == 3 and len(slept) == 2


def test_a_retried_submission_sends_the_whole_pack_again(busy: BusyMaster, tmp_path: Path) -> None:
    data = pack_bytes(tmp_path)
    path = tmp_path / "job.pack"
    path.write_bytes(data)
    busy.busy = 2
    with Master(busy.url, backoff=0.0) as client:
        assert client.submit(path) == "Busy@5a1:2:3"
    assert [body for _m, _p, body in busy.requests] == [data, data, data]


def test_async_client_retries_the_same_way(busy: BusyMaster, tmp_path: Path) -> None:
    data = pack_bytes(tmp_path)

    async def scenario() -> tuple[str, str, Any]:
        async with AsyncMaster(busy.url, retries=2, backoff=0.0) as client:
            busy.busy = 2
            version = await client.version()
            busy.busy = 1
            with (tmp_path / "job.pack").open("wb") as out:
                out.write(data)
            name = await client.submit(tmp_path / "job.pack")
            busy.busy = 100
            try:
                await client.version()
            except HTTPStatusError as exc:
                return version, name, exc
            return version, name, None

    version, name, error = asyncio.run(scenario())
    assert version == "0.5.4" and name == "Busy@5a1:2:3"
    assert isinstance(error, HTTPStatusError) and error.status == 503
    # 3 for the version, 2 for the submission (each with the whole pack), 3 for the last call.
    assert len(busy.requests) == 8
    assert [body for _m, path, body in busy.requests if "job/new" in path] == [data, data]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_retried_then_unreachable_for_both_clients() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with Master(url, retries=3, backoff=0.001) as client:
        slept = _recording(client)
        with pytest.raises(MasterUnreachable) as info:
            client.version()
    assert len(slept) == 3
    assert url in str(info.value) and "DISCO_MASTER" in str(info.value)

    async def scenario() -> MasterUnreachable | None:
        async with AsyncMaster(url, retries=2, backoff=0.001) as client:
            try:
                await client.version()
            except MasterUnreachable as exc:
                return exc
        return None

    error = asyncio.run(scenario())
    assert error is not None and url in str(error)


@given(
    backoff=st.floats(0, 10, allow_nan=False),
    max_backoff=st.floats(0, 60, allow_nan=False),
    attempt=st.integers(0, 40),
)
def test_every_delay_is_within_its_cap(backoff: float, max_backoff: float, attempt: int) -> None:
    config = ClientConfig(backoff=backoff, max_backoff=max_backoff)
    assert 0 <= config.delay(attempt) <= min(backoff * 2**attempt, max_backoff)
