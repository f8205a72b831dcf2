"""Record formats (protocol-spec/records.md): round trips, canonical keys, classic Disco input."""

from __future__ import annotations

import json
import pickle
import struct
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.job.records import (
    CorruptRecords,
    JsonFormat,
    PickleFormat,
    get_format,
    iter_lines,
    iter_text_lines,
    json_key_bytes,
)

text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | text
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=10,
)
json_keys = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)


def _rechunk(data: bytes, sizes: list[int]) -> list[bytes]:
    chunks, pos = [], 0
    for size in sizes:
        chunks.append(data[pos : pos + size])
        pos += size
    chunks.append(data[pos:])
    return chunks


@given(st.lists(st.tuples(json_keys, json_values), max_size=20), st.lists(st.integers(0, 40)))
def test_json_round_trip_any_chunking(pairs: list[tuple[Any, Any]], sizes: list[int]) -> None:
    fmt = JsonFormat()
    data = b"".join(fmt.encode(fmt.key_bytes(k), v) for k, v in pairs)
    decoded = list(fmt.records(_rechunk(data, sizes)))
    assert decoded == [(json.loads(json.dumps(k)), json.loads(json.dumps(v))) for k, v in pairs]
    assert [kb for kb, _ in fmt.keyed_records([data])] == [fmt.key_bytes(k) for k, _ in pairs]


@given(st.lists(st.tuples(json_keys, json_values), max_size=20))
def test_json_lines_are_plain_json_arrays(pairs: list[tuple[Any, Any]]) -> None:
    fmt = JsonFormat()
    data = b"".join(fmt.encode(fmt.key_bytes(k), v) for k, v in pairs)
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == ""
    for line, (key, value) in zip(lines, pairs, strict=False):
        assert json.loads(line) == [json.loads(json.dumps(key)), json.loads(json.dumps(value))]


@given(json_keys)
def test_canonical_key_is_stdlib_compact_sorted_utf8(key: Any) -> None:
    expected = json.dumps(key, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert json_key_bytes(key) == expected.encode("utf-8")
    assert json_key_bytes(json.loads(expected)) == json_key_bytes(key)


def test_key_encoding_examples() -> None:
    assert json_key_bytes("é") == '"é"'.encode()
    assert json_key_bytes({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'
    assert json_key_bytes(10) == b"10"
    with pytest.raises(TypeError):
        json_key_bytes(object())


picklable = st.recursive(
    st.none() | st.integers() | st.floats(allow_nan=False) | text | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.frozensets(text),
    max_leaves=8,
)


@given(st.lists(st.tuples(picklable, picklable), max_size=20), st.lists(st.integers(0, 30)))
def test_pickle_round_trip_any_chunking(pairs: list[tuple[Any, Any]], sizes: list[int]) -> None:
    fmt = PickleFormat()
    data = b"".join(fmt.encode(fmt.key_bytes(k), v) for k, v in pairs)
    assert list(fmt.records(_rechunk(data, sizes))) == pairs


def test_pickle_frame_layout() -> None:
    fmt = PickleFormat()
    record = fmt.encode(fmt.key_bytes("k"), [1])
    klen, vlen = struct.unpack_from("<II", record)
    assert pickle.loads(record[8 : 8 + klen]) == "k"
    assert pickle.loads(record[8 + klen : 8 + klen + vlen]) == [1]
    with pytest.raises(CorruptRecords):
        list(fmt.records([record[:-1]]))


def test_bad_json_record_is_reported() -> None:
    with pytest.raises(CorruptRecords, match="not a \\[key, value\\]"):
        list(JsonFormat().records([b"[1,2,3,4]\n"]))
    with pytest.raises(CorruptRecords, match="not valid JSON"):
        list(JsonFormat().records([b"[1,\n"]))


@given(st.lists(st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]))))
def test_text_lines(lines: list[str]) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    for size in (1, 3, 1000):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert list(iter_text_lines(chunks)) == lines
        assert [line.decode() for line in iter_lines(chunks)] == lines


def test_text_lines_crlf_and_missing_last_newline() -> None:
    assert list(iter_text_lines([b"a\r\nb", b"c"])) == ["a", "bc"]
    assert list(get_format("lines").records([b"x\xff\n"])) == ["x\ufffd"]


# --- Disco's classic format, written here independently from facts §12.4 ---------------------


def classic_v1(pairs: list[tuple[Any, Any]], level: int = 2, hunk_limit: int = 1 << 20) -> bytes:
    """A DiscoOutputStream v1: hunks of protocol-1 pickles, then one empty hunk."""
    out = bytearray()

    def flush(hunk: bytes) -> None:
        stored = zlib.compress(hunk, level) if level > 0 else hunk
        out.extend(struct.pack("<BBIQ", 0x81, 1 if level > 0 else 0, zlib.crc32(hunk), len(stored)))
        out.extend(stored)

    hunk = bytearray()
    for pair in pairs:
        hunk += pickle.dumps(pair, protocol=1)
        if len(hunk) > hunk_limit:
            flush(bytes(hunk))
            hunk = bytearray()
    if hunk:
        flush(bytes(hunk))
    flush(b"")
    return bytes(out)


