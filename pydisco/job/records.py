"""Record formats: how ``(key, value)`` pairs become bytes between stages and jobs.

Three formats are written and read, one more is only read (the normative
description is ``protocol-spec/records.md``):

- ``json`` (the default): one UTF-8 line per record, a JSON array
  ``[key,value]``. The key is written in its *canonical encoding* (compact,
  ``sort_keys``, non-ASCII as UTF-8), so any language can read and write it
  and the *encoded key bytes* are well defined: partitioning hashes them and
  reduce orders by them.
- ``pickle`` (Python only, faster for rich values): a sequence of frames
  ``<u32 key length><u32 value length><key pickle><value pickle>``, both
  lengths little-endian, both pickles protocol 4. The encoded key bytes are
  the key pickle.
- ``lines``: plain text input, one record per line (a ``str`` without its
  line end; UTF-8, invalid bytes replaced by U+FFFD). Read only.
- ``disco``: Disco's classic ``DiscoOutputStream`` (hunks of pickled
  ``(key, value)`` records, and the older v0 layout), so the results of real
  Disco Python jobs can be consumed. Read only; unpickling runs code, so read
  only results you trust.

Every format decodes from an iterable of byte chunks, as task inputs deliver
them, in constant memory.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice, repeat
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any, Final, NamedTuple, Protocol

from pydisco import jsoncodec
from pydisco.integers import parse_decimal
from pydisco.job.errors import CorruptRecords

__all__ = [
    "FORMATS",
    "ClassicFormat",
    "CorruptRecords",
    "JsonFormat",
    "KeyedBlock",
    "LinesFormat",
    "PickleFormat",
    "RecordFormat",
    "Repeated",
    "get_format",
    "iter_lines",
    "json_key_bytes",
    "json_value_bytes",
]

Pair = tuple[Any, Any]
_first = itemgetter(0)
_second = itemgetter(1)
#: Records per block of :meth:`RecordFormat.keyed_blocks` for formats read record by record.
BLOCK_RECORDS: Final = 2048

#: Pickle protocol of the ``pickle`` format (readable by every Python 3 since 3.4).
PICKLE_PROTOCOL: Final = 4
_FRAME: Final = struct.Struct("<II")
_canonical_json = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
).encode


class Repeated(NamedTuple):
    """``value`` emitted ``times`` times under one key: one record between stages.

    Written by the automatic combiner (a map stage without ``combine`` that
    feeds another stage), read back as the pair repeated, so the next stage
    sees exactly what was emitted; results never hold one.
    """

    value: Any
    times: int


class KeyedBlock(NamedTuple):
    """Consecutive records of an input, for sorting: three lists of one length.

    ``key_bytes[i]`` is record ``i``'s encoded key and ``values[i]`` its value
    (a :class:`Repeated` for a repeated record). ``keys[i]`` is the key as
    read, or ``keys`` is ``None`` when the reader does not decode keys; a
    ``str`` key as read is what :meth:`RecordFormat.decode_key` gives back
    from its encoding, so a reduce may use it instead of decoding (keys of
    other types are decoded: an object's members may come in another order).
    ``size`` is the bytes the block was read from (an estimate of its memory).
    """

    key_bytes: list[bytes]
    keys: list[Any] | None
    values: list[Any]
    size: int


def _check_count(count: Any, record: Any) -> int:
    if type(count) is not int or count < 1:
        raise CorruptRecords(
            f"A repeated record's count is not a positive integer: {record!r:.200}"
        )
    return count


class RecordFormat(Protocol):
    """A way of turning records into bytes and back."""

    #: The format's name in job data and in ``Job(records=...)``.
    name: str
    #: Whether records carry keys (``lines`` has only values: the key is ``None``).
    keyed: bool

    def key_bytes(self, key: Any) -> bytes:
        """The encoded key: what partitioning hashes and reduce orders by."""
        ...

    def decode_key(self, key_bytes: bytes) -> Any:
        """The key back from its encoded bytes."""
        ...

    def encode(self, key_bytes: bytes, value: Any) -> bytes:
        """One whole record (framing included) from its encoded key and its value."""
        ...

    def encode_repeated(self, key_bytes: bytes, value: Any, times: int) -> bytes:
        """One record standing for the pair ``times`` times (see :class:`Repeated`)."""
        ...

    def records(self, chunks: Iterable[bytes]) -> Iterator[Any]:
        """The records in ``chunks``: ``(key, value)`` pairs, or lines for ``lines``."""
        ...

    def keyed_records(self, chunks: Iterable[bytes]) -> Iterator[tuple[bytes, Any]]:
        """The ``(encoded key, value)`` of every record in ``chunks`` (for sorting)."""
        ...

    def keyed_blocks(self, chunks: Iterable[bytes]) -> Iterator[KeyedBlock]:
        """What :meth:`keyed_records` yields, a block of records at a time."""
        ...


def blocks_of(keyed: Iterable[tuple[bytes, Any]]) -> Iterator[KeyedBlock]:
    """:data:`BLOCK_RECORDS` ``(encoded key, value)`` pairs at a time, as blocks without keys."""
    keyed = iter(keyed)
    while batch := list(islice(keyed, BLOCK_RECORDS)):
        key_bytes = list(map(_first, batch))
        size = sum(map(len, key_bytes)) + 64 * len(batch)
        yield KeyedBlock(key_bytes, None, list(map(_second, batch)), size)


def iter_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines of the byte stream without their ``\\n`` (a missing last ``\\n`` is fine)."""
    pending = b""
    for chunk in chunks:
        if not chunk:
            continue
        pieces = chunk.split(b"\n")
        if pending:
            pieces[0] = pending + pieces[0]
        pending = pieces.pop()
        yield from pieces
    if pending:
        yield pending


def _line_runs(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Runs of whole lines of the byte stream (without the last ``\\n``), one per chunk that
    ends a line, then the unterminated rest if there is one."""
    pending = b""
    for chunk in chunks:
        cut = chunk.rfind(b"\n")
        if cut < 0:
            pending += chunk
            continue
        yield pending + chunk[:cut]
        pending = chunk[cut + 1 :]
    if pending:
        yield pending


def _text_blocks(chunks: Iterable[bytes]) -> Iterator[list[str]]:
    """The lines of ``chunks`` as lists, one list per run of whole lines."""
    for block in _line_runs(chunks):
        text = block.decode("utf-8", "replace")
        lines = text.split("\n")
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        yield lines


def iter_text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines decoded as UTF-8 (invalid bytes become U+FFFD), without ``\\n`` or ``\\r\\n``.

    The lines of each chunk come from one ``split``, flattened in C: no
    Python frame runs per line.
    """
    return chain.from_iterable(_text_blocks(chunks))


# --- json ---------------------------------------------------------------------------------------


def json_key_bytes(key: Any) -> bytes:
    """The canonical JSON encoding of ``key`` as UTF-8 bytes.

    Compact separators, object members sorted by name, non-ASCII characters
    written as themselves. Always the standard library's encoder, so every
    machine encodes (and so partitions) a key identically.
    """
    kind = type(key)
    if kind is str:
        return encode_basestring(key).encode("utf-8")
    if kind is int:
        return str(key).encode("ascii")
    try:
        return _canonical_json(key).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"The key {key!r} cannot be encoded as JSON: {exc}.") from None


def json_value_bytes(value: Any) -> bytes:
    """The JSON of a record's value as UTF-8 bytes (compact, keys sorted)."""
    kind = type(value)
    if kind is int:
        return str(value).encode("ascii")
    if kind is str:
        return encode_basestring(value).encode("utf-8")
    try:
        return _canonical_json(value).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"The value {value!r} cannot be encoded as JSON: {exc}.") from None


