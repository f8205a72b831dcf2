"""Starting workers: a worker file briefly held open for writing (``ETXTBSY``), and
cleanup of workers that end or are cancelled. Real sh workers, real pipes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import attrs
import pytest

from pydisco.master.grouping import AssignedInput
from pydisco.master.processes import reap_all, unsettled
from pydisco.master.taskrun import RunDone, RunError, TaskRun, Timers
from pydisco.protocol import TaskInfo
from tests.master.helpers import WORKERS


@attrs.define
class FakeTaskInputs:
    """The inputs a run reads (what a master Task would hold)."""

    inputs: list[AssignedInput]
    inputs_done: bool = True


def make_run(
    home: Path,
    mode: str,
    events: list[str],
    timers: Timers | None = None,
    task: Any = None,
) -> TaskRun:
    worker = home / "behave.sh"
    if not worker.exists():
        shutil.copy(WORKERS / "behave.sh", worker)
    info = TaskInfo(
        taskid=0,
        master="http://127.0.0.1:1",
        disco_port=1,
        put_port=2,
        ddfs_data=str(home),
        disco_data=str(home),
        stage="map",
        grouping="split",
        group=(0, ""),
        jobfile=str(home / "jobfile"),
        jobname="Spawn@1:2:3",
        host="localhost",
    )
    return TaskRun(
        argv=[str(worker)],
        home=home,
        env={**os.environ, "MODE": mode},
        info=info,
        task=task or FakeTaskInputs([AssignedInput((-1, 0), 0, ("raw://x",))]),
        emit=lambda text, host: events.append(text),
        timers=timers or Timers(10.0, 10.0, 2.0),
    )


def children() -> set[int]:
    """The pids of this process's children, live or not yet reaped."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            pids.update(int(p) for p in (task / "children").read_text().split())
    return pids


def held_for_writing(path: Path, seconds: float) -> None:
    """Keep ``path`` open for writing (as a forked, not yet exec'd child would) a while."""
    fd = os.open(path, os.O_WRONLY)
    asyncio.get_running_loop().call_later(seconds, os.close, fd)


def test_busy_worker_file_is_retried(tmp_path):
    async def scenario() -> Any:
        events: list[str] = []
        run = make_run(tmp_path, "ok", events)
        held_for_writing(tmp_path / "behave.sh", 0.1)
        outcome = await run.run()
        await reap_all()
        return outcome, events

    outcome, events = asyncio.run(scenario())
    assert outcome == RunDone(())
    assert any(e.startswith("DONE: [map:0]") for e in events)


def test_pid_timer_is_disarmed_once_the_worker_speaks(tmp_path):
    """Once WORKER has arrived, the PID timer no longer runs.

    The worker pauses longer than the PID timeout between WORKER and TASK, with
    nothing half-written, which Disco allows (no timer runs then).
    """

    async def scenario() -> Any:
        events: list[str] = []
        # The worker pauses 2.5 s after WORKER; it has 2 s to send WORKER, even when slow.
        run = make_run(tmp_path, "pause", events, Timers(2.0, 2.0, 2.0))
        outcome = await run.run()
        await reap_all()
        return outcome, events

    outcome, events = asyncio.run(scenario())
    assert outcome == RunDone(()), events
    assert not any("did not send its PID" in e for e in events)


def test_busy_worker_file_gives_up_in_the_end(tmp_path):
    run = make_run(tmp_path, "ok", [], Timers(10.0, 10.0, 2.0, busy=0.02))
    fd = os.open(tmp_path / "behave.sh", os.O_WRONLY)  # busy for as long as the run waits
    try:
        outcome = asyncio.run(run.run())
    finally:
        os.close(fd)
    assert isinstance(outcome, RunError)
    assert outcome.reason.startswith("Worker could not be started:")
    assert "busy" in outcome.reason.lower()


@pytest.mark.parametrize("mode", ["ok", "crash", "silent"])
def test_no_pipe_or_process_left_behind(tmp_path, mode):
    """After a run ends (done, crashed) or is cancelled (silent), its pipes are closed
    and the worker is reaped."""

    async def scenario() -> tuple[Any, int | None]:
        run = make_run(tmp_path, mode, [])
        if mode == "silent":
            task = asyncio.ensure_future(run.run())
            while run.pid is None:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            outcome: Any = None
        else:
            outcome = await run.run()
        await reap_all()
        return outcome, run.pid

    before = len(os.listdir("/proc/self/fd"))
    outcome, pid = asyncio.run(scenario())
    assert pid is not None and pid not in children()  # reaped: not even a zombie
    assert not unsettled()
    assert len(os.listdir("/proc/self/fd")) <= before  # its pipes are closed
    if mode == "ok":
        assert outcome == RunDone(())
    elif mode == "crash":
        assert isinstance(outcome, RunError) and "exit code: 7" in outcome.reason


class BrokenTaskInputs:
    """A task whose inputs cannot be read: a bug on the master's side of the run."""

    inputs_done = True

    @property
    def inputs(self) -> list[AssignedInput]:
        raise RuntimeError("bug in INPUT")


def test_a_bug_answering_a_message_ends_the_run_instead_of_hanging(tmp_path):
    """A bug while answering a message reaches the run's caller (which turns it into the
    job's fatal internal error) instead of leaving the run waiting for the worker."""

    async def scenario() -> None:
        run = make_run(tmp_path, "ok", [], task=BrokenTaskInputs())
        try:
            with pytest.raises(RuntimeError, match="bug in INPUT"):
                await asyncio.wait_for(run.run(), 10)
        finally:
            await reap_all()

    asyncio.run(scenario())
    assert not unsettled()


def test_a_worker_that_cannot_be_executed_is_a_task_error(tmp_path):
    """Started on the loop, an exec failure (here a worker file without the execute
    bit) is reported at once as the run's error, with the OS's reason."""
    shutil.copy(WORKERS / "behave.sh", tmp_path / "behave.sh")
    (tmp_path / "behave.sh").chmod(0o644)

    async def scenario() -> Any:
        return await make_run(tmp_path, "ok", []).run()

    outcome = asyncio.run(scenario())
    assert isinstance(outcome, RunError)
    assert outcome.reason.startswith("Worker could not be started:")
    assert "Permission denied" in outcome.reason
