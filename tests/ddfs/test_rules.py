"""DDFS rules without a server (names, timestamps, tags, chunking), and hypothesis on tag
names and bodies against the real server (bounded example counts)."""

from __future__ import annotations

import io
import json
import urllib.parse
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.client import InvalidTag, TagRef, tag_ref
from pydisco.client._ddfs_api import line_pieces
from pydisco.ddfsnames import (
    Clock,
    dedup_key,
    format_timestamp,
    hashdir,
    is_valid_name,
    parse_objname,
    parse_timestamp,
)
from pydisco.master.ddfs.tags import MAX_ATTRIBUTES, DdfsRefused, Tag
from tests.ddfs.conftest import fresh

NAME_CHARS = st.sampled_from("abcXYZ019:@_-")
VALID_NAMES = st.text(NAME_CHARS, min_size=1, max_size=40)


def test_timestamps_and_hash_directories_match_the_facts() -> None:
    micros = (1414 * 10**6 + 459309) * 10**6 + 123456
    assert format_timestamp(micros) == "586-7022d-1e240"
    assert format_timestamp(0) == "00-00-00"
    assert hashdir("mytag$586-7022d-1e240") == "3a"
    assert hashdir("chekhov_txt-0$586-7022d-1e240") == "b1"


def test_the_clock_never_repeats() -> None:
    clock = Clock(lambda: 5)
    stamps = [clock.timestamp() for _ in range(3)]
    assert len(set(stamps)) == 3
    assert [parse_timestamp(s) for s in stamps] == sorted(parse_timestamp(s) for s in stamps)


@given(st.integers(min_value=0, max_value=2**62))
def test_timestamps_parse_back(micros: int) -> None:
    parts = parse_timestamp(format_timestamp(micros))
    assert parts is not None
    mega, secs, usecs = parts
    assert (mega * 10**6 + secs) * 10**6 + usecs == micros


@given(st.text(max_size=600))
def test_names_are_exactly_the_charset(text: str) -> None:
    expected = 1 <= len(text) <= 511 and all(
        c.isascii() and (c.isalnum() or c in ":@_-") for c in text
    )
    assert is_valid_name(text) == expected


def test_object_names() -> None:
    assert parse_objname("a$1-2-3") == ("a", "1-2-3")
    for bad in ("a", "a$", "$1-2-3", "a$xyz", "a$1--2", "a b$1-2-3", "../x$1-2-3"):
        assert parse_objname(bad) is None


def test_dedup_keys() -> None:
    assert dedup_key("disco://h/ddfs/vol0/blob/ab/book$1-2-3") == "book"
    assert dedup_key("disco://n1/ddfs/vol0/blob/ab/book$1-2-3") == "book"
    assert dedup_key("tag://x") == dedup_key("tag://user:t@/x") == "tag://x"
    assert dedup_key("http://plain/file") is None


def test_at_most_1000_attributes_but_replacing_one_is_fine() -> None:
    tag = Tag("t", "1-2-3", "", user_data=tuple((f"k{n}", "v") for n in range(MAX_ATTRIBUTES)))
    with pytest.raises(DdfsRefused) as refused:
        tag.set_attr("one-more", "v")
    assert (refused.value.status, refused.value.text) == (403, "Too many attributes")
    assert dict(tag.set_attr("k0", "new").user_data)["k0"] == "new"


def test_tag_files_must_hold_every_field() -> None:
    good = Tag("t", "1-2-3", "x", "r", None, (("u",),), (("a", "b"),)).to_json(secure=False)
    assert Tag.from_json(good).to_json(secure=False) == good
    for key in good:
        if key != "version":
            broken = {k: v for k, v in good.items() if k != key}
            with pytest.raises(ValueError, match="no"):
                Tag.from_json(broken)


def test_tag_references() -> None:
    assert tag_ref("data:book") == TagRef("data:book")
    assert tag_ref("tag://data:book") == TagRef("data:book")
    assert tag_ref("tag://user:s3cret@/data:book") == TagRef("data:book", "s3cret")
    assert tag_ref("tag://host:8989/data:book") == TagRef("data:book")
    for bad in ("", "a/b", "tag://", "x" * 512, "a$b"):
        with pytest.raises(InvalidTag):
            tag_ref(bad)


@given(
    st.lists(
        st.tuples(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), st.booleans()),
        max_size=20,
    ),
    st.integers(min_value=1, max_value=16),
)
def test_chunks_are_line_aligned_and_cover_the_file(lines: list[Any], size: int) -> None:
    data = b"".join(text + (b"\n" if newline else b"") for text, newline in lines)
    pieces = line_pieces(io.BytesIO(data), size)
    position = 0
    for start, length in pieces:
        assert start == position and length > 0
        piece = data[start : start + length]
        if start + length < len(data):
            assert piece.endswith(b"\n")
        if length > size:  # only when one line alone is longer than a chunk
            assert piece.count(b"\n") <= 1
        position += length
    assert position == len(data)


# -- hypothesis against the server -------------------------------------------------------------


@settings(max_examples=40)
@given(st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=30))
def test_any_tag_name_is_checked_before_anything_happens(http: httpx.Client, name: str) -> None:
    if name in (".", "..") or "/" in name or "?" in name or "#" in name:
        return
    path = "/ddfs/tag/" + urllib.parse.quote(name, safe="")
    reply = http.get(path)
    if is_valid_name(name):
        assert reply.status_code in (200, 404)
    else:
        assert (reply.status_code, reply.text) == (403, "Invalid tag")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)
URL_SETS = st.lists(st.lists(st.text(max_size=8), max_size=3), max_size=4)


@settings(max_examples=40)
@given(st.one_of(URL_SETS, JSON))
def test_any_body_is_stored_exactly_or_refused(http: httpx.Client, body: Any) -> None:
    name = fresh("body")
    http.post(f"/ddfs/tag/{name}", content='[["first"]]')
    reply = http.post(f"/ddfs/tag/{name}", content=json.dumps(body))
    stored = http.get(f"/ddfs/tag/{name}").json()["urls"]
    shaped = isinstance(body, list) and all(
        isinstance(s, list) and all(isinstance(u, str) for u in s) for s in body
    )
    if shaped:
        assert reply.status_code == 200
        assert stored == [*body, ["first"]]
    else:
        assert (reply.status_code, reply.text) == (403, "Invalid url object")
        assert stored == [["first"]]
