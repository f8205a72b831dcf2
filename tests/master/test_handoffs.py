"""Work handed to threads and back: results indexes (written and fsynced in batches,
a task done only after its fsync) and worker starts cancelled midway; and a slot
given back by a run cancelled before it ever ran."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pydisco.master import runner
from pydisco.master.runner import IndexFile, WorkerRun
from pydisco.master.scheduler import Scheduler
from tests.master.helpers import events, make_pack, submit, wait
from tests.master.test_spawn import make_run


def write_all(indexes: list[IndexFile]) -> list[Exception | None]:
    """Hand ``indexes`` to a fresh writer at once; their completions, in order."""

    async def scenario() -> list[Exception | None]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in indexes]
        writer = runner.IndexWriter()
        for index, future in zip(indexes, futures, strict=True):
            writer.submit(index, future.set_result)
        return list(await asyncio.gather(*futures))

    return asyncio.run(scenario())


def test_indexes_complete_only_after_their_fsync(tmp_path, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(runner.os, "fsync", fsync)
    paths = [str(tmp_path / ".disco" / f"map-{n}-1.results") for n in range(3)]  # no dir yet
    seen: list[tuple[str, list[str]]] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in paths]
        for path, future in zip(paths, futures, strict=True):

            def done(error: Exception | None, path: str = path, future: Any = future) -> None:
                assert threading.current_thread() is threading.main_thread()  # on the loop
                seen.append((path, list(synced)))
                future.set_result(error)

            runner.INDEX_WRITER.submit(IndexFile(path, f"0 {path} 2\n".encode()), done)
        assert await asyncio.gather(*futures) == [None] * 3

    asyncio.run(scenario())
    for path, synced_before in seen:
        assert path in synced_before  # its own fsync came before its completion
        assert Path(path).read_text() == f"0 {path} 2\n"


def test_a_batch_is_written_then_fsynced_and_handed_back_at_once(tmp_path, monkeypatch):
    """Indexes queued while the writer is busy go in one batch and one loop callback."""
    gate = threading.Event()
    batches: list[int] = []
    real_write = runner.write_indexes

    def write_indexes(indexes: list[IndexFile]) -> list[Exception | None]:
        gate.wait(5)
        batches.append(len(indexes))
        return real_write(indexes)

    monkeypatch.setattr(runner, "write_indexes", write_indexes)
    handed_back = 0

    async def scenario() -> list[Exception | None]:
        nonlocal handed_back
        loop = asyncio.get_running_loop()
        real_call = loop.call_soon_threadsafe

        def counting(callback: Any, *args: Any) -> Any:
            nonlocal handed_back
            handed_back += 1
            return real_call(callback, *args)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        writer = runner.IndexWriter()
        futures = [loop.create_future() for _ in range(4)]
        writer.submit(IndexFile(str(tmp_path / "first"), b"1\n"), futures[0].set_result)
        while not writer._queue.empty():  # the writer holds the first one (at the gate)
            await asyncio.sleep(0.001)
        for n, future in enumerate(futures[1:], 2):
            writer.submit(IndexFile(str(tmp_path / f"i{n}"), b"x\n"), future.set_result)
        gate.set()
        return list(await asyncio.gather(*futures))

    assert asyncio.run(scenario()) == [None] * 4
    assert batches == [1, 3]
    assert handed_back == 2


def test_failed_writes_and_fsyncs_are_reported_per_index(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("bad-sync"):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(runner.os, "fsync", fsync)
    (tmp_path / "file").write_text("")
    good, no_dir, bad_sync = write_all(
        [
            IndexFile(str(tmp_path / "good"), b"ok\n"),
            IndexFile(str(tmp_path / "file" / "sub" / "x.results"), b"no\n"),
            IndexFile(str(tmp_path / "bad-sync"), b"io\n"),
        ]
    )
    assert good is None and (tmp_path / "good").read_bytes() == b"ok\n"
    assert isinstance(no_dir, OSError)
    assert isinstance(bad_sync, OSError) and bad_sync.errno == errno.EIO
    assert len(os.listdir("/proc/self/fd")) < 100  # descriptors closed either way


def test_the_writer_survives_a_bug_in_a_batch(tmp_path, monkeypatch):
    real = runner.write_indexes
    calls: list[int] = []

    def write_indexes(indexes: list[IndexFile]) -> list[Exception | None]:
        calls.append(len(indexes))
        if len(calls) == 1:
            raise RuntimeError("bug")
        return real(indexes)

    monkeypatch.setattr(runner, "write_indexes", write_indexes)

    async def scenario() -> list[Exception | None]:
        loop = asyncio.get_running_loop()
        writer = runner.IndexWriter()
        results = []
        for name in ("a", "b"):  # one after the other, through the same thread
            future = loop.create_future()
            writer.submit(IndexFile(str(tmp_path / name), f"{name}\n".encode()), future.set_result)
            results.append(await future)
        return results

    first, second = asyncio.run(scenario())
    assert isinstance(first, RuntimeError) and second is None
    assert (tmp_path / "b").read_bytes() == b"b\n"


def test_a_failed_index_write_is_a_task_error(tmp_path, monkeypatch):
    """OSError saving the index: the run is a task error (retried), never done."""
    real = IndexFile.write_unsynced
    failed: list[str] = []

    def write_unsynced(self: IndexFile) -> int:
        if not failed:
            failed.append(self.path)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self)

    monkeypatch.setattr(IndexFile, "write_unsynced", write_unsynced)
    from pydisco.master import ReferenceMaster

    with ReferenceMaster.start_in_thread(tmp_path / "data", retry_delay=0.0) as master:
        name = submit(master.url, make_pack(tmp_path, "wordcount.sh"))
        status, results = wait(master.url, name)
        log = events(master.url, name)
    assert status == "ready" and len(results) == 1
    assert failed and not Path(failed[0]).exists()
    warning = "WARNING: [map:0] Could not save the results index: [Errno 28] No space left"
    assert any(m.startswith(warning) for m in log), log
    assert sum(m.startswith("SYS: [map:0] Received results") for m in log) == 1


def slow_start(monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[subprocess.Popen[bytes]]:
    """Make worker starts go to a thread (the file is busy for the loop) and take ``seconds``
    there; returns the started workers."""
    started: list[subprocess.Popen[bytes]] = []
    real = WorkerRun._popen_once

    def popen_once(self: WorkerRun) -> subprocess.Popen[bytes]:
        if threading.current_thread() is threading.main_thread():  # the loop's first try
            raise OSError(errno.ETXTBSY, os.strerror(errno.ETXTBSY))
        time.sleep(seconds)
        proc = real(self)
        started.append(proc)
        return proc

    monkeypatch.setattr(WorkerRun, "_popen_once", popen_once)
    return started


def test_a_worker_started_for_a_cancelled_run_is_killed_and_reaped(tmp_path, monkeypatch):
    started = slow_start(monkeypatch, 0.2)

    async def scenario() -> None:
        run = make_run(tmp_path, "silent", [])
        task = asyncio.ensure_future(run.run())
        await asyncio.sleep(0.05)  # Popen is under way in its thread
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not started
        await runner.reap_all()  # waits for the start, then for the kill
        assert run.pid is None

    asyncio.run(scenario())
    [proc] = started
    assert proc.returncode == -9
    assert proc.stdin is not None and proc.stdin.closed
    assert not runner._UNREAPED and not runner._STARTING


def test_a_worker_started_after_its_loop_closed_is_killed(tmp_path, monkeypatch):
    started = slow_start(monkeypatch, 0.2)

    async def scenario() -> None:
        task = asyncio.ensure_future(make_run(tmp_path, "silent", []).run())
        await asyncio.sleep(0.05)
        task.cancel()  # and the loop closes without reap_all

    asyncio.run(scenario())
    deadline = time.monotonic() + 5
    while not (started and started[0].returncode is not None):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert started[0].returncode == -9
    assert not runner._STARTING


def test_a_run_cancelled_before_it_ran_gives_its_slot_back():
    class Job:
        jobname = "J"

        def preferred_hosts(self) -> list[str]:
            return []

        def avoided_hosts(self) -> set[str]:
            return set()

    ran: list[str] = []

    async def start(task: Any, host: str) -> None:
        ran.append(host)

    async def scenario() -> None:
        scheduler = Scheduler({"a": 1})
        scheduler.submit(Job(), start)
        [first] = scheduler._running
        first.cancel()  # before its first step: its coroutine never runs
        scheduler.submit(Job(), start)
        await scheduler.drain()
        await asyncio.sleep(0)
        await scheduler.drain()
        assert scheduler.nodes["a"].running == 0
        assert scheduler.nodes["a"].tasks == []

    asyncio.run(scenario())
    assert ran == ["a"]
