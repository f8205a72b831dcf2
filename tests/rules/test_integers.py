"""One decimal rule for outside text (pydisco.integers): ASCII digits only."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.integers import parse_decimal


@settings(max_examples=200)
@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_round_trip(number: int) -> None:
    assert parse_decimal(str(number), signed=True) == number
    assert parse_decimal(str(number)) == (number if number >= 0 else None)


@settings(max_examples=300)
@given(st.text(max_size=12))
def test_anything_else_is_none_never_an_exception(text: str) -> None:
    result = parse_decimal(text, signed=True)
    digits = text.removeprefix("-")
    if digits and all("0" <= char <= "9" for char in digits):
        assert result == int(text)
    else:
        assert result is None


@pytest.mark.parametrize("text", ["²", "٣", "+1", "1_0", " 1", "1 ", "", "-", "1.0", "0x1"])
def test_what_isdigit_or_int_would_let_through(text: str) -> None:
    assert parse_decimal(text, signed=True) is None


def test_every_reader_of_outside_numbers_raises_its_own_error() -> None:
    from pydisco.cli._output import CommandError
    from pydisco.cli.cluster import _entry, _setting
    from pydisco.client.errors import BadReply
    from pydisco.client.models import parse_settings
    from pydisco.loopback import is_loopback_host
    from pydisco.master.config import expand_spec, parse_nodes_option
    from pydisco.master.errors import ConfigError

    with pytest.raises(BadReply, match="max_failure_rate"):
        parse_settings({"max_failure_rate": "²"}, "http://m/disco/ctrl/load_settings")
    assert parse_settings({"max_failure_rate": "-3"}, "u").max_failure_rate == -3
    with pytest.raises(ConfigError, match="node=²"):
        parse_nodes_option("node=²")
    with pytest.raises(ConfigError, match=r"node spec|Invalid node name"):
        expand_spec("node\u0663:1\u0660")
    assert is_loopback_host("127.0.0.²") is False
    with pytest.raises(CommandError):
        _entry("node=²")
    with pytest.raises(CommandError):
        _setting("max_failure_rate=²")
