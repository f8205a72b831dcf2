"""A job whose map opens a side file that is not there: the user's failure, not the node's."""

from __future__ import annotations

from collections.abc import Iterator

from pydisco.job import map_reduce


def lookup(line: str) -> Iterator[tuple[str, str]]:
    with open("/nonexistent/pydisco-side-file.txt", encoding="utf-8") as handle:
        yield line, handle.read()


missing_side_file = map_reduce(lookup)
