"""Work handed to threads and back: results indexes (written and fsynced in batches,
a task done only after its fsync) and worker starts cancelled midway; and a slot
given back by a run cancelled before it ever ran."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pydisco.master import indexwriter
from pydisco.master.indexwriter import IndexFile, IndexWriter
from pydisco.master.processes import reap_all, unsettled
from pydisco.master.scheduler import Scheduler
from pydisco.master.taskrun import Timers
from tests.master.helpers import events, make_pack, submit, wait
from tests.master.test_spawn import children, make_run


def write_all(indexes: list[IndexFile], writer: IndexWriter) -> list[Exception | None]:
    """Hand ``indexes`` to ``writer`` at once; their completions, in order."""

    async def scenario() -> list[Exception | None]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in indexes]
        for index, future in zip(indexes, futures, strict=True):
            writer.submit(index, future.set_result)
        return list(await asyncio.gather(*futures))

    return asyncio.run(scenario())


def test_indexes_complete_only_after_their_fsync(tmp_path):
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    writer = IndexWriter(fsync)
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

            writer.submit(IndexFile(path, f"0 {path} 2\n".encode()), done)
        assert await asyncio.gather(*futures) == [None] * 3

    asyncio.run(scenario())
    for path, synced_before in seen:
        assert path in synced_before  # its own fsync came before its completion
        assert Path(path).read_text() == f"0 {path} 2\n"


def test_indexes_queued_while_the_writer_is_busy_complete_after_their_fsyncs(tmp_path):
    """Indexes submitted while the writer is stuck in an fsync all complete once it is
    free, each only after its own fsync, and on the loop that submitted it."""
    gate = threading.Event()
    waiting = threading.Event()
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.endswith("first"):
            waiting.set()
            gate.wait(30)
        real_fsync(fd)
        synced.append(path)

    seen: list[tuple[str, list[str]]] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        writer = IndexWriter(fsync)
        names = ["first", "second", "third", "fourth"]
        futures = [loop.create_future() for _ in names]
        for n, (name, future) in enumerate(zip(names, futures, strict=True)):
            path = str(tmp_path / name)

            def done(error: Exception | None, path: str = path, future: Any = future) -> None:
                assert threading.current_thread() is threading.main_thread()
                seen.append((path, list(synced)))
                future.set_result(error)

            writer.submit(IndexFile(path, f"{name}\n".encode()), done)
            if n == 0:  # the writer is now busy with the first one
                await asyncio.to_thread(waiting.wait, 30)
        gate.set()
        assert await asyncio.gather(*futures) == [None] * 4

    asyncio.run(scenario())
    assert [path for path, _ in seen] == [
        str(tmp_path / n) for n in ("first", "second", "third", "fourth")
    ]
    for path, synced_before in seen:
        assert path in synced_before
        assert Path(path).read_text() == Path(path).name + "\n"


def test_failed_writes_and_fsyncs_are_reported_per_index(tmp_path):
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("bad-sync"):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    (tmp_path / "file").write_text("")
    good, no_dir, bad_sync = write_all(
        [
            IndexFile(str(tmp_path / "good"), b"ok\n"),
            IndexFile(str(tmp_path / "file" / "sub" / "x.results"), b"no\n"),
            IndexFile(str(tmp_path / "bad-sync"), b"io\n"),
        ],
        IndexWriter(fsync),
    )
    assert good is None and (tmp_path / "good").read_bytes() == b"ok\n"
    assert isinstance(no_dir, OSError)
    assert isinstance(bad_sync, OSError) and bad_sync.errno == errno.EIO
    assert len(os.listdir("/proc/self/fd")) < 100  # descriptors closed either way


def test_the_writer_survives_a_bug_in_a_batch(tmp_path, monkeypatch):
    real = indexwriter.write_indexes
    calls: list[int] = []

    def write_indexes(indexes: list[IndexFile], fsync: Any) -> list[Exception | None]:
        calls.append(len(indexes))
        if len(calls) == 1:
            raise RuntimeError("bug")
        return real(indexes, fsync)

    monkeypatch.setattr(indexwriter, "write_indexes", write_indexes)

    async def scenario() -> list[Exception | None]:
        loop = asyncio.get_running_loop()
        writer = IndexWriter()
        results = []
        for name in ("a", "b"):  # one after the other, through the same thread
            future = loop.create_future()
            writer.submit(IndexFile(str(tmp_path / name), f"{name}\n".encode()), future.set_result)
            results.append(await future)
        return results

    first, second = asyncio.run(scenario())
    assert isinstance(first, RuntimeError) and second is None
    assert (tmp_path / "b").read_bytes() == b"b\n"


def test_a_failed_index_write_is_a_task_error(tmp_path):
    """OSError saving the index (here the job home's ``.disco`` is a file, not a
    directory): the run is a task error, retried, and never counts as done."""
    (tmp_path / "not-a-dir").write_text("")
    pack = make_pack(tmp_path, "wordcount.sh", extra={".disco": tmp_path / "not-a-dir"})
    from pydisco.master import ReferenceMaster

    with ReferenceMaster.start_in_thread(
        tmp_path / "data", retry_delay=0.0, max_failure_rate=1
    ) as master:
        name = submit(master.url, pack)
        status, results = wait(master.url, name)
        log = events(master.url, name)
    assert status == "dead" and results == []
    warning = "WARNING: [map:0] Could not save the results index: [Errno 20] Not a directory"
    assert sum(m.startswith(warning) for m in log) == 2, log  # the run and its one retry
    assert not any(m.startswith("SYS: [map:0] Received results") for m in log)


def test_the_next_worker_starts_before_the_last_index_goes_to_the_writer(tmp_path, monkeypatch):
    """One slot, two tasks: the first task's results index is handed to the writer
    thread only after the second task's worker was started on the freed slot (the
    woken writer competes with the loop for the GIL), and both tasks still end done."""
    from pydisco.master import ReferenceMaster, processes

    starts: list[int] = []
    starts_at_submit: list[int] = []
    real_popen = processes.WorkerProcess._popen_once
    real_submit = indexwriter.INDEX_WRITER.submit

    def popen(self: processes.WorkerProcess) -> Any:
        starts.append(1)
        return real_popen(self)

    def submit_index(index: IndexFile, done: Any) -> None:
        starts_at_submit.append(len(starts))
        real_submit(index, done)

    monkeypatch.setattr(processes.WorkerProcess, "_popen_once", popen)
    monkeypatch.setattr(indexwriter.INDEX_WRITER, "submit", submit_index)
    pack = make_pack(tmp_path, inputs=[[0, 0, ["raw://a"]], [1, 0, ["raw://b"]]])
    with ReferenceMaster.start_in_thread(tmp_path / "data", nodes="localhost=1") as master:
        name = submit(master.url, pack)
        status, results = wait(master.url, name)
    assert status == "ready" and len(results) == 2
    # The first index waited for the second start (an ETXTBSY retry may count twice).
    assert len(starts_at_submit) == 2 and min(starts_at_submit) >= 2, starts_at_submit


#: Timers of a run whose start waits for a busy worker file, however late it is freed.
PATIENT = Timers(10.0, 10.0, 2.0, busy=60.0)


def busy_worker_file(home: Path) -> int:
    """Hold the worker file open for writing (a real ``ETXTBSY``), so its start goes to a
    thread that waits until the returned descriptor is closed."""
    make_run(home, "silent", [])  # puts behave.sh in place
    return os.open(home / "behave.sh", os.O_WRONLY)


def test_a_worker_started_for_a_cancelled_run_is_killed_and_reaped(tmp_path):
    before = children()
    fd = busy_worker_file(tmp_path)

    async def scenario() -> None:
        run = make_run(tmp_path, "silent", [], PATIENT)
        task = asyncio.ensure_future(run.run())
        await asyncio.sleep(0)  # its first step: the file is busy, the start goes to a thread
        assert not task.done() and run.pid is None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        os.close(fd)  # now the thread starts the worker, for a run that is gone
        await reap_all()  # waits for the start, then for the kill
        assert run.pid is None

    try:
        asyncio.run(scenario())
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    assert not unsettled()
    assert children() <= before  # killed and reaped: nothing left, not even a zombie


def test_a_worker_started_after_its_loop_closed_is_killed(tmp_path):
    before = children()
    fd = busy_worker_file(tmp_path)

    async def scenario() -> None:
        task = asyncio.ensure_future(make_run(tmp_path, "silent", [], PATIENT).run())
        await asyncio.sleep(0)
        assert unsettled()  # being started in a thread
        task.cancel()  # and the loop closes without reap_all

    asyncio.run(scenario())
    os.close(fd)  # the thread starts the worker now: its loop is closed
    deadline = time.monotonic() + 60
    while unsettled() or children() - before:  # started, then killed and reaped
        assert time.monotonic() < deadline, "the worker was not killed and reaped"
        time.sleep(0.01)


def test_a_run_cancelled_before_it_ran_gives_its_slot_back():
    class MasterJob:
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
        scheduler.submit(MasterJob(), start)
        [first] = scheduler._running
        first.cancel()  # before its first step: its coroutine never runs
        scheduler.submit(MasterJob(), start)
        await scheduler.drain()
        await asyncio.sleep(0)
        await scheduler.drain()
        assert scheduler.nodes["a"].running == 0
        assert scheduler.nodes["a"].tasks == []

    asyncio.run(scenario())
    assert ran == ["a"]
