"""The emitter's fast loops write exactly the records the format encodes, to the right labels."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.job import execute
from pydisco.job.partition import partition_of
from pydisco.job.records import JsonFormat, PickleFormat

keys = st.text(max_size=6) | st.integers(-5, 10**20) | st.lists(st.integers(0, 3), max_size=2)
values = (
    st.integers(-(10**20), 10**20)
    | st.text(max_size=8)
    | st.booleans()
    | st.none()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)


class _Writer:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.writes.append(data)
        return len(data)


class _Task:
    """What an emitter uses of a task: its outputs."""

    info = None

    def __init__(self) -> None:
        self.writers: dict[int, _Writer] = {}

    def inputs(self) -> Iterator[Any]:
        return iter(())

    def output(self, label: int = 0) -> _Writer:
        return self.writers.setdefault(label, _Writer())


def _expected(
    fmt: Any, records: list[tuple[Any, bytes]], partitions: int | None
) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for key, record in records:
        label = partition_of(fmt.key_bytes(key), partitions) if partitions else 7
        out[label] = out.get(label, b"") + record
    return out


def _written(task: _Task) -> dict[int, bytes]:
    return {label: b"".join(w.writes) for label, w in task.writers.items()}


@settings(max_examples=60)
@given(
    st.lists(st.tuples(keys, values), max_size=40),
    st.sampled_from([None, 1, 3]),
    st.sampled_from([1, 40, 1 << 20]),
)
def test_json_emit_all_writes_what_encode_gives(
    pairs: list[tuple[Any, Any]], partitions: int | None, buffer: int
) -> None:
    fmt = JsonFormat()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(execute, "WRITE_BUFFER", buffer)  # small: flushes in the loop
        task = _Task()
        out = execute.Emitter(task, fmt, partitions, 7)
        out.emit_all(pairs[: len(pairs) // 2])
        out.emit_all(iter(pairs[len(pairs) // 2 :]))  # lanes resume what is buffered
        out.close()
    records = [(k, fmt.encode(fmt.key_bytes(k), v)) for k, v in pairs]
    assert _written(task) == _expected(fmt, records, partitions)
    assert out.count == len(pairs)
    if buffer == 1 and pairs:
        assert sum(len(w.writes) for w in task.writers.values()) == len(pairs)


@settings(max_examples=40)
@given(
    st.dictionaries(st.text(max_size=6), st.integers(1, 4), max_size=30),
    values,
    st.sampled_from([None, 2]),
    st.sampled_from([JsonFormat(), PickleFormat()]),
)
def test_counted_records_are_the_repeated_encoding(
    counts: dict[str, int], value: Any, partitions: int | None, fmt: Any
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(execute, "WRITE_BUFFER", 30)
        task = _Task()
        out = execute.Emitter(task, fmt, partitions, 7)
        out.emit_counted(value, counts.items())
        out.close()
    records = [
        (k, fmt.encode(fmt.key_bytes(k), value))
        if n == 1
        else (k, fmt.encode_repeated(fmt.key_bytes(k), value, n))
        for k, n in counts.items()
    ]
    assert _written(task) == _expected(fmt, records, partitions)
    assert out.count == len(counts)


def test_an_unencodable_value_fails_and_what_was_emitted_stays_counted() -> None:
    task = _Task()
    out = execute.Emitter(task, JsonFormat(), 2, 0)
    with pytest.raises(TypeError, match="cannot be encoded as JSON"):
        out.emit_all([("a", 1), ("b", object())])
    assert out.count == 1
    out.close()
    assert b"".join(_written(task).values()) == b'["a",1]\n'
