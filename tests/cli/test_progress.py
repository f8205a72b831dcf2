"""Progress display: plain lines off a terminal, rich bars on one."""

from __future__ import annotations

import pytest

from pydisco.cli._progress import Progress
from pydisco.client import JobInfo, JobStatus, StageCounts


def _info(status: JobStatus, *rows: tuple[str, int, int, int, int, int]) -> JobInfo:
    return JobInfo(
        name="J@1",
        timestamp="2024/01/01 00:00:00",
        status=status,
        stages=tuple(StageCounts(*row) for row in rows),
        results=(),
        inputs=(),
        worker="w",
        hosts=(),
        owner="o",
    )


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_when_something_changes_with_elapsed_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = Clock()
    running = _info(JobStatus.ACTIVE, ("map", 0, 1, 1, 0, 0), ("reduce", 0, 0, 0, 0, 0))
    done = _info(JobStatus.READY, ("map", 0, 0, 0, 2, 0), ("reduce", 0, 0, 0, 1, 0))
    with Progress("J@1", live=False, clock=clock) as progress:
        progress(running)
        clock.now += 29
        progress(running)
        clock.now += 96
        progress(done)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "J@1: active [map] 0 pending, 1 waiting, 1 running, 0 done, 0 failed (0s)",
        "J@1: ready [reduce] 0 pending, 0 waiting, 0 running, 1 done, 0 failed (2m05s)",
    ]


def test_piped_progress_repeats_itself_every_30_seconds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = Clock()
    running = _info(JobStatus.ACTIVE, ("map", 0, 0, 1, 0, 0))
    with Progress("J@1", live=False, clock=clock) as progress:
        for _ in range(7):  # polls every 10 s, nothing changes for a minute
            progress(running)
            clock.now += 10
    lines = capsys.readouterr().err.splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["(0s)", "(30s)", "(1m00s)"]


def test_live_bars_accept_stages_without_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("J@1", live=True) as progress:
        progress(_info(JobStatus.ACTIVE, ("map", 0, 0, 2, 0, 0), ("reduce", 0, 0, 0, 0, 0)))
        progress(_info(JobStatus.READY, ("map", 0, 0, 0, 2, 0), ("reduce", 0, 0, 0, 1, 0)))
    err = capsys.readouterr().err
    assert "map" in err and "2/2 done" in err and "1/1 done" in err