_ARITY: Final = frozenset({2, 3})
_PAIR_ONLY: Final = frozenset({2})
_LIST_ONLY: Final = frozenset({list})


def _repeated_pair(record: list[Any]) -> list[Any]:
    if len(record) == 2:
        return record
    key, value, count = record
    return [key, Repeated(value, _check_count(count, record))]


class JsonFormat:
    """``[key,value]`` per line, UTF-8; the default, readable from any language."""

    name = "json"
    keyed = True

    def key_bytes(self, key: Any) -> bytes:
        """The canonical JSON of ``key``."""
        return json_key_bytes(key)

    def decode_key(self, key_bytes: bytes) -> Any:
        """The key decoded from its JSON."""
        return jsoncodec.loads(key_bytes)

    def encode(self, key_bytes: bytes, value: Any) -> bytes:
        """``[<key>,<value>]\\n``."""
        return b"[" + key_bytes + b"," + json_value_bytes(value) + b"]\n"

    def encode_repeated(self, key_bytes: bytes, value: Any, times: int) -> bytes:
        """``[<key>,<value>,<times>]\\n``: the pair ``times`` times (between stages only)."""
        return b"[%b,%b,%d]\n" % (key_bytes, json_value_bytes(value), times)

    def _block(self, block: bytes) -> list[Any]:
        """The ``[key, value]`` pairs of the whole lines in ``block`` (blank lines skipped)."""
        try:
            pairs = jsoncodec.loads_lines(block)
        except jsoncodec.JSONLineError as exc:
            raise CorruptRecords(
                f"A json record is not valid JSON ({exc}): {exc.line[:200]!r}"
            ) from None
        if _LIST_ONLY.issuperset(map(type, pairs)) and _ARITY.issuperset(map(len, pairs)):
            return pairs  # checked in C; the loop below finds the record that is not
        for pair in pairs:
            if type(pair) is not list or len(pair) not in _ARITY:
                line = jsoncodec.dumps(pair)
                raise CorruptRecords(f"A json record is not a [key, value] array: {line[:200]!r}")
        return pairs

    def _blocks(self, chunks: Iterable[bytes]) -> Iterator[list[Any]]:
        return map(_second, self._sized_blocks(chunks))

    def records(self, chunks: Iterable[bytes]) -> Iterator[Pair]:
        """Every ``(key, value)``; blank lines are skipped, a repeated record repeated."""
        for pairs in self._blocks(chunks):
            if _PAIR_ONLY.issuperset(map(len, pairs)):
                yield from map(tuple, pairs)
                continue
            for record in pairs:
                if len(record) == 2:
                    yield tuple(record)
                else:
                    key, value, count = record
                    yield from repeat((key, value), _check_count(count, record))

    def keyed_records(self, chunks: Iterable[bytes]) -> Iterator[tuple[bytes, Any]]:
        """Every ``(canonical key bytes, value)``; a repeated record's value is a :class:`Repeated`.

        :attr:`repeated` is then set, so the reader knows to expand values.
        """
        encode = encode_basestring
        for pairs in self._blocks(chunks):
            records = pairs
            if not _PAIR_ONLY.issuperset(map(len, pairs)):
                self.repeated = True
                records = [_repeated_pair(record) for record in pairs]
            for key, value in records:
                if type(key) is str:
                    yield encode(key).encode("utf-8"), value
                else:
                    yield json_key_bytes(key), value

    def keyed_blocks(self, chunks: Iterable[bytes]) -> Iterator[KeyedBlock]:
        """:meth:`keyed_records` a block at a time, keys encoded in bulk (one join, one split).

        The JSON of a string has no raw line end and UTF-8 never puts a
        ``\\n`` byte inside a character, so the joined encodings split back
        into exactly the per-key encodings. Blocks with other keys encode
        key by key.
        """
        for block, records in self._sized_blocks(chunks):
            pairs = records
            if not _PAIR_ONLY.issuperset(map(len, records)):
                self.repeated = True
                pairs = [_repeated_pair(record) for record in records]
            keys = list(map(_first, pairs))
            try:
                key_bytes = "\n".join(map(encode_basestring, keys)).encode("utf-8").split(b"\n")
            except (TypeError, UnicodeEncodeError):  # not all str; or a lone surrogate
                key_bytes = list(map(json_key_bytes, keys))
            yield KeyedBlock(key_bytes, keys, list(map(_second, pairs)), len(block))

    def _sized_blocks(self, chunks: Iterable[bytes]) -> Iterator[tuple[bytes, list[Any]]]:
        for block in _line_runs(chunks):
            if block and not block.isspace():  # blank blocks (all whitespace) are skipped
                yield block, self._block(block)

    #: Whether :meth:`keyed_records` has yielded a :class:`Repeated` value.
    repeated = False


