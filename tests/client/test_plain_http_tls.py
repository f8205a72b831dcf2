"""A client for an ``http://`` master makes its TLS context only when sent to ``https://``,
and still verifies there.

Real servers on loopback: a plain HTTP "master" that redirects to a TLS
server whose self-signed certificate is made at test time with ``openssl``.
"""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator

import pytest

from pydisco.client import Master, MasterUnreachable


class _Version(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'"0.5.4"'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(server: http.server.ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def tls_version(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``(https URL of /disco/version, certificate file)``."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = str(directory / "cert.pem"), str(directory / "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", key, "-out", cert,
            "-subj", "/CN=pydisco test", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Version)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = _serve(server)
    yield f"https://127.0.0.1:{server.server_address[1]}/disco/version", cert
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def redirecting(tls_version: tuple[str, str]) -> Iterator[str]:
    """A plain-http "master" whose every answer redirects to the TLS server."""
    target = tls_version[0]

    class Redirect(_Version):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = _serve(server)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_an_https_redirect_is_verified(redirecting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    with Master(redirecting, retries=0) as master, pytest.raises(MasterUnreachable):
        master.version()  # a self-signed certificate: refused


def test_an_https_redirect_to_a_trusted_server_works(
    redirecting: str, tls_version: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", tls_version[1])
    with Master(redirecting, retries=0) as master:
        assert master.version() == "0.5.4"
