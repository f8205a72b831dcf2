"""The in-memory combine: its counting path and its general path give the same totals."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.job.execute import COUNT_BATCH, Combiner, Emitter
from pydisco.job.records import JsonFormat


class _Outputs:
    """A task whose outputs are in-memory files, one per label."""

    def __init__(self) -> None:
        self.files: dict[int, io.BytesIO] = {}

    @property
    def info(self) -> Any:
        return None

    def inputs(self) -> Iterator[Any]:
        return iter(())

    def output(self, label: int = 0) -> io.BytesIO:
        return self.files.setdefault(label, io.BytesIO())

    def records(self) -> list[tuple[Any, Any]]:
        fmt = JsonFormat()
        return [pair for f in self.files.values() for pair in fmt.records([f.getvalue()])]


def _add(key: Any, values: Iterator[Any]) -> Iterator[tuple[Any, Any]]:
    yield key, sum(values)


def _combined(pairs: list[Any], memory: int, partitions: int | None = 3) -> tuple[Combiner, Any]:
    task = _Outputs()
    out = Emitter(task, JsonFormat(), partitions, 0)
    combiner = Combiner(_add, (), out, memory)
    combiner.emit_all(iter(pairs))
    combiner.flush()
    out.close()
    return combiner, task


def _totals(records: list[tuple[Any, Any]]) -> dict[str, Any]:
    """Key (as canonical JSON) -> the sum of its values, as the reduce would see them."""
    fmt = JsonFormat()
    totals: dict[str, Any] = {}
    for key, value in records:
        name = fmt.key_bytes(key).decode()
        totals[name] = totals[name] + value if name in totals else value
    return totals


KEYS = st.one_of(
    st.sampled_from(["a", "b", "c", "\u00e9t\u00e9", ""]),
    st.integers(-3, 3),
    st.lists(st.sampled_from(["x", "y"]), max_size=2),  # unhashable
)
VALUES = st.one_of(st.just(1), st.integers(-5, 5), st.just(True), st.just(2.0))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(KEYS, VALUES), max_size=3 * COUNT_BATCH // 2),
    st.integers(300, 1 << 20),
    st.booleans(),
)
def test_any_stream_combines_to_the_exact_totals(
    pairs: list[tuple[Any, Any]], memory: int, ones_first: bool
) -> None:
    if ones_first:  # start on the counting path, then (maybe) leave it
        pairs = [("a", 1)] * COUNT_BATCH + [(k, 1) for k, _ in pairs[:100]] + pairs
    _combiner, task = _combined(pairs, memory)
    expected = _totals(pairs)
    got = _totals(task.records())
    assert got == expected
    # Integers stay integers, a float anywhere makes the total a float (nothing merged 1 and 1.0).
    assert {k: type(v) for k, v in got.items()} == {
        k: type(v if not isinstance(v, bool) else int(v)) for k, v in expected.items()
    }


def test_word_count_stream_stays_on_the_counting_path_and_writes_each_key_once() -> None:
    words = [f"w{i % 997}" for i in range(20 * COUNT_BATCH)]
    combiner, task = _combined([(word, 1) for word in words], memory=32 << 20)
    assert combiner._counting  # every batch qualified
    records = task.records()
    assert len(records) == 997
    assert dict(records) == {f"w{i}": words.count(f"w{i}") for i in range(997)}


def test_counting_path_flushes_within_its_memory_budget() -> None:
    pairs = [(f"key-{i}", 1) for i in range(5000)] * 2
    _combiner, task = _combined(pairs, memory=20_000)
    records = task.records()
    assert len(records) > 5000  # flushed many times: a key is written more than once
    assert _totals(records) == _totals(pairs)


def test_an_unhashable_key_after_counting_keeps_every_pair() -> None:
    pairs: list[Any] = [("a", 1)] * (COUNT_BATCH + 7) + [(["l"], 1), ("a", 1), (["l"], 1)]
    combiner, task = _combined(pairs, memory=1 << 20)
    assert not combiner._counting
    assert _totals(task.records()) == {'"a"': COUNT_BATCH + 8, '["l"]': 2}


@pytest.mark.parametrize("bad", [("k", 1, "extra"), ("k",), 5, {"k": 1}, {"a": 1, "b": 2}])
def test_malformed_pairs_fail_as_on_the_general_path(bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        _combined([("a", 1)] * 10 + [bad], memory=1 << 20)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(JSON_VALUES, JSON_VALUES), max_size=40), st.sampled_from([None, 1, 5]))
def test_json_emitter_writes_what_the_format_encodes(
    pairs: list[tuple[Any, Any]], partitions: int | None
) -> None:
    task = _Outputs()
    out = Emitter(task, JsonFormat(), partitions, 7)
    out.emit_all(iter(pairs))
    out.close()
    fmt = JsonFormat()
    expected: dict[int, bytes] = {}
    for key, value in pairs:
        key_bytes = fmt.key_bytes(key)
        label = zlib.crc32(key_bytes) % partitions if partitions else 7
        expected[label] = expected.get(label, b"") + fmt.encode(key_bytes, value)
    assert {label: f.getvalue() for label, f in task.files.items()} == expected
