"""Splitting local text files into line-aligned, even chunks (one map task each)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.job.sources import Source, line_chunks, plan_map_tasks

LINES = st.lists(st.text(alphabet="ab \u00e9", max_size=30), max_size=200)


@settings(max_examples=60, deadline=None)
@given(LINES, st.integers(1, 400))
def test_chunks_cover_the_file_at_line_ends(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], chunk: int
) -> None:
    path = tmp_path_factory.mktemp("chunks") / "text.txt"
    data = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(data)
    ranges = line_chunks(str(path), chunk)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert all(start < end or len(data) == 0 for start, end in ranges)
    assert all(data[end - 1 : end] == b"\n" for _start, end in ranges if end)
    longest = max((len(line.encode()) + 1 for line in lines), default=0)
    assert all(end - start <= chunk + longest for start, end in ranges)
    assert b"".join(data[start:end] for start, end in ranges) == data


def test_chunks_are_even_not_full_chunks_and_a_rest(tmp_path: Path) -> None:
    path = tmp_path / "text.txt"
    path.write_bytes(b"0123456789\n" * 1000)  # 11,000 bytes
    ranges = line_chunks(str(path), 4000)
    assert [end - start for start, end in ranges] == [3674, 3663, 3663]
    pieces = plan_map_tasks([Source.file(path)], slots=2, chunk_size=4000)
    assert [(p.start, p.end) for p in pieces] == ranges
