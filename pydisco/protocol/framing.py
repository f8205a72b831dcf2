"""Framing: ``<name> SP <length> SP <payload> LF``, incrementally, with Disco's limits.

:class:`FrameDecoder` is fed bytes in chunks of any size and hands out complete
:class:`Frame` objects. It never reads a pipe and never holds more than one
maximal frame (:data:`~pydisco.protocol.limits.MAX_FRAME_BYTES`) of unparsed
data: every malformed header is reported as soon as the bytes that prove it
have arrived, and the payload length is checked before its bytes are awaited.

The decoder's verdicts match the Disco 0.5.4 master's framer, with one
deliberate exception: Disco rejects a 10-byte name when exactly 10 bytes have
arrived and the space has not, so its verdict depends on how the bytes were
chunked. This decoder waits for the 11th byte instead, so that its verdict never
depends on chunking. Senders must not use names longer than
:data:`~pydisco.protocol.limits.SAFE_NAME_BYTES`, and :func:`encode_frame`
refuses them.
"""

from __future__ import annotations

import enum
import re
from typing import Final, NamedTuple

import attrs

from pydisco.protocol.errors import ErrorKind, LocalProtocolError, RemoteProtocolError
from pydisco.protocol.limits import (
    MAX_LENGTH_DIGITS,
    MAX_NAME_BYTES,
    MAX_PAYLOAD_BYTES,
    SAFE_NAME_BYTES,
)

__all__ = [
    "END_OF_STREAM",
    "NEED_DATA",
    "Frame",
    "FrameDecoder",
    "FrameHeader",
    "Sentinel",
    "encode_frame",
    "read_header",
]


class Sentinel(enum.Enum):
    """What :meth:`FrameDecoder.next_frame` returns when it has no frame."""

    NEED_DATA = "need data"
    END_OF_STREAM = "end of stream"

    def __repr__(self) -> str:
        return self.name


#: More bytes are needed before the next frame is complete.
NEED_DATA: Final = Sentinel.NEED_DATA
#: The stream ended cleanly, between frames.
END_OF_STREAM: Final = Sentinel.END_OF_STREAM

_LENGTH_FIELD = re.compile(rb"[+-]?[0-9]+")
_SPACE: Final = 0x20
_NEWLINE: Final = 0x0A
# Consumed bytes are dropped from the buffer once they exceed this much.
_COMPACT_AFTER: Final = 64 * 1024


@attrs.frozen(slots=True)
class Frame:
    """One frame as it was on the wire: its name and raw payload bytes.

    ``name`` holds the name bytes decoded as Latin-1, so that any byte the
    framer accepts survives unchanged; real names are ASCII.
    """

    name: str
    payload: bytes

    def encode(self) -> bytes:
        """The frame's exact wire bytes."""
        return encode_frame(self.name, self.payload)


def encode_frame(name: str, payload: bytes) -> bytes:
    """Frame ``payload`` under ``name``.

    Raises :class:`LocalProtocolError` for a name that real Disco may not frame
    (empty, over 9 bytes, containing a space or newline, not ASCII) and for a
    payload over the 100 MiB cap.
    """
    try:
        raw_name = name.encode("ascii")
    except UnicodeEncodeError:
        raise LocalProtocolError(
            f"Frame name {name!r} is not ASCII.", ErrorKind.INVALID_NAME, name=name
        ) from None
    if not 1 <= len(raw_name) <= SAFE_NAME_BYTES or b" " in raw_name or b"\n" in raw_name:
        raise LocalProtocolError(
            f"Frame name {name!r} must be 1 to {SAFE_NAME_BYTES} bytes without spaces or newlines.",
            ErrorKind.INVALID_NAME,
            name=name,
        )
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise LocalProtocolError(
            f"A {name} payload of {len(payload)} bytes exceeds the limit of "
            f"{MAX_PAYLOAD_BYTES} bytes.",
            ErrorKind.TOO_BIG,
            name=name,
        )
    return b"%s %d %s\n" % (raw_name, len(payload), payload)


class FrameHeader(NamedTuple):
    """A frame's name and declared payload length, and where its payload starts."""

    name: str
    length: int
    payload_start: int


