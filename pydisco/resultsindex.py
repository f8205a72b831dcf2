"""Results-index lines (facts §5.2): ``<label> <url> <size>``, one per local output.

The master writes one line per local OUTPUT of a task into the task's
results index, which ``dir://`` URLs name. Workers read indexes as inputs,
the client and the job runner read them as results, and the master reads
v1 ``dir://`` job inputs: all of them through :func:`parse_index`, and every
writer through :func:`format_index_line`, so the format has one definition.

A line is three fields separated by ASCII whitespace: the label and the size
in ASCII decimal (non-negative, as Erlang's ``~B`` writes them), and a URL
without whitespace. Blank lines are skipped. The file is UTF-8.
"""

from __future__ import annotations

from typing import NamedTuple

from pydisco.errors import PydiscoError
from pydisco.integers import parse_decimal

__all__ = ["IndexEntry", "IndexLineError", "format_index_line", "parse_index"]


class IndexLineError(PydiscoError, ValueError):
    """A line that is not ``label url size``: read from an index, or about to be written.

    Each layer turns it into its own error (a worker's ``DataError``, the
    client's ``ResultsError``, a task error on the master); ``source`` names
    the index and ``number`` the line (both empty for a line being written).
    """

    def __init__(self, message: str, source: str = "", number: int = 0) -> None:
        super().__init__(message)
        self.source = source
        self.number = number


class IndexEntry(NamedTuple):
    """One line of a results index: ``label url size``."""

    label: int
    url: str
    size: int


def _field(raw: bytes) -> str:
    return raw.decode("utf-8")


def parse_index(data: bytes, source: str = "index") -> list[IndexEntry]:
    """The entries of the results index ``data``; :class:`IndexLineError` on a bad line."""
    entries = []
    for number, line in enumerate(data.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        label = size = None
        url = ""
        try:
            if len(fields) == 3:
                label = parse_decimal(_field(fields[0]))
                url = _field(fields[1])
                size = parse_decimal(_field(fields[2]))
        except UnicodeDecodeError:
            pass
        if label is None or size is None:
            shown = line.decode("utf-8", "backslashreplace")
            raise IndexLineError(
                f"Line {number} of the results index {source} is not 'label url size' "
                f"(non-negative decimal label and size, UTF-8): {shown!r}.",
                source,
                number,
            )
        entries.append(IndexEntry(label, url, size))
    return entries


def format_index_line(label: int, url: str, size: int) -> str:
    """The index line for an output, with its ``\\n``.

    Raises :class:`IndexLineError` for what :func:`parse_index` could not read
    back: a negative label or size, an empty URL, one holding whitespace or
    one that is not UTF-8 (lone surrogates).
    """
    if label < 0 or size < 0:
        raise IndexLineError(
            f"An index line needs a non-negative label and size, not {label} and {size}."
        )
    try:
        fields = url.encode("utf-8").split()
    except UnicodeEncodeError:
        fields = []
    if len(fields) != 1 or fields[0] != url.encode("utf-8"):
        raise IndexLineError(
            f"An index line's URL must be non-empty UTF-8 text without whitespace: {url!r}."
        )
    return f"{label} {url} {size}\n"
