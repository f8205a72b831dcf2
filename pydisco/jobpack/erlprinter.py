"""A printer of Erlang terms: decoded JSON written the way Disco's master prints it with ``~p``.

Disco's master decodes JSON with mochijson2 (strings become binaries, objects
become ``{struct, [{Key, Value}]}``, ``null``/``true``/``false`` become atoms)
and reports job pack failures with ``~p``. The reason texts pydisco produces
are built with these helpers so they read as the real master's do. Line
wrapping and length truncation of very long terms are not reproduced.
"""

from __future__ import annotations

from typing import Any

_ESCAPES = {
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\b": "\\b",
    "\f": "\\f",
    "\x1b": "\\e",
    "\x7f": "\\d",
    '"': '\\"',
    "\\": "\\\\",
}


def _printable(code: int) -> bool:
    # io_lib's latin1 printable range, which ~p uses by default.
    return 32 <= code <= 126 or 160 <= code <= 255 or code in (8, 9, 10, 11, 12, 13, 27)


def _quote(chars: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in chars) + '"'


def string(text: str) -> str:
    """``~p`` of an Erlang string (a list of character codes)."""
    if text and not all(_printable(ord(c)) for c in text):
        return "[" + ",".join(str(ord(c)) for c in text) + "]"
    return _quote(text)


def binary(text: str) -> str:
    """``~p`` of the binary mochijson2 makes from a JSON string."""
    raw = text.encode("utf-8", "surrogatepass")
    if all(_printable(b) for b in raw):
        return "<<" + _quote(raw.decode("latin-1")) + ">>"
    return "<<" + ",".join(str(b) for b in raw) + ">>"


def _float(value: float) -> str:
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        text = f"{mantissa}e{int(exponent)}"
    return text


def term(value: Any) -> str:
    """``~p`` of a value as mochijson2 would have decoded it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return binary(value)
    if isinstance(value, list):
        if value and all(type(v) is int and _printable(v) for v in value):
            return _quote("".join(chr(v) for v in value))
        return "[" + ",".join(term(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = ",".join("{" + binary(k) + "," + term(v) + "}" for k, v in value.items())
        return "{struct,[" + pairs + "]}"
    return repr(value)
