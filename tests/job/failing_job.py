"""A job whose map fails on one record: for the error-surfacing tests."""

from __future__ import annotations

from collections.abc import Iterator

from pydisco.job import map_reduce


def parse(line: str) -> Iterator[tuple[str, int]]:
    word, number = line.split()
    yield word, 100 // int(number)


failing = map_reduce(parse)