def _scan_header(data: bytes | bytearray, start: int) -> FrameHeader | None:
    """The header of the frame at ``start``; None when more bytes are needed.

    The framing rules for names and length fields live here, for the decoder
    and :func:`read_header` alike. Raises :class:`LocalProtocolError` (the
    decoder's boundary makes it remote) for a malformed header.
    """
    name_end = data.find(b" ", start + 1, start + 1 + MAX_NAME_BYTES)
    if name_end < 0:
        if len(data) - start > MAX_NAME_BYTES:
            raise LocalProtocolError(
                f"No space after a 1 to {MAX_NAME_BYTES} byte frame name: "
                f"{bytes(data[start : start + MAX_NAME_BYTES + 1])!r}.",
                ErrorKind.INVALID_NAME,
            )
        return None
    name = data[start:name_end].decode("latin-1")
    length_start = name_end + 1
    length_end = data.find(b" ", length_start + 1, length_start + 1 + MAX_LENGTH_DIGITS)
    if length_end < 0:
        if len(data) - length_start > MAX_LENGTH_DIGITS:
            raise LocalProtocolError(
                f"The length field of {name!r} is not followed by a space within "
                f"{MAX_LENGTH_DIGITS} bytes.",
                ErrorKind.INVALID_LENGTH,
                name=name,
            )
        return None
    field = bytes(data[length_start:length_end])
    if _LENGTH_FIELD.fullmatch(field) is None or (length := int(field)) < 0:
        raise LocalProtocolError(
            f"The length field of {name!r} is {field!r}, not a non-negative integer.",
            ErrorKind.INVALID_LENGTH,
            name=name,
        )
    if length > MAX_PAYLOAD_BYTES:
        raise LocalProtocolError(
            f"A {name!r} payload of {length} bytes exceeds the limit of {MAX_PAYLOAD_BYTES} bytes.",
            ErrorKind.TOO_BIG,
            name=name,
        )
    return FrameHeader(name, length, length_end + 1)


def read_header(data: bytes) -> FrameHeader | None:
    """The header at the start of ``data`` as :class:`FrameDecoder` reads it, or None.

    For diagnostics (the conformance kit explains a framing error with it):
    None when ``data`` does not start with a whole, valid name and length field.
    """
    try:
        return _scan_header(data, 0)
    except LocalProtocolError:
        return None


class FrameDecoder:
    """Turns a byte stream into :class:`Frame` objects, in chunks of any size.

    Feed bytes with :meth:`receive_data` (``b""`` marks the end of the
    stream), then call :meth:`next_frame` until it returns a sentinel, or
    iterate over the decoder. A malformed stream raises
    :class:`RemoteProtocolError` with the matching :class:`ErrorKind`; the
    decoder then stays failed and :attr:`unparsed` holds the bytes it could
    not frame, which is what Disco reports as a worker's "last words".

    As in h11, the parsing code raises :class:`LocalProtocolError` and
    :meth:`next_frame`, the receive boundary, converts it once.
    """

    __slots__ = ("_buffer", "_eof", "_error", "_position")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._position = 0
        self._eof = False
        self._error: RemoteProtocolError | None = None

    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the stream; ``b""`` means the stream has ended."""
        if self._eof:
            if data:
                raise LocalProtocolError(
                    "Bytes were fed to the frame decoder after the end of the stream.",
                    ErrorKind.ILLEGAL_SEQUENCE,
                )
            return
        if not data:
            self._eof = True
            return
        self._buffer += data

    @property
    def unparsed(self) -> bytes:
        """The bytes received but not yet returned as frames."""
        return bytes(self._buffer[self._position :])

    @property
    def error(self) -> RemoteProtocolError | None:
        """The error that stopped the decoder, if any."""
        return self._error

    def __iter__(self) -> FrameDecoder:
        return self

    def __next__(self) -> Frame:
        frame = self.next_frame()
        if isinstance(frame, Sentinel):
            raise StopIteration
        return frame

    def next_frame(self) -> Frame | Sentinel:
        """The next complete frame, :data:`NEED_DATA` or :data:`END_OF_STREAM`."""
        if self._error is not None:
            raise self._error
        try:
            return self._parse()
        except LocalProtocolError as exc:
            self._error = RemoteProtocolError(
                exc.message, exc.kind, name=exc.name, context=self.unparsed
            )
            raise self._error from None

    def _incomplete(self, where: str) -> Sentinel:
        if not self._eof:
            return NEED_DATA
        raise LocalProtocolError(
            f"The stream ended in the middle of a frame ({where}).", ErrorKind.TRUNCATED
        )

    def _parse(self) -> Frame | Sentinel:
        buffer = self._buffer
        start = self._position
        if len(buffer) == start:
            return END_OF_STREAM if self._eof else NEED_DATA
        header = _scan_header(buffer, start)
        if header is None:
            return self._incomplete("in the frame header")
        name, length, payload_start = header
        payload_end = payload_start + length
        if len(buffer) <= payload_end:
            return self._incomplete(f"in the payload of {name!r}")
        if buffer[payload_end] != _NEWLINE:
            raise LocalProtocolError(
                f"The {length}-byte payload of {name!r} is followed by "
                f"{bytes(buffer[payload_end : payload_end + 1])!r}, not a newline.",
                ErrorKind.INVALID_BODY,
                name=name,
            )
        with memoryview(buffer) as view:  # one copy: a bytearray slice would be two
            payload = view[payload_start:payload_end].tobytes()
        self._consume(payload_end + 1)
        return Frame(name, payload)

    def _consume(self, position: int) -> None:
        if position >= len(self._buffer):
            self._buffer.clear()
            self._position = 0
        elif position > _COMPACT_AFTER:
            del self._buffer[:position]
            self._position = 0
        else:
            self._position = position