# --- pickle -------------------------------------------------------------------------------------


def _frames(chunks: Iterable[bytes]) -> Iterator[tuple[bytes, bytes]]:
    buffer = bytearray()
    pos = 0
    header = _FRAME.size
    for chunk in chunks:
        if pos:
            del buffer[:pos]
            pos = 0
        buffer += chunk
        end = len(buffer)
        while end - pos >= header:
            klen, vlen = _FRAME.unpack_from(buffer, pos)
            stop = pos + header + klen + vlen
            if stop > end:
                break
            start = pos + header
            yield bytes(buffer[start : start + klen]), bytes(buffer[start + klen : stop])
            pos = stop
    if len(buffer) - pos:
        raise CorruptRecords(
            f"The pickle record stream ends inside a record ({len(buffer) - pos} bytes left)."
        )


def _pickle_key(key: Any) -> bytes:
    """The protocol 4 pickle of ``key``: the encoded key of the pickle-keyed formats."""
    import pickle  # only the pickle-keyed formats need it: a json task does not import it

    return pickle.dumps(key, PICKLE_PROTOCOL)


def _unpickle_key(key_bytes: bytes) -> Any:
    """The key unpickled."""
    import pickle

    return pickle.loads(key_bytes)


class PickleFormat:
    """Length-prefixed pickles: Python only, any picklable key and value."""

    name = "pickle"
    keyed = True

    key_bytes = staticmethod(_pickle_key)
    decode_key = staticmethod(_unpickle_key)

    def encode(self, key_bytes: bytes, value: Any) -> bytes:
        """``<u32 klen><u32 vlen><key pickle><value pickle>``."""
        import pickle

        data = pickle.dumps(value, PICKLE_PROTOCOL)
        return _FRAME.pack(len(key_bytes), len(data)) + key_bytes + data

    def encode_repeated(self, key_bytes: bytes, value: Any, times: int) -> bytes:
        """The pair ``times`` times: the value pickle is a :class:`Repeated` (between stages)."""
        return self.encode(key_bytes, Repeated(value, times))

    def records(self, chunks: Iterable[bytes]) -> Iterator[Pair]:
        """Every ``(key, value)``; a repeated record repeated."""
        import pickle

        loads = pickle.loads
        for key, value in _frames(chunks):
            decoded = loads(value)
            if type(decoded) is Repeated:
                yield from repeat((loads(key), decoded.value), decoded.times)
            else:
                yield loads(key), decoded

    def keyed_records(self, chunks: Iterable[bytes]) -> Iterator[tuple[bytes, Any]]:
        """Every ``(key pickle, value)``; a repeated record's value is a :class:`Repeated`."""
        import pickle

        loads = pickle.loads
        for key, value in _frames(chunks):
            decoded = loads(value)
            if type(decoded) is Repeated:
                self.repeated = True
            yield key, decoded

    def keyed_blocks(self, chunks: Iterable[bytes]) -> Iterator[KeyedBlock]:
        """:meth:`keyed_records` in blocks."""
        return blocks_of(self.keyed_records(chunks))

    #: Whether :meth:`keyed_records` has yielded a :class:`Repeated` value.
    repeated = False


