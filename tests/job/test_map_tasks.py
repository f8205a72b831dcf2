"""How local text files become map tasks: a multiple of the slots, or as the job says."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examples.jobs.wordcount import wordcount
from pydisco.job import Job, JobDefinitionError, Source
from pydisco.job.sources import (
    MAX_TASK_BYTES,
    MIN_TASK_BYTES,
    TASKS_PER_SLOT,
    default_map_tasks,
    plan_map_tasks,
)

MiB = 1 << 20


@pytest.mark.parametrize(
    ("size_mib", "slots", "tasks"),
    [
        (1, 2, 1),  # not worth a second worker start
        (16, 2, 1),
        (20, 2, 2),  # both slots, one task each
        (50, 2, 2),
        (64, 2, 4),  # two tasks per slot from here on
        (200, 2, 4),
        (400, 2, 4),
        (1024, 2, 4),
        (1100, 2, 6),  # tasks would pass MAX_TASK_BYTES: more, still a multiple of the slots
        (200, 4, 8),
        (50, 8, 4),  # fewer tasks than slots: each keeps MIN_TASK_BYTES
        (400, 1, 2),
    ],
)
def test_default_map_tasks_for_slots_and_sizes(size_mib: int, slots: int, tasks: int) -> None:
    assert default_map_tasks(size_mib * MiB, slots) == tasks


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 64 * 1024 * MiB), st.integers(1, 256))
def test_default_map_tasks_rules(total: int, slots: int) -> None:
    tasks = default_map_tasks(total, slots)
    assert tasks >= 1
    if total >= slots * MIN_TASK_BYTES:
        assert tasks % slots == 0
        assert total / tasks <= MAX_TASK_BYTES
    if total >= TASKS_PER_SLOT * slots * MIN_TASK_BYTES:
        assert tasks >= TASKS_PER_SLOT * slots
    if tasks > 1:
        assert total / tasks >= MIN_TASK_BYTES / 2 or tasks % slots == 0


def _sparse_text(path: Path, mib: int) -> Path:
    """A ``mib`` MiB file, one line per MiB (a hole and a line end), written in no time."""
    with open(path, "wb") as handle:
        for i in range(mib):
            handle.seek((i + 1) * MiB - 1)
            handle.write(b"\n")
    return path


def _check_cover(pieces: list[Source], path: Path) -> None:
    size = path.stat().st_size
    ranges = [(p.start, p.end) for p in pieces]
    assert ranges[0][0] == 0 and ranges[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    data = path.read_bytes()
    assert all(data[end - 1 : end] == b"\n" for _start, end in ranges if end)


@pytest.mark.parametrize(("slots", "tasks"), [(1, 2), (2, 4), (3, 6), (4, 4)])
def test_a_large_file_is_cut_by_the_slots(tmp_path: Path, slots: int, tasks: int) -> None:
    path = _sparse_text(tmp_path / "big.txt", 100)
    pieces = plan_map_tasks([Source.file(path)], slots=slots)
    assert len(pieces) == tasks
    _check_cover(pieces, path)
    sizes = [p.end - p.start for p in pieces if p.end is not None]
    assert max(sizes) - min(sizes) <= MiB  # even, to a line


def test_map_tasks_and_chunk_size_choose_instead(tmp_path: Path) -> None:
    path = tmp_path / "text.txt"
    path.write_bytes(b"0123456789\n" * 1000)
    for tasks in (1, 3, 7):
        pieces = plan_map_tasks([Source.file(path)], slots=2, map_tasks=tasks)
        assert len(pieces) == tasks
        if tasks > 1:
            _check_cover(pieces, path)
    assert len(plan_map_tasks([Source.file(path)], slots=2, chunk_size=1000)) == 11
    assert plan_map_tasks([Source.file(path)], slots=64) == [Source.file(path)]  # small: whole


def test_several_files_share_the_tasks_by_size_and_other_inputs_stay(tmp_path: Path) -> None:
    big, small, packed = tmp_path / "big.txt", tmp_path / "small.txt", tmp_path / "t.txt.gz"
    big.write_bytes(b"line\n" * 3000)
    small.write_bytes(b"line\n" * 1000)
    packed.write_bytes(b"not split")
    others = [Source(("http://h/x",)), Source.raw(b"a\nb\n"), Source.file(packed)]
    sources = [Source.file(big), *others, Source.file(small)]
    pieces = plan_map_tasks(sources, slots=2, map_tasks=8)
    assert [p.path for p in pieces].count(str(big)) == 6
    assert [p.path for p in pieces].count(str(small)) == 2
    assert all(o in pieces for o in others)
    json_file = Source.file(big, "json")  # records, not lines: whole
    assert plan_map_tasks([json_file], slots=2, map_tasks=4) == [json_file]


def test_job_options_are_checked() -> None:
    stages = wordcount.stages
    assert Job(stages, map_tasks=6).map_tasks == 6
    with pytest.raises(JobDefinitionError, match="not both"):
        Job(stages, chunk_size=1 << 20, map_tasks=4)
    for bad in (0, -1, 2.5, "4"):
        with pytest.raises(JobDefinitionError, match="positive integer"):
            Job(stages, map_tasks=bad)
        with pytest.raises(JobDefinitionError, match="positive integer"):
            Job(stages, chunk_size=bad)
