"""Jobs for the DDFS job tests (module-level, so workers can import them)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pydisco.job import map_reduce, oob


def words(line: str) -> Iterator[tuple[str, int]]:
    for word in line.split():
        yield word, 1


def total(word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
    yield word, sum(counts)


def double(record: Any) -> Iterator[tuple[str, int]]:
    word, count = record
    yield word, 2 * count


def remember(line: str) -> Iterator[tuple[str, int]]:
    oob.put(f"line-{line.split(maxsplit=1)[0]}", line.encode())
    yield "lines", 1


def recall(key: str, counts: Iterable[int]) -> Iterator[tuple[str, Any]]:
    value = oob.get("line-b")
    yield key, [sum(counts), value.decode() if value is not None else None]


wordcount = map_reduce(words, total, partitions=2)
saved_wordcount = map_reduce(words, total, partitions=2, save_results=True)
doubled = map_reduce(double, input_format="json")
with_oob = map_reduce(remember, recall)
unsaveable = map_reduce(words, total, save_results=True, name="not+a+tag")