# --- lines --------------------------------------------------------------------------------------


class LinesFormat:
    """Plain text: each line is one record (a ``str``); there are no keys."""

    name = "lines"
    keyed = False

    def key_bytes(self, key: Any) -> bytes:
        """Lines have no key; the encoded key is empty."""
        return b""

    def decode_key(self, key_bytes: bytes) -> Any:
        """Lines have no key."""
        return None

    def encode(self, key_bytes: bytes, value: Any) -> bytes:
        """``str(value)`` and a line end."""
        return f"{value}\n".encode()

    def encode_repeated(self, key_bytes: bytes, value: Any, times: int) -> bytes:
        """The line ``times`` times."""
        return self.encode(key_bytes, value) * times

    def records(self, chunks: Iterable[bytes]) -> Iterator[str]:
        """Every line as text."""
        return iter_text_lines(chunks)

    def keyed_records(self, chunks: Iterable[bytes]) -> Iterator[tuple[bytes, Any]]:
        """Every line, under the empty key."""
        for line in iter_text_lines(chunks):
            yield b"", line

    def keyed_blocks(self, chunks: Iterable[bytes]) -> Iterator[KeyedBlock]:
        """:meth:`keyed_records` in blocks."""
        return blocks_of(self.keyed_records(chunks))


# --- Disco's classic format (read only) ---------------------------------------------------------

_HUNK: Final = struct.Struct("<BIQ")


class _ByteReader:
    """``read(n)`` over an iterator of chunks, counting the bytes consumed."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = bytearray()
        self._pos = 0
        self.offset = 0

    def read(self, size: int) -> bytes:
        while len(self._buffer) - self._pos < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            if self._pos:
                del self._buffer[: self._pos]
                self._pos = 0
            self._buffer += chunk
        data = bytes(self._buffer[self._pos : self._pos + size])
        self._pos += len(data)
        self.offset += len(data)
        return data

    def read_until(self, stop: bytes) -> bytes:
        out = bytearray()
        while True:
            byte = self.read(1)
            if not byte or byte == stop:
                return bytes(out)
            out += byte


def _classic_hunk_records(hunk: bytes) -> Iterator[Pair]:
    import io
    import pickle

    stream = io.BytesIO(hunk)
    unpickler = pickle.Unpickler(stream, encoding="utf-8", errors="surrogateescape")
    while stream.tell() < len(hunk):
        try:
            record = unpickler.load()
        except Exception as exc:
            raise CorruptRecords(f"A classic Disco record cannot be unpickled: {exc!r}.") from exc
        if not isinstance(record, tuple) or len(record) != 2:
            raise CorruptRecords(f"A classic Disco record is not a (key, value) pair: {record!r}.")
        yield record[0], record[1]


def _classic_v1(reader: _ByteReader, first: bytes) -> Iterator[Pair]:
    while first:
        if first[0] < 0x80:
            raise CorruptRecords(
                f"A classic Disco hunk header starts with {first[0]:#x}, not 0x81, at byte "
                f"{reader.offset - 1}."
            )
        head = reader.read(_HUNK.size)
        if len(head) < _HUNK.size:
            raise CorruptRecords(f"Truncated data at {reader.offset} bytes (hunk header).")
        compressed, crc, length = _HUNK.unpack(head)
        if length == 0:
            return
        start = reader.offset
        stored = reader.read(length)
        if len(stored) < length:
            raise CorruptRecords(f"Truncated data at {reader.offset} bytes (hunk of {length}).")
        try:
            hunk = zlib.decompress(stored) if compressed else stored
        except zlib.error as exc:
            raise CorruptRecords(
                f"Corrupted data between bytes {start}-{reader.offset}: {exc}."
            ) from None
        if zlib.crc32(hunk) != crc:
            raise CorruptRecords(
                f"Corrupted data between bytes {start}-{reader.offset}: CRC32 mismatch."
            )
        yield from _classic_hunk_records(hunk)
        first = reader.read(1)


def _classic_v0(reader: _ByteReader, first: bytes) -> Iterator[Pair]:
    def field(prefix: bytes) -> str:
        digits = prefix + reader.read_until(b" ")
        size = parse_decimal(digits.decode("ascii", "replace"))
        if size is None:
            raise CorruptRecords(f"A v0 record length is not a number: {digits[:40]!r}.")
        data = reader.read(size)
        if len(data) < size:
            raise CorruptRecords(f"Truncated v0 record at {reader.offset} bytes.")
        return data.decode("utf-8", "surrogateescape")

    while first:
        key = field(first)
        if reader.read(1) != b" ":
            raise CorruptRecords(f"A v0 record lacks the space after its key at {reader.offset}.")
        value = field(b"")
        if reader.read(1) != b"\n":
            raise CorruptRecords(f"A v0 record lacks its line end at {reader.offset}.")
        yield key, value
        first = reader.read(1)


class ClassicFormat:
    """Disco 0.5's ``DiscoOutputStream`` (v1 hunks, or v0), read only (facts §12.4)."""

    name = "disco"
    keyed = True

    #: Classic records are re-keyed with the pickle format's key encoding when sorted.
    key_bytes = staticmethod(_pickle_key)
    decode_key = staticmethod(_unpickle_key)

    def encode(self, key_bytes: bytes, value: Any) -> bytes:
        """Not supported: pydisco writes ``json`` or ``pickle``."""
        raise TypeError("The classic Disco format is read only; write 'json' or 'pickle'.")

    def encode_repeated(self, key_bytes: bytes, value: Any, times: int) -> bytes:
        """Not supported: pydisco writes ``json`` or ``pickle``."""
        raise TypeError("The classic Disco format is read only; write 'json' or 'pickle'.")

    def records(self, chunks: Iterable[bytes]) -> Iterator[Pair]:
        """Every ``(key, value)`` of a v1 (first byte >= 0x80) or v0 stream."""
        reader = _ByteReader(chunks)
        first = reader.read(1)
        if not first:
            return iter(())
        if first[0] >= 0x80:
            return _classic_v1(reader, first)
        return _classic_v0(reader, first)

    def keyed_records(self, chunks: Iterable[bytes]) -> Iterator[tuple[bytes, Any]]:
        """Every ``(key pickle, value)``."""
        for key, value in self.records(chunks):
            yield self.key_bytes(key), value

    def keyed_blocks(self, chunks: Iterable[bytes]) -> Iterator[KeyedBlock]:
        """:meth:`keyed_records` in blocks."""
        return blocks_of(self.keyed_records(chunks))


FORMATS: Final[dict[str, Callable[[], RecordFormat]]] = {
    "json": JsonFormat,
    "pickle": PickleFormat,
    "lines": LinesFormat,
    "disco": ClassicFormat,
}


def get_format(name: str | RecordFormat) -> RecordFormat:
    """The record format called ``name`` (``json``, ``pickle``, ``lines`` or ``disco``)."""
    if not isinstance(name, str):
        return name
    factory = FORMATS.get(name)
    if factory is None:
        raise ValueError(f"Unknown record format {name!r}; use one of {', '.join(FORMATS)}.")
    return factory()
