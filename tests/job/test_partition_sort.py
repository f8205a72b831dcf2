"""Partitioning is stable across processes; the external sort equals sorted(); groups are exact."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.job.partition import partition_of
from pydisco.job.records import JsonFormat, PickleFormat
from pydisco.job.sort import ExternalSorter, group_sorted, sorted_block_groups, sorted_groups

KEYS = ["alpha", "beta", "γάμμα", 42, ["tuple", 1], {"b": 2, "a": 1}]


def _partitions_in_subprocess(seed: str) -> list[int]:
    code = (
        "from pydisco.job.records import JsonFormat, PickleFormat\n"
        "from pydisco.job.partition import partition_of\n"
        f"keys = {KEYS!r}\n"
        "print([partition_of(JsonFormat().key_bytes(k), 7) for k in keys]"
        " + [partition_of(PickleFormat().key_bytes(k), 7) for k in keys[:4]])\n"
    )
    env = dict(os.environ, PYTHONHASHSEED=seed)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return [int(x) for x in out.stdout.strip()[1:-1].split(",")]


def test_partition_is_identical_across_processes_and_hash_seeds() -> None:
    here = [partition_of(JsonFormat().key_bytes(k), 7) for k in KEYS]
    here += [partition_of(PickleFormat().key_bytes(k), 7) for k in KEYS[:4]]
    assert _partitions_in_subprocess("1") == here
    assert _partitions_in_subprocess("12345") == here


def test_partition_is_crc32_of_the_encoded_key() -> None:
    assert partition_of(b'"alpha"', 7) == zlib.crc32(b'"alpha"') % 7
    assert partition_of(b"anything", 1) == 0


@settings(max_examples=50)
@given(
    st.lists(st.tuples(st.binary(max_size=6), st.integers()), max_size=300),
    st.integers(200, 5000),
)
def test_external_sort_with_tiny_budget_equals_sorted(items: list[Any], memory: int) -> None:
    sorter = ExternalSorter(memory=memory)
    sorter.extend(items)
    result = list(sorter.sorted())
    assert result == sorted(items, key=lambda item: item[0])  # stable, like sorted()
    if len(items) * 150 > memory:
        assert sorter.spilled > 0


def test_many_runs_are_merged_in_passes(tmp_path: Any) -> None:
    items = [(str(i % 97).encode(), i) for i in range(5000)]
    sorter = ExternalSorter(memory=2000, tmpdir=str(tmp_path))
    sorter.extend(items)
    assert list(sorter.sorted()) == sorted(items, key=lambda item: item[0])
    assert sorter.spilled > 64  # more runs than one merge takes: merged in passes


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "é", "aa"]), st.integers())))
def test_each_key_once_with_all_values_in_encoded_order(pairs: list[tuple[str, int]]) -> None:
    fmt = JsonFormat()
    items = [(fmt.key_bytes(k), v) for k, v in pairs]
    groups = [(k, list(vs)) for k, vs in sorted_groups(items, fmt.decode_key, memory=300)]
    keys = [k for k, _ in groups]
    assert len(keys) == len(set(keys))
    assert [fmt.key_bytes(k) for k in keys] == sorted(fmt.key_bytes(k) for k in set(keys))
    for key, values in groups:
        assert values == [v for k, v in pairs if k == key]


def test_group_sorted_streams() -> None:
    groups = group_sorted(iter([(b"a", 1), (b"a", 2), (b"b", 3)]))
    assert [(k, list(v)) for k, v in groups] == [(b"a", [1, 2]), (b"b", [3])]


def _blocks(items: list[tuple[Any, Any]], cuts: list[int], with_keys: bool) -> list[Any]:
    fmt = JsonFormat()
    blocks, start = [], 0
    for cut in [*cuts, len(items)]:
        part = items[start : start + cut] if cut else []
        start += len(part)
        if part:
            keys = [k for k, _ in part]
            encoded = [fmt.key_bytes(k) for k in keys]
            blocks.append((encoded, keys if with_keys else None, [v for _, v in part], 10))
    return blocks


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "é", "aa", 'q"', 7, -1, ["a"], {"y": 1, "x": 2}]),
            st.integers(),
        ),
        max_size=80,
    ),
    st.lists(st.integers(0, 30), max_size=5),
    st.sampled_from([1, 300, 5000, 10**9]),
    st.booleans(),
)
def test_block_groups_equal_the_sort(
    pairs: list[tuple[Any, int]], cuts: list[int], memory: int, with_keys: bool
) -> None:
    """Grouped in memory or spilled past the budget: the groups the external sort gives."""
    fmt = JsonFormat()
    items = [(fmt.key_bytes(k), v) for k, v in pairs]
    expected = [(k, list(vs)) for k, vs in sorted_groups(items, fmt.decode_key, memory=memory)]
    got = [
        (k, list(vs))
        for k, vs in sorted_block_groups(
            _blocks(pairs, cuts, with_keys), fmt.decode_key, memory=memory
        )
    ]
    assert got == expected
    assert [json.dumps(k) for k, _ in got] == [json.dumps(k) for k, _ in expected]


def test_block_groups_past_the_budget_spill(tmp_path: Any) -> None:
    pairs = [(f"k{i % 50}", i) for i in range(3000)]
    blocks = _blocks(pairs, [100] * 30, True)
    groups = sorted_block_groups(
        blocks, JsonFormat().decode_key, memory=20_000, tmpdir=str(tmp_path)
    )
    seen = [(k, list(vs)) for k, vs in groups]
    assert [k for k, _ in seen] == sorted({k for k, _ in pairs})
    assert all(vs == [v for k2, v in pairs if k2 == k] for k, vs in seen)


def test_block_grouping_leaves_the_collector_as_it_was() -> None:
    """The cyclic collector is off only while blocks are grouped, also when reading fails."""

    def failing() -> Any:
        yield ([b'"a"'], ["a"], [1], 10)
        assert not gc.isenabled()
        raise ValueError("unreadable input")

    assert gc.isenabled()
    groups = sorted_block_groups(_blocks([("a", 1)], [], True), JsonFormat().decode_key)
    assert [(k, list(v)) for k, v in groups] == [("a", [1])]
    assert gc.isenabled()
    with pytest.raises(ValueError, match="unreadable"):
        list(sorted_block_groups(failing(), JsonFormat().decode_key))
    assert gc.isenabled()
    gc.disable()
    try:
        list(sorted_block_groups(_blocks([("a", 1)], [], True), JsonFormat().decode_key))
        assert not gc.isenabled()
    finally:
        gc.enable()
