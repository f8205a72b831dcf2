"""One JSON record rule: the batched fast path decodes exactly what the strict path does."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco import jsoncodec
from pydisco.job.errors import CorruptRecords
from pydisco.job.records import get_format

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
arrays = st.lists(values, max_size=3)
json_lines = st.lists(st.one_of(arrays, arrays, values), max_size=5).map(
    lambda vs: [jsoncodec.dumps(v) for v in vs]
)
noise = st.sampled_from(
    [b"", b" ", b"\r", b"[1,2],[3,4]", b"[1,2] [3,4]", b'["a",NaN]', b"[1,", b"2]", b"[", b"]"]
)
lines = st.lists(st.one_of(json_lines.map(b"\n".join), noise), max_size=6)


def _strict(block: bytes) -> list[Any] | str:
    """The reference: each non-blank line through jsoncodec.loads."""
    out = []
    for line in block.split(b"\n"):
        if line.strip():
            try:
                out.append(jsoncodec.loads(line))
            except jsoncodec.JSONError:
                return "error"
    return out


def _fast(block: bytes) -> list[Any] | str:
    try:
        return jsoncodec.loads_lines(block)
    except jsoncodec.JSONError:
        return "error"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and (
        all(_same(x, y) for x, y in zip(a, b, strict=True)) if isinstance(a, list) else a == b
    )


@settings(max_examples=300)
@given(lines)
def test_fast_path_equals_strict_path(parts: list[bytes]) -> None:
    block = b"\n".join(parts)
    strict, fast = _strict(block), _fast(block)
    assert fast == "error" if strict == "error" else _same(fast, strict), (block, fast, strict)


@settings(max_examples=100)
@given(st.lists(st.tuples(values, values), max_size=8))
def test_records_round_trip(pairs: list[tuple[Any, Any]]) -> None:
    fmt = get_format("json")
    data = b"".join(fmt.encode(fmt.key_bytes(k), v) for k, v in pairs)
    assert _same([list(p) for p in fmt.records([data])], [list(p) for p in pairs])


@pytest.mark.parametrize("line", [b"[1,2],[3,4]", b'["a",NaN]', b"[1,2] [3,4]", b"[1,2,3,4]"])
def test_records_refuse_what_the_strict_path_refuses(line: bytes) -> None:
    with pytest.raises(CorruptRecords):
        list(get_format("json").records([b"[0,0]\n" + line + b"\n[5,6]\n"]))


def test_the_fast_path_is_taken_for_record_blocks() -> None:
    assert jsoncodec._array_lines_fast(b'[1,2]\n["a",{"b":[3]}]') == [[1, 2], ["a", {"b": [3]}]]
    assert jsoncodec._array_lines_fast(b"[1,2]\n\n[3,4]") is None  # a blank line: line by line
