"""The kit's data server: a Disco node's HTTP file server on 127.0.0.1.

It serves the files a scenario registers, and ``/disco/<path>`` from the
scenario's ``disco_data`` directory (as every Disco node does on
``DISCO_PORT``), answers 404 for anything else and 500 under ``/broken/``.
Every request is logged, so the kit can tell which inputs a worker fetched.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import attrs

__all__ = ["DataServer", "Request"]


@attrs.frozen(slots=True)
class Request:
    """One request the server answered."""

    at: float
    method: str
    path: str
    status: int


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        status, body = self.server.owner.lookup(self.path)
        self.server.owner.log(self.command, self.path, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: DataServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class DataServer:
    """A background HTTP server; use as a context manager."""

    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self.disco_data: Path | None = None
        self._server = _Server(self)
        # A short poll interval: shutdown() waits for it, once per kit run.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    def __enter__(self) -> DataServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """The URL of ``path`` on this server."""
        return f"http://{host}:{self.port}{path}"

    def reset(self, disco_data: Path) -> None:
        """Forget files and requests; serve ``/disco/`` from ``disco_data``."""
        with self._lock:
            self._files.clear()
            self._requests.clear()
            self.disco_data = disco_data

    def add(self, path: str, body: bytes) -> None:
        """Serve ``body`` at ``path``."""
        with self._lock:
            self._files[path] = body

    def log(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append(Request(time.monotonic(), method, path, status))

    def take_requests(self) -> list[Request]:
        """The requests answered since the last call."""
        with self._lock:
            taken, self._requests = self._requests, []
        return taken

    def lookup(self, raw_path: str) -> tuple[int, bytes]:
        path = raw_path.split("?", 1)[0]
        with self._lock:
            body = self._files.get(path)
            data = self.disco_data
        if body is not None:
            return 200, body
        if path.startswith("/broken/"):
            return 500, b"Access failed"
        if path.startswith("/disco/") and data is not None:
            relative = unquote(path[len("/disco/") :])
            parts = [part for part in relative.split("/") if part]
            if parts and ".." not in parts:
                target = data.joinpath(*parts)
                if target.is_file():
                    return 200, target.read_bytes()
        return 404, b"Not found."
