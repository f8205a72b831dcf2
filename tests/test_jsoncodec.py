"""JSON as the protocol speaks it: strict input, compact ASCII output, stdlib fallback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pydisco import jsoncodec

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_round_trip_is_ascii(value: object) -> None:
    data = jsoncodec.dumps(value)
    assert data.isascii()
    assert jsoncodec.loads(data) == value


@pytest.mark.parametrize(
    "bad", [b"NaN", b"[Infinity]", b"-Infinity", b"", b"[1,]", b"\xff", b"{} x"]
)
def test_strict_input(bad: bytes) -> None:
    with pytest.raises(jsoncodec.JSONError):
        jsoncodec.loads(bad)


def test_strings_that_mention_nan_are_fine() -> None:
    assert jsoncodec.loads(b'["NaN", "Infinity"]') == ["NaN", "Infinity"]


def test_slashes_are_not_escaped() -> None:
    assert jsoncodec.dumps("a/b") == b'"a/b"'


def test_stdlib_fallback_when_ujson_is_missing() -> None:
    code = (
        "import sys; sys.modules['ujson'] = None\n"
        "from pydisco import jsoncodec as j\n"
        "assert not j.ujson_available()\n"
        "assert j.dumps({'a': 'é/x'}) == b'{\"a\":\"\\\\u00e9/x\"}', j.dumps({'a': 'é/x'})\n"
        "assert j.loads(b'[1]') == [1]\n"
        "try:\n    j.loads(b'NaN')\nexcept j.JSONError:\n    print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr
