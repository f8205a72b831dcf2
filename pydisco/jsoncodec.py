"""The one JSON codec of pydisco: the worker protocol, job packs and the HTTP API use it.

It sits in the bottom layer (it imports only :mod:`pydisco.errors`) and is
shipped in the worker runtime. ``ujson`` when it is importable, the standard
library otherwise (worker nodes may have nothing but Python). Output is
compact ASCII: non-ASCII text is escaped as ``\\uXXXX``, so a frame's length
in bytes equals its length in characters, which some real Disco workers rely
on. Input is strict JSON: ``NaN`` and ``Infinity`` are refused, as Disco's own
decoder refuses them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from pydisco.errors import PydiscoError


def _load_ujson() -> ModuleType | None:
    try:
        import ujson
    except ImportError:  # pragma: no cover - exercised on nodes without ujson
        return None
    return ujson


_ujson = _load_ujson()


class JSONError(PydiscoError, ValueError):
    """The bytes are not one strict JSON value; callers wrap it in their own error kind."""


_NON_STANDARD = (b"NaN", b"Infinity")


def _refuse_constant(name: str) -> Any:
    raise JSONError(f"{name} is not valid JSON")


def _stdlib_json() -> ModuleType:
    """The standard library's ``json``, imported on first use (with ujson it is never needed)."""
    import json

    return json


def _strict_loads(text: str) -> Any:
    try:
        return _stdlib_json().loads(text, parse_constant=_refuse_constant)
    except JSONError:
        raise
    except (ValueError, RecursionError) as exc:
        raise JSONError(str(exc)) from None


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode one JSON value, raising :class:`JSONError` for anything else."""
    raw = bytes(data) if isinstance(data, (bytearray, memoryview)) else data
    text: str | bytes
    if isinstance(raw, bytes):
        if raw.isascii():
            text = raw  # ujson reads ASCII bytes as they are, without a decoded copy
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise JSONError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from None
        probe = raw
    else:
        text = raw
        probe = raw.encode("utf-8", "surrogatepass")
    # A one-byte search is memchr-fast; the substring searches cost as much as
    # the parse itself on large payloads, so run them only when they can match.
    if _ujson is None or (
        (b"N" in probe or b"I" in probe) and any(token in probe for token in _NON_STANDARD)
    ):
        return _strict_loads(_as_text(text))
    try:
        return _ujson.loads(text)
    except (ValueError, OverflowError, RecursionError):
        # ujson refuses some valid JSON (very deep nesting); let the stdlib decide.
        return _strict_loads(_as_text(text))


class JSONLineError(JSONError):
    """A line of a JSON-lines block is not one JSON value; ``number`` counts from 1."""

    def __init__(self, message: str, number: int, line: bytes) -> None:
        super().__init__(message)
        self.number = number
        self.line = line


def loads_lines(block: bytes) -> list[Any]:
    """The JSON value of each non-blank line of ``block`` (lines end at ``\\n``).

    Exactly what :func:`loads` gives line by line, and the same error
    (:class:`JSONLineError` for the first bad line). Blocks of arrays, one per
    line and nothing around them (what record files hold), take a fast path:
    one msgspec call for the whole block, used only where it provably splits
    the block as the lines do (see :func:`_array_lines_fast`).
    """
    fast = _array_lines_fast(block)
    if fast is not None:
        return fast
    values = []
    for number, line in enumerate(block.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            values.append(loads(line))
        except JSONError as exc:
            raise JSONLineError(f"line {number}: {exc}", number, line) from None
    return values


def _array_lines_fast(block: bytes) -> list[Any] | None:
    """The arrays of ``block`` in one msgspec pass, or None to go line by line.

    Taken only when the block starts with ``[``, ends with ``]`` and every
    line end sits between ``]`` and ``[``. Then no value can span two lines
    (after ``]`` a JSON value continues only with ``,``, ``]`` or ``}``, and a
    string cannot hold a raw line end), no line is blank, and so "as many
    values as lines" means one value per line. msgspec is strict JSON (no
    ``NaN``); anything it refuses goes the slow way and gets its exact error.
    """
    decoder = _array_lines_decoder()
    if decoder is None or block[:1] != b"[" or block[-1:] != b"]":
        return None
    ends = block.count(b"\n")
    if block.count(b"]\n[") != ends:
        return None
    try:
        values: list[Any] = decoder(block)
    except ValueError:  # msgspec.DecodeError and ValidationError are ValueErrors
        return None
    return values if len(values) == ends + 1 else None


@functools.cache
def _array_lines_decoder() -> Callable[[bytes], list[Any]] | None:
    """msgspec's JSON-lines decoder for arrays, made on first use; None without msgspec."""
    try:
        import msgspec
    except ImportError:  # pragma: no cover - the shipped runtime on a node without it
        return None
    decode: Callable[[bytes], list[Any]] = msgspec.json.Decoder(list[Any]).decode_lines
    return decode


def _as_text(text: str | bytes) -> str:
    """``text`` as a str (bytes here are ASCII), so the stdlib never guesses an encoding."""
    return text.decode("ascii") if isinstance(text, bytes) else text


def dumps(value: Any) -> bytes:
    """Encode ``value`` as compact ASCII JSON bytes."""
    if _ujson is not None:
        try:
            fast: str = _ujson.dumps(value, ensure_ascii=True, escape_forward_slashes=False)
        except (OverflowError, TypeError):
            pass
        else:
            return fast.encode("ascii")
    text: str = _stdlib_json().dumps(
        value, ensure_ascii=True, separators=(",", ":"), allow_nan=False
    )
    return text.encode("ascii")


def dumps_text(value: Any) -> str:
    """Like :func:`dumps`, as text."""
    return dumps(value).decode("ascii")


def ujson_available() -> bool:
    """Whether the fast ``ujson`` path is in use."""
    return _ujson is not None
