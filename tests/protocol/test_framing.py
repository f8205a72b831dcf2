"""Framing (spec: Framing): exact bytes, Disco's limits, and chunking independence."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pydisco.protocol import (
    END_OF_STREAM,
    NEED_DATA,
    ErrorKind,
    Frame,
    FrameDecoder,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    encode_frame,
)
from pydisco.protocol.limits import (
    MAX_FRAME_BYTES,
    MAX_LENGTH_DIGITS,
    MAX_NAME_BYTES,
    MAX_PAYLOAD_BYTES,
)


def decode_all(data: bytes, *, eof: bool = True) -> list[Frame]:
    decoder = FrameDecoder()
    decoder.receive_data(data)
    if eof:
        decoder.receive_data(b"")
    return list(decoder)


def decode_kind(data: bytes, *, eof: bool = False) -> ErrorKind:
    with pytest.raises(RemoteProtocolError) as info:
        decode_all(data, eof=eof)
    return info.value.kind


def test_single_frame() -> None:
    assert decode_all(b'DONE 2 ""\n') == [Frame("DONE", b'""')]


def test_need_data_then_end_of_stream() -> None:
    decoder = FrameDecoder()
    assert decoder.next_frame() is NEED_DATA
    decoder.receive_data(b"MSG 4 ")
    assert decoder.next_frame() is NEED_DATA
    decoder.receive_data(b'"hi"\n')
    assert decoder.next_frame() == Frame("MSG", b'"hi"')
    assert decoder.next_frame() is NEED_DATA
    decoder.receive_data(b"")
    assert decoder.next_frame() is END_OF_STREAM


@pytest.mark.parametrize(
    ("wire", "name"),
    [
        (b'X 2 ""\n', "X"),
        (b'ABCDEFGHI 2 ""\n', "ABCDEFGHI"),
        (b'ABCDEFGHIJ 2 ""\n', "ABCDEFGHIJ"),
        (b' TASK 2 ""\n', " TASK"),
        (b'\xffX 2 ""\n', "\xffX"),
    ],
)
def test_name_lengths_and_bytes(wire: bytes, name: str) -> None:
    assert decode_all(wire) == [Frame(name, b'""')]


def test_eleven_bytes_without_space_is_invalid_name_even_before_eof() -> None:
    assert decode_kind(b"ABCDEFGHIJK") is ErrorKind.INVALID_NAME


def test_ten_bytes_without_space_waits_for_the_eleventh() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(b"ABCDEFGHIJ")
    assert decoder.next_frame() is NEED_DATA
    decoder.receive_data(b' 2 ""\n')
    assert decoder.next_frame() == Frame("ABCDEFGHIJ", b'""')


@pytest.mark.parametrize("field", [b"+5", b"-0", b"007"])
def test_length_field_accepts_what_erlang_list_to_integer_accepts(field: bytes) -> None:
    payload = b'"abc"'[: int(field)] if int(field) else b""
    [frame] = decode_all(b"MSG " + field + b" " + payload.ljust(int(field), b" ") + b"\n")
    assert len(frame.payload) == int(field)


@pytest.mark.parametrize(
    "wire",
    [
        b"MSG -1 x\n",
        b"MSG 3a abc\n",
        b"MSG  3 abc\n",
        b"MSG + x\n",
        b"MSG 0x1 x\n",
        b"MSG \xd9\xa3 x",
    ],
)
def test_bad_length_fields(wire: bytes) -> None:
    assert decode_kind(wire) is ErrorKind.INVALID_LENGTH


def test_length_field_of_eleven_characters() -> None:
    assert decode_kind(b"MSG 00000000001 x\n") is ErrorKind.INVALID_LENGTH


def test_payload_cap_is_checked_before_the_payload_arrives() -> None:
    assert decode_kind(b"MSG %d " % (MAX_PAYLOAD_BYTES + 1)) is ErrorKind.TOO_BIG


def test_largest_payload_length_is_accepted() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(b"MSG %d " % MAX_PAYLOAD_BYTES)
    assert decoder.next_frame() is NEED_DATA


@pytest.mark.parametrize("wire", [b'DONE 2 ""\r\n', b'DONE 2 """\n', b"DONE 0 x"])
def test_body_terminator(wire: bytes) -> None:
    assert decode_kind(wire) is ErrorKind.INVALID_BODY


