"""The automatic combiner: a map stage without ``combine`` that feeds another stage writes
repeated ``(key, value)`` pairs once with their count; the next stage sees what was emitted."""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from examples.jobs.wordcount import total, wordcount_textbook, words
from pydisco.job import CorruptRecords, Job, get_format, map_reduce
from pydisco.job.inline import InlineRunner
from pydisco.job.records import Repeated

TEXT = "the quick brown fox\njumps over the lazy dog\nThe dog sleeps the end\n" * 300


def _map_outputs(workdir: Path) -> list[list[Any]]:
    return [
        json.loads(line)
        for path in sorted(workdir.rglob("map-*/out-*"))
        for line in path.read_text().splitlines()
    ]


@pytest.mark.parametrize("records", ["json", "pickle"])
def test_textbook_word_count_is_exact_and_writes_each_word_once(
    tmp_path: Path, records: str
) -> None:
    job = Job(wordcount_textbook.stages, records=records)
    results = InlineRunner(workdir=str(tmp_path)).run(job, [TEXT.encode()], original=job)
    assert dict(results) == dict(collections.Counter(TEXT.split()))
    if records == "json":
        written = _map_outputs(tmp_path)
        assert len(written) == len(set(TEXT.split()))  # one record per distinct word
        assert ["the", 1, TEXT.split().count("the")] in written
        assert ["end", 1, 300] in written


def values_of(key: Any, values: Iterator[Any]) -> Iterator[tuple[Any, Any]]:
    yield key, sorted(map(repr, values))


def mixed(line: str) -> Iterator[tuple[Any, Any]]:
    for word in line.split():
        yield word, 1
    yield line, (1 if len(line) % 2 else 1.0)  # equal values, different types: never merged
    yield len(line) % 3, True  # non-str keys (1 == True == 1.0 as dict keys)
    yield float(len(line) % 3), 1


mixed_job = map_reduce(mixed, values_of, partitions=2)


def test_the_reduce_sees_every_value_as_emitted() -> None:
    # Keyed by their JSON: 2 and 2.0 are one dict key in Python but two keys to the job.
    expected: dict[str, list[str]] = collections.defaultdict(list)
    for line in TEXT.splitlines():
        for key, value in mixed(line):
            expected[json.dumps(key)].append(repr(value))
    got = {json.dumps(key): values for key, values in mixed_job.run([TEXT.encode()])}
    assert got == {key: sorted(values) for key, values in expected.items()}
    assert {"1", "1.0", "2", "2.0"} <= set(got)


def test_a_map_only_job_writes_plain_pairs(tmp_path: Path) -> None:
    only_map = map_reduce(words, partitions=2)
    results = InlineRunner(workdir=str(tmp_path)).run(only_map, [b"a a b\n"], original=only_map)
    assert sorted(results) == [("a", 1), ("a", 1), ("b", 1)]


def test_repeated_records_read_back_as_pairs() -> None:
    fmt = get_format("json")
    data = [b'["a",1,3]\n["b",2]\n[["k"],{"x":1},2]\n']
    assert list(fmt.records(data)) == [("a", 1)] * 3 + [("b", 2)] + [(["k"], {"x": 1})] * 2
    keyed = fmt.keyed_records(data)
    assert list(keyed) == [(b'"a"', Repeated(1, 3)), (b'"b"', 2), (b'["k"]', Repeated({"x": 1}, 2))]
    pickled = get_format("pickle")
    blob = pickled.encode_repeated(pickled.key_bytes("w"), 1, 4) + pickled.encode(
        pickled.key_bytes("v"), 2
    )
    assert list(pickled.records([blob])) == [("w", 1)] * 4 + [("v", 2)]


@pytest.mark.parametrize("bad", [b'["a",1,0]\n', b'["a",1,"3"]\n', b'["a",1,2.0]\n'])
def test_a_bad_count_is_corrupt(bad: bytes) -> None:
    with pytest.raises(CorruptRecords, match="count"):
        list(get_format("json").records([bad]))
    with pytest.raises(CorruptRecords, match="count"):
        list(get_format("json").keyed_records([bad]))


def test_the_example_total_is_the_reduce() -> None:
    assert wordcount_textbook.stages[1].reduce is total
    assert wordcount_textbook.stages[0].combine is None
