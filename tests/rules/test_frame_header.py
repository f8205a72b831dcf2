"""The frame header rule lives in the protocol core; the conformance kit reads headers with it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.conformance import driver
from pydisco.protocol import session
from pydisco.protocol.errors import RemoteProtocolError
from pydisco.protocol.framing import FrameDecoder, encode_frame, read_header

names = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ_"), min_size=1, max_size=9)


@settings(max_examples=200)
@given(names, st.binary(max_size=30))
def test_round_trip(name: str, payload: bytes) -> None:
    wire = encode_frame(name, payload)
    header = read_header(wire)
    assert header is not None
    assert (header.name, header.length) == (name, len(payload))
    assert wire[header.payload_start : header.payload_start + header.length] == payload


@settings(max_examples=300)
@given(st.binary(max_size=30))
def test_garbage_read_as_the_decoder_reads_it(data: bytes) -> None:
    decoder = FrameDecoder()
    decoder.receive_data(data)
    decoder.receive_data(b"")
    try:
        decoder.next_frame()
    except RemoteProtocolError as exc:
        if exc.kind.value in ("invalid_type", "invalid_length", "message_too_big"):
            assert read_header(data) is None
        return
    # The decoder framed it (or saw nothing): the header, if any, is what it read.
    header = read_header(data)
    assert header is None or data[header.payload_start + header.length] == ord("\n")


def test_kit_takes_the_session_rules_from_the_core() -> None:
    assert driver.REPLIES is session.REPLIES
    assert driver.WORKER_MAY_SEND is session.WORKER_MAY_SEND
    assert driver.FAILURE_MESSAGES is session.FAILURE_MESSAGES
    assert driver.read_header is read_header
    assert not hasattr(driver, "_HEADER") and not hasattr(driver, "_REQUESTS")