@pytest.mark.parametrize("wire", [b"DO", b"DONE 2", b'DONE 2 "', b'DONE 2 ""'])
def test_end_of_stream_inside_a_frame_is_truncated(wire: bytes) -> None:
    assert decode_kind(wire, eof=True) is ErrorKind.TRUNCATED


def test_zero_length_payload_frames() -> None:
    assert decode_all(b"TASK 0 \n") == [Frame("TASK", b"")]


def test_error_is_sticky_and_keeps_last_words() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(b'OK 4 "ok"\nTraceback(most recent call last)')
    assert decoder.next_frame() == Frame("OK", b'"ok"')
    for _ in range(2):
        with pytest.raises(RemoteProtocolError) as info:
            decoder.next_frame()
        assert info.value.kind is ErrorKind.INVALID_NAME
    assert decoder.unparsed == b"Traceback(most recent call last)"
    assert info.value.context.startswith(b"Traceback")


def test_data_after_end_of_stream_is_refused() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        decoder.receive_data(b"x")


@pytest.mark.parametrize("name", ["", "ABCDEFGHIJ", "A B", "A\nB", "É"])
def test_encoder_refuses_names_disco_may_not_frame(name: str) -> None:
    with pytest.raises(LocalProtocolError) as info:
        encode_frame(name, b'""')
    assert info.value.kind is ErrorKind.INVALID_NAME


def test_encoder_refuses_oversize_payloads() -> None:
    with pytest.raises(LocalProtocolError) as info:
        encode_frame("MSG", b"x" * (MAX_PAYLOAD_BYTES + 1))
    assert info.value.kind is ErrorKind.TOO_BIG


def test_length_counts_bytes_not_characters() -> None:
    payload = '"é"'.encode()
    assert encode_frame("MSG", payload) == b"MSG 4 " + payload + b"\n"


names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=9
)
frames = st.builds(Frame, names, st.binary(max_size=300))


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return [piece for piece in pieces if piece]


@given(st.lists(frames, max_size=8), st.lists(st.integers(min_value=0, max_value=3000)))
def test_round_trip_in_any_chunking(items: list[Frame], cuts: list[int]) -> None:
    wire = b"".join(frame.encode() for frame in items)
    decoder = FrameDecoder()
    received: list[Frame] = []
    for piece in split_at(wire, cuts):
        decoder.receive_data(piece)
        received.extend(decoder)
    decoder.receive_data(b"")
    assert decoder.next_frame() is END_OF_STREAM
    assert received == items


@given(st.lists(frames, max_size=4))
def test_one_byte_at_a_time(items: list[Frame]) -> None:
    wire = b"".join(frame.encode() for frame in items)
    decoder = FrameDecoder()
    received: list[Frame] = []
    for index in range(len(wire)):
        decoder.receive_data(wire[index : index + 1])
        received.extend(decoder)
    assert received == items


def outcome(data: bytes, cuts: list[int]) -> tuple[list[Frame], str | None]:
    decoder = FrameDecoder()
    received: list[Frame] = []
    try:
        for piece in [*split_at(data, cuts), b""]:
            decoder.receive_data(piece)
            received.extend(decoder)
    except ProtocolError as exc:
        return received, exc.kind.value
    return received, None


@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_garbage_raises_only_protocol_errors_and_verdicts_ignore_chunking(
    data: bytes, cuts: list[int]
) -> None:
    assert outcome(data, cuts) == outcome(data, [])


@given(st.binary(min_size=1, max_size=2000))
def test_decoder_never_waits_on_more_than_a_frame(data: bytes) -> None:
    decoder = FrameDecoder()
    decoder.receive_data(data)
    try:
        while decoder.next_frame() is not NEED_DATA:
            pass
    except ProtocolError:
        return
    waiting = decoder.unparsed
    assert len(waiting) < MAX_FRAME_BYTES
    header = HEADER.match(waiting)
    if header is None:
        # No complete header yet: it is short enough to still become one.
        assert len(waiting) <= MAX_NAME_BYTES + 1 + MAX_LENGTH_DIGITS
    else:
        assert len(waiting) <= header.end() + int(header.group(2))


HEADER = re.compile(rb"(.[^ ]{0,9}) ([+-]?[0-9]{1,10}) ", re.DOTALL)
