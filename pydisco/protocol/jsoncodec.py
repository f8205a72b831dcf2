"""JSON as the worker protocol speaks it.

``ujson`` when it is importable, the standard library otherwise (worker nodes
may have nothing but Python). Output is compact ASCII: non-ASCII text is
escaped as ``\\uXXXX``, so a frame's length in bytes equals its length in
characters, which some real Disco workers rely on. Input is strict JSON:
``NaN`` and ``Infinity`` are refused, as Disco's own decoder refuses them.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from pydisco.errors import PydiscoError

try:
    import ujson as _ujson
except ImportError:  # pragma: no cover - exercised on nodes without ujson
    _ujson = None  # type: ignore[assignment]


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


def _as_text(text: str | bytes) -> str:
    """``text`` as a str (bytes here are ASCII), so the stdlib never guesses an encoding."""
    return text.decode("ascii") if isinstance(text, bytes) else text


def dumps(value: Any) -> bytes:
    """Encode ``value`` as compact ASCII JSON bytes."""
    if _ujson is not None:
        try:
            return _ujson.dumps(value, ensure_ascii=True, escape_forward_slashes=False).encode(
                "ascii"
            )
        except (OverflowError, TypeError):
            pass
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
