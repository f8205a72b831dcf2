"""An unknown job's message names the causes that fit the master that answered (issue #13, 6).

pydisco's reference master keeps its jobs across restarts and says so with a
response header real Disco lacks (:mod:`pydisco.identity`); a real Disco master
forgets its jobs when it restarts. The "real Disco" side is a stand-in HTTP server
that answers these requests as Disco 0.5.4 does (mochiweb headers, 404
``Not found.`` for ``jobinfo``, ``unknown job`` from ``get_results``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from pydisco import __version__
from pydisco.client import JobUnknown, Master
from pydisco.identity import HEADER

from .conftest import InProcess

UNKNOWN = "nosuch@1:2:3"
RESTART = "jobs from before the master's last restart"


class _DiscoLike(BaseHTTPRequestHandler):
    """Answers ``version``, and ``jobinfo`` and ``get_results`` for unknown jobs, as Disco
    0.5.4 does."""

    server_version = "MochiWeb/1.0"
    sys_version = ""

    def do_GET(self) -> None:
        if self.path == "/disco/version":
            self._send(200, b'"0.5.4"', "application/json")
        else:
            self._send(404, b"Not found.", "text/plain")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/disco/ctrl/get_results":
            rows = [[name, ["unknown job", []]] for name in body[1]]
            self._send(200, json.dumps(rows).encode(), "application/json")
        else:
            self._send(404, b"Not found.", "text/plain")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def disco_like() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DiscoLike)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_reference_master_marks_every_reply(live_master: Any) -> None:
    for path in ("/disco/version", "/disco/ctrl/jobinfo?name=" + UNKNOWN, "/"):
        reply = httpx.get(live_master.url + path)
        assert reply.headers[HEADER] == __version__, path


@pytest.mark.parametrize("verb", ["info", "events", "kill", "clean", "purge", "wait", "results"])
def test_on_the_reference_master_no_restart_is_blamed(live_master: Any, verb: str) -> None:
    result = InProcess(live_master.url)(verb, UNKNOWN)
    assert result.exit_code == 1
    assert f"does not know the job '{UNKNOWN}'" in result.output
    assert "cleaned and purged jobs are gone" in result.output
    assert "restart" not in result.output


@pytest.mark.parametrize("verb", ["info", "kill", "clean", "purge", "wait", "results"])
def test_on_a_real_disco_master_the_restart_is_named(disco_like: str, verb: str) -> None:
    result = InProcess(disco_like)(verb, UNKNOWN)
    assert result.exit_code == 1
    assert f"does not know the job '{UNKNOWN}'" in result.output
    assert RESTART in result.output
    assert "reference master" not in result.output


def test_the_client_knows_which_master_answered(live_master: Any, disco_like: str) -> None:
    with Master(disco_like) as disco, Master(live_master.url) as reference:
        assert disco.reference_master is None and reference.reference_master is None
        with pytest.raises(JobUnknown) as from_disco:
            disco.jobinfo(UNKNOWN)
        with pytest.raises(JobUnknown) as from_reference:
            reference.wait(UNKNOWN)
        assert disco.reference_master is False and reference.reference_master is True
    assert from_disco.value.reference_master is False and RESTART in str(from_disco.value)
    assert from_reference.value.reference_master is True
    assert "restart" not in str(from_reference.value)


def test_version_says_which_kind_of_master_answers(live_master: Any, disco_like: str) -> None:
    reference = InProcess(live_master.url)("version")
    assert f"master: 0.5.4 ({live_master.url}, pydisco's reference master)" in reference.output
    disco = InProcess(disco_like)("version")
    assert f"master: 0.5.4 ({disco_like}, a Disco master)" in disco.output
    as_json = json.loads(InProcess(disco_like)("--json", "version").stdout)
    assert as_json == {"client": __version__, "master": "0.5.4", "reference_master": False}
