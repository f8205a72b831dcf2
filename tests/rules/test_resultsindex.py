"""One results-index format (pydisco.resultsindex), read and written the same everywhere."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.client import results as client_results
from pydisco.resultsindex import IndexEntry, IndexLineError, format_index_line, parse_index
from pydisco.worker import inputs as worker_inputs

url_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters=" \t\n\r\x0b\x0c"),
    min_size=1,
    max_size=40,
)
entries = st.builds(IndexEntry, st.integers(0, 2**40), url_text, st.integers(0, 2**63))


@settings(max_examples=200)
@given(st.lists(entries, max_size=8))
def test_round_trip(lines: list[IndexEntry]) -> None:
    data = "".join(format_index_line(*entry) for entry in lines).encode("utf-8")
    assert parse_index(data, "dir://h/x") == lines


@settings(max_examples=300)
@given(st.binary(max_size=60))
def test_garbage_parses_or_raises_the_index_error(data: bytes) -> None:
    try:
        parsed = parse_index(data, "dir://h/x")
    except IndexLineError as exc:
        assert "dir://h/x" in str(exc) and exc.number >= 1
        return
    again = "".join(format_index_line(*entry) for entry in parsed).encode("utf-8")
    assert parse_index(again) == parsed


@pytest.mark.parametrize(
    "line",
    [
        b"+1 u 3",
        b"1_0 u 3",
        "\u00b2 dir://x 3".encode(),
        b"-1 u 3",
        b"1 u",
        b"1 u 3 4",
        b"1 \xff 3",
    ],
)
def test_lines_every_reader_refuses(line: bytes) -> None:
    with pytest.raises(IndexLineError, match="Line 1 of the results index"):
        parse_index(line + b"\n", "dir://h/x")


@pytest.mark.parametrize(("label", "url", "size"), [(-1, "u", 1), (0, "u", -1), (0, "", 1)])
def test_writer_refuses_what_could_not_be_read_back(label: int, url: str, size: int) -> None:
    with pytest.raises(IndexLineError):
        format_index_line(label, url, size)


@pytest.mark.parametrize("url", ["a b", "a\nb", "\ud800"])
def test_writer_refuses_urls_that_would_break_the_line(url: str) -> None:
    with pytest.raises(IndexLineError):
        format_index_line(0, url, 1)


def test_worker_and_client_read_with_this_parser() -> None:
    assert worker_inputs.parse_index is parse_index
    assert client_results.parse_index is parse_index
