"""A job whose tasks report where their worker imported pydisco from (job home or template)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pydisco.job import map_reduce


def origin(line: str) -> Iterator[tuple[str, str]]:
    import pydisco

    yield line.strip(), str(pydisco.__file__)


def places(key: str, values: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
    yield key, sorted(set(values))


where_from = map_reduce(origin, places)
