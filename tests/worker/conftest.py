"""Fixtures for the worker tests: a job home and a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import os
import ssl
import threading
from collections.abc import Iterator

import pytest


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory; honours single ``Range: bytes=N-`` requests."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        self.server.requests.append((self.path, self.headers.get("Range")))  # type: ignore[attr-defined]
        path = self.translate_path(self.path)
        spec = self.headers.get("Range")
        if self.path.startswith("/flaky/"):
            return self._truncated(path)
        if self.path.startswith("/moved/"):
            self.send_response(302)
            self.send_header("Location", "/" + self.path.split("/", 2)[2])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if spec is None or not os.path.isfile(path):
            return super().send_head()
        start = int(spec.split("=", 1)[1].rstrip("-"))
        handle = open(path, "rb")  # noqa: SIM115
        size = os.fstat(handle.fileno()).st_size
        if start >= size:
            handle.close()
            self.send_error(416)
            return None
        handle.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        return handle

    def _truncated(self, path: str):  # type: ignore[no-untyped-def]
        """Announce the whole file, send half of it, and hang up."""
        with open(path, "rb") as handle:
            data = handle.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        return None


class Server:
    """Serves ``root`` on a free loopback port; over TLS when given a server ``context``."""

    def __init__(self, root: str, context: ssl.SSLContext | None = None) -> None:
        handler = lambda *args: _Handler(*args, directory=root)  # noqa: E731
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if context is not None:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "http" if context is None else "https"
        self.httpd.requests = []  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.root = root
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[tuple[str, str | None]]:
        return self.httpd.requests  # type: ignore[attr-defined, no-any-return]

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def put(self, path: str, data: bytes) -> str:
        full = os.path.join(self.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as handle:
            handle.write(data)
        return self.url(path)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server(tmp_path) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    root = tmp_path / "served"
    root.mkdir()
    server = Server(str(root))
    yield server
    server.stop()


@pytest.fixture
def home(tmp_path) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "jobhome"
    path.mkdir()
    return str(path)
