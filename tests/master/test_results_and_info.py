"""get_results waits that end early (client gone, master stopping, cancellation), and
jobinfo's failure counts (facts §9.2), over real HTTP with real sh workers."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pydisco.master import ReferenceMaster
from tests.master.helpers import events, make_pack, submit, wait


def post(url: str, op: str, body: Any, timeout: float = 30) -> Any:
    reply = httpx.post(f"{url}/disco/ctrl/{op}", content=json.dumps(body), timeout=timeout)
    assert reply.status_code == 200, reply.text
    return reply.json()


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@pytest.fixture
def no_leaks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail on any RuntimeWarning (``coroutine ... was never awaited``) from any thread,
    and on asyncio's ``Task was destroyed but it is pending`` reports."""
    caplog.set_level(logging.ERROR, logger="asyncio")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        yield
        gc.collect()
    leaked = [str(w.message) for w in seen if issubclass(w.category, RuntimeWarning)]
    assert not leaked, leaked
    destroyed = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert not destroyed, destroyed


def start_silent_job(url: str, tmp_path: Any) -> str:
    """A job whose worker says nothing for 30 s: it stays active until killed."""
    return submit(url, make_pack(tmp_path, "behave.sh", envs={"MODE": "silent"}))


def raw_get_results(port: int, body: Any) -> socket.socket:
    """Send a get_results request on a bare socket and return it unread."""
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    head = (
        f"POST /disco/ctrl/get_results HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    sock.sendall(head.encode() + data)
    return sock


def test_client_gone_during_wait_and_unknown_names(tmp_path, no_leaks):
    with ReferenceMaster.start_in_thread(tmp_path / "data", retry_delay=0.0) as master:
        url = master.url
        name = start_silent_job(url, tmp_path)
        job = master.state.jobs[name]
        for body in ([60_000, [name]], [60_000, ["nosuch", name, "other", name]]):
            sock = raw_get_results(master.port, body)
            wait_for(lambda: job.end_watchers)  # the request is waiting on the job
            sock.close()  # the client goes away mid-wait
        # Unknown names keep Disco's status, next to an active job, in request order.
        reply = post(url, "get_results", [200, ["nosuch", name, "nosuch"]])
        assert reply == [
            ["nosuch", ["unknown job", []]],
            [name, ["active", []]],
            ["nosuch", ["unknown job", []]],
        ]
        assert post(url, "kill_job", name) == ""
        assert wait(url, name) == ("dead", [])
        wait_for(lambda: not job.end_watchers)  # the abandoned waits ended with the job
        # Only unknown names, or a non-positive timeout: an immediate reply.
        assert post(url, "get_results", [10**40, ["nosuch"]]) == [["nosuch", ["unknown job", []]]]
        assert post(url, "get_results", [-5, [name]]) == [[name, ["dead", []]]]


def test_huge_timeout_ends_when_the_job_does(tmp_path, no_leaks):
    with ReferenceMaster.start_in_thread(tmp_path / "data", retry_delay=0.0) as master:
        name = start_silent_job(master.url, tmp_path)
        got: list[Any] = []
        waiter = threading.Thread(
            target=lambda: got.append(post(master.url, "get_results", [10**30, ["x", name]], 60))
        )
        waiter.start()
        wait_for(lambda: master.state.jobs[name].end_watchers)
        post(master.url, "kill_job", name)
        waiter.join(30)
        assert got == [[["x", ["unknown job", []]], [name, ["dead", []]]]]


def test_master_stopping_during_wait(tmp_path, no_leaks):
    master = ReferenceMaster.start_in_thread(tmp_path / "data", retry_delay=0.0)
    name = start_silent_job(master.url, tmp_path)
    got: list[Any] = []

    def ask() -> None:
        try:
            got.append(post(master.url, "get_results", [60_000, ["nosuch", name]], 60))
        except httpx.HTTPError as exc:
            got.append(exc)

    waiters = [threading.Thread(target=ask) for _ in range(3)]
    for thread in waiters:
        thread.start()
    wait_for(lambda: len(master.state.jobs[name].end_watchers) == 3)
    master.stop()
    for thread in waiters:
        thread.join(30)
    # Stopping kills the job, which ends each wait with the job's final status.
    assert got == [[["nosuch", ["unknown job", []]], [name, ["dead", []]]]] * 3


def test_cancelled_wait_leaves_nothing_behind(tmp_path, no_leaks):
    with ReferenceMaster.start_in_thread(tmp_path / "data", retry_delay=0.0) as master:
        name = start_silent_job(master.url, tmp_path)
        job = master.state.jobs[name]

        async def cancel_mid_wait() -> tuple[int, int, set[Any]]:
            before = asyncio.all_tasks()
            request = asyncio.ensure_future(master.state.get_results(60_000, ["nosuch", name]))
            deadline = time.monotonic() + 20
            while not job.end_watchers:  # the wait has started watching the job
                assert time.monotonic() < deadline, "the wait never started"
                await asyncio.sleep(0.001)
            watching = len(job.end_watchers)
            spawned = asyncio.all_tasks() - before - {request, asyncio.current_task()}
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
            await asyncio.sleep(0)
            return watching, len(job.end_watchers), spawned

        watching, left, spawned = master.call(cancel_mid_wait())
        assert (watching, left, spawned) == (1, 0, set())  # nothing spawned, nothing left
        assert post(master.url, "get_results", [0, [name]]) == [[name, ["active", []]]]


# -- jobinfo failure counts ------------------------------------------------------------------


def pipeline_of(url: str, name: str) -> list[list[Any]]:
    reply = httpx.get(f"{url}/disco/ctrl/jobinfo", params={"name": name}, timeout=30)
    assert reply.status_code == 200
    info = reply.json()
    assert info["active"] == "dead"
    return list(info["pipeline"])


def test_jobinfo_counts_the_fatal_failure(tmp_path):
    data = tmp_path / "data"
    with ReferenceMaster.start_in_thread(data, retry_delay=0.0) as master:
        name = submit(master.url, make_pack(tmp_path, "behave.sh", envs={"MODE": "fatal"}))
        assert wait(master.url, name) == ("dead", [])
        assert "FATAL: [map:0] kaput" in events(master.url, name)
        [[stage, pending, _waiting, running, done, failed]] = pipeline_of(master.url, name)
        assert (stage, pending, running, done, failed) == ("map", 0, 0, 0, 1)
    with ReferenceMaster.start_in_thread(data, retry_delay=0.0) as again:  # saved on disk too
        assert pipeline_of(again.url, name)[0][5] == 1


def test_jobinfo_counts_every_error_up_to_the_limit(tmp_path):
    with ReferenceMaster.start_in_thread(tmp_path / "data", retry_delay=0.0) as master:
        assert post(master.url, "save_settings", {"max_failure_rate": "2"}) == "Settings saved"
        name = submit(master.url, make_pack(tmp_path, "behave.sh", envs={"MODE": "error"}))
        assert wait(master.url, name) == ("dead", [])
        log = events(master.url, name)
        assert "ERROR: [map:0] Task map:0 failed 3 times. At most 2 failures are allowed." in log
        [[stage, pending, _waiting, running, done, failed]] = pipeline_of(master.url, name)
        assert (stage, pending, running, done, failed) == ("map", 0, 0, 0, 3)


def test_jobinfo_counts_a_protocol_fatal(tmp_path):
    with ReferenceMaster.start_in_thread(tmp_path / "data", retry_delay=0.0) as master:
        name = submit(master.url, make_pack(tmp_path, "behave.sh", envs={"MODE": "badjson"}))
        assert wait(master.url, name) == ("dead", [])
        assert pipeline_of(master.url, name)[0][5] == 1