def classic_v0(pairs: list[tuple[str, str]]) -> bytes:
    out = bytearray()
    for key, value in pairs:
        k, v = key.encode(), str(value).encode()
        out += b"%d %s %d %s\n" % (len(k), k, len(v), v)
    return bytes(out)


@given(
    st.lists(st.tuples(picklable, picklable), max_size=30),
    st.sampled_from([0, 2, 9]),
    st.integers(1, 200),
    st.lists(st.integers(0, 50)),
)
def test_classic_v1_reader(pairs: list[Any], level: int, hunk: int, sizes: list[int]) -> None:
    data = classic_v1(pairs, level, hunk)
    assert list(get_format("disco").records(_rechunk(data, sizes))) == pairs


def test_classic_final_empty_hunk_is_22_bytes_when_compressed() -> None:
    data = classic_v1([])
    assert len(data) == 22
    assert data[:14] == bytes.fromhex("8101000000000800000000000000")
    assert list(get_format("disco").records([data])) == []


@given(st.lists(st.tuples(text, text), max_size=20))
def test_classic_v0_reader(pairs: list[tuple[str, str]]) -> None:
    data = classic_v0([(k, v) for k, v in pairs if not k[:1].isdigit()] or [])
    expected = [(k, v) for k, v in pairs if not k[:1].isdigit()]
    assert list(get_format("disco").records([data])) == expected


def test_classic_corruption_and_truncation() -> None:
    data = bytearray(classic_v1([("a", 1), ("b", 2)], level=0))
    data[20] ^= 0xFF
    with pytest.raises(CorruptRecords, match="Corrupted"):
        list(get_format("disco").records([bytes(data)]))
    with pytest.raises(CorruptRecords, match="Truncated"):
        list(get_format("disco").records([classic_v1([("a", 1)])[:10]]))


def test_python2_byte_strings_become_text() -> None:
    # Protocol-1 pickle of a Python 2 (str, int) tuple: SHORT_BINSTRING 'word', BININT1 3.
    py2 = b"(U\x04wordK\x03tq\x00."
    data = struct.pack("<BBIQ", 0x81, 0, zlib.crc32(py2), len(py2)) + py2
    data += struct.pack("<BBIQ", 0x81, 0, 0, 0)
    assert list(get_format("disco").records([data])) == [("word", 3)]


repeat_counts = st.none() | st.integers(1, 3)


@settings(max_examples=60)
@given(
    st.lists(st.tuples(json_keys | text, json_values, repeat_counts), max_size=30),
    st.lists(st.integers(0, 60), max_size=4),
)
def test_json_keyed_blocks_are_keyed_records(
    records: list[tuple[Any, Any, int | None]], sizes: list[int]
) -> None:
    """The bulk reader gives the per-record reader's keys and values, whatever the chunking."""
    fmt = JsonFormat()
    data = b"".join(
        fmt.encode(fmt.key_bytes(k), v)
        if n is None
        else fmt.encode_repeated(fmt.key_bytes(k), v, n)
        for k, v, n in records
    )
    per_record = list(JsonFormat().keyed_records(_rechunk(data, sizes)))
    bulk = JsonFormat()
    blocks = list(bulk.keyed_blocks(_rechunk(data, sizes)))
    assert [(kb, v) for b in blocks for kb, v in zip(b.key_bytes, b.values, strict=True)] == (
        per_record
    )
    assert bulk.repeated == any(n is not None for _k, _v, n in records)
    for block in blocks:
        assert block.keys is not None
        for encoded, key in zip(block.key_bytes, block.keys, strict=True):
            assert fmt.key_bytes(key) == encoded
            if type(key) is str:
                assert fmt.decode_key(encoded) == key


@settings(max_examples=30)
@given(st.lists(st.tuples(picklable, picklable), max_size=20))
def test_other_formats_keyed_blocks_are_keyed_records(pairs: list[tuple[Any, Any]]) -> None:
    fmt = PickleFormat()
    data = b"".join(fmt.encode(fmt.key_bytes(k), v) for k, v in pairs)
    blocks = list(fmt.keyed_blocks([data]))
    assert all(b.keys is None for b in blocks)
    flat = [(kb, v) for b in blocks for kb, v in zip(b.key_bytes, b.values, strict=True)]
    assert flat == list(fmt.keyed_records([data]))
    lines = get_format("lines")
    text = b"a\nb\r\n\nc"
    assert [v for b in lines.keyed_blocks([text]) for v in b.values] == ["a", "b", "", "c"]


def test_a_json_block_that_is_not_records_names_the_line() -> None:
    with pytest.raises(CorruptRecords, match="not a \\[key, value\\] array: b'\\[1\\]'"):
        list(JsonFormat().keyed_blocks([b'["a",1]\n[1]\n["b",2]\n']))
    with pytest.raises(CorruptRecords, match="not a \\[key, value\\] array"):
        list(JsonFormat().keyed_blocks([b'["a",1]\n{"x":1}\n']))
