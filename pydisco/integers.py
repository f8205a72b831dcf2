"""Reading an integer written in decimal by someone else: one rule for every layer.

``str.isdigit()`` accepts "²" and "٣", and ``int()`` accepts "+1", "1_0" and
" 1 ". Text from outside (a results index, a settings value, a node spec, an
HTTP reply) holds ASCII digits only, so that is all :func:`parse_decimal`
accepts. It returns ``None`` for anything else: each caller raises its own
error, which can say which field of which input was wrong.
"""

from __future__ import annotations

__all__ = ["parse_decimal"]


def parse_decimal(text: str, *, signed: bool = False) -> int | None:
    """The integer ``text`` writes in ASCII decimal (``-`` allowed when ``signed``), or None."""
    digits = text[1:] if signed and text[:1] == "-" else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    return int(text)
