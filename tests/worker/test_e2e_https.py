"""End to end: a real worker reading https:// inputs from a local TLS server.

The server's self-signed certificate is made at test time with the
``openssl`` command. The worker verifies certificates against the default
trust store (``SSL_CERT_FILE`` / ``SSL_CERT_DIR``) plus ``PYDISCO_WORKER_CAFILE``.
"""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pydisco.protocol import Fail, InputErr, Replica, Retry
from pydisco.worker.schemes import CAFILE_ENV

from .conftest import Server
from .scripted_master import PYTHON, ScriptedMaster, data_input, make_task

BEHAVIOURS = os.path.join(os.path.dirname(__file__), "behaviours.py")
TLS_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", CAFILE_ENV)


def make_certificate(directory: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    cert, key = str(directory / "cert.pem"), str(directory / "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", key, "-out", cert,
            "-subj", "/CN=pydisco test server", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class TlsServer(Server):
    cert: str


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_server(tmp_path: Path, certificate: tuple[str, str]) -> Iterator[TlsServer]:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    root = tmp_path / "served-tls"
    root.mkdir()
    server = TlsServer(str(root), context)
    server.cert = cert
    yield server
    server.stop()


def worker_env(**tls: str) -> dict[str, str]:
    """The test's environment without TLS settings, then ``tls``."""
    env = {key: value for key, value in os.environ.items() if key not in TLS_ENV}
    env.update(tls)
    return env


def run_copy(home: str, inputs: list[Any], env: dict[str, str], **kwargs: Any) -> Any:
    master = ScriptedMaster(
        [PYTHON, BEHAVIOURS, "copy"], home, make_task(home), inputs=inputs, env=env, **kwargs
    )
    return master.run()


def output_bytes(home: str, run: Any) -> bytes:
    (output,) = run.named("OUTPUT")
    with open(os.path.join(home, output.location), "rb") as handle:
        return handle.read()


def assert_done(run: Any) -> None:
    assert run.protocol_error is None, run.raw
    assert run.closing is not None and run.closing.NAME == "DONE", run.closing
    assert run.returncode == 0


@pytest.mark.parametrize("setting", ["SSL_CERT_FILE", CAFILE_ENV])
def test_https_input_with_the_ca_given(home: str, https_server: TlsServer, setting: str) -> None:
    payload = b"".join(b"secure line %d\n" % number for number in range(20_000))
    url = https_server.put("data/part-0", payload)
    assert url.startswith("https://127.0.0.1:")
    run = run_copy(home, [data_input(0, url)], worker_env(**{setting: https_server.cert}))
    assert_done(run)
    assert output_bytes(home, run) == payload
    assert run.named("INPUT_ERR") == []
    assert [path for path, _ in https_server.requests] == ["/data/part-0"]


def test_https_redirect_and_range_resume(
    home: str, https_server: TlsServer, http_server: Server
) -> None:
    payload = b"".join(b"%07d\n" % number for number in range(100_000))
    https_server.put("flaky/big.txt", payload)
    https_server.put("big.txt", payload)
    replicas = [https_server.url("flaky/big.txt"), https_server.url("moved/big.txt")]
    run = run_copy(home, [data_input(0, *replicas)], worker_env(**{CAFILE_ENV: https_server.cert}))
    assert_done(run)
    assert output_bytes(home, run) == payload
    paths = [path for path, _ in https_server.requests]
    assert paths == ["/flaky/big.txt", "/moved/big.txt", "/big.txt"]
    assert https_server.requests[2][1] is not None  # resumed with a Range request


def test_untrusted_certificate_is_a_failed_replica(home: str, https_server: TlsServer) -> None:
    url = https_server.put("data/part-0", b"never read\n")
    seen: list[InputErr] = []

    def on_input_err(message: InputErr) -> Fail:
        seen.append(message)
        return Fail("")

    run = run_copy(home, [data_input(5, url)], worker_env(), on_input_err=on_input_err)
    assert run.protocol_error is None, run.raw
    assert run.closing.NAME == "ERROR"  # retryable: not FATAL, not a crash
    assert run.returncode == 1
    assert [(message.input_id, message.replica_ids) for message in seen] == [(5, (0,))]
    assert "CERTIFICATE_VERIFY_FAILED" in run.closing.text
    assert url in run.closing.text
    assert https_server.requests == []  # no request went over the untrusted connection


def test_untrusted_replica_falls_back_to_the_next(
    home: str, https_server: TlsServer, http_server: Server
) -> None:
    bad = https_server.put("a.txt", b"untrusted\n")
    good = http_server.put("a.txt", b"trusted copy\n")
    run = run_copy(home, [data_input(0, bad, good)], worker_env())
    assert_done(run)
    assert output_bytes(home, run) == b"trusted copy\n"
    assert run.named("INPUT_ERR") == []


def test_untrusted_then_retry_with_a_trusted_replica(
    home: str, https_server: TlsServer, http_server: Server
) -> None:
    bad = https_server.put("a.txt", b"untrusted\n")
    good = http_server.put("b.txt", b"from the retry\n")
    run = run_copy(
        home,
        [data_input(2, bad)],
        worker_env(),
        on_input_err=lambda message: Retry((Replica(1, good),)),
    )
    assert_done(run)
    assert output_bytes(home, run) == b"from the retry\n"
    assert [(m.input_id, m.replica_ids) for m in run.named("INPUT_ERR")] == [(2, (0,))]


def test_unreadable_ca_file_is_a_data_error(home: str, https_server: TlsServer) -> None:
    url = https_server.put("a.txt", b"x\n")
    missing = os.path.join(home, "no-such-ca.pem")
    run = run_copy(home, [data_input(0, url)], worker_env(**{CAFILE_ENV: missing}))
    assert run.protocol_error is None, run.raw
    assert run.closing.NAME == "ERROR"
    assert CAFILE_ENV in run.closing.text and "no-such-ca.pem" in run.closing.text
    assert len(run.named("INPUT_ERR")) == 1
