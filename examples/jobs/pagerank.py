"""PageRank: one job per iteration, each reading the previous job's results (chaining).

Input lines are ``page link link ...``. ``parse`` turns them into records
``page -> [rank, links]``; each ``step`` job reads such records and writes
the next ones, so ``step.run(previous_results)`` chains the jobs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydisco.job import Results, map_reduce

Record = tuple[str, list[Any]]


def parse_line(line: str, params: dict[str, Any]) -> Iterator[Record]:
    fields = line.split()
    if fields:
        yield fields[0], [1.0 / params["pages"], fields[1:]]


def spread(record: Record) -> Iterator[Record]:
    page, (rank, links) = record
    yield page, ["links", links]
    for link in links:
        yield link, ["share", rank / len(links)]


def collect(page: str, values: Iterator[list[Any]], params: dict[str, Any]) -> Iterator[Record]:
    links: list[str] = []
    shares = 0.0
    for kind, value in values:
        if kind == "links":
            links = value
        else:
            shares += value
    damping = params["damping"]
    yield page, [(1 - damping) / params["pages"] + damping * shares, links]


parse = map_reduce(parse_line, partitions=2)
step = map_reduce(spread, collect, partitions=2)


def pagerank(
    inputs: Sequence[Any], pages: int, iterations: int = 10, runner: str = "inline"
) -> dict[str, float]:
    """The rank of each page after ``iterations`` chained jobs."""
    params = {"pages": pages, "damping": 0.85}
    ranks: Results = parse.run(inputs, params=params, runner=runner)
    for _ in range(iterations):
        ranks = step.run(ranks, params=params, runner=runner)
    return {page: rank for page, (rank, _links) in ranks}


if __name__ == "__main__":
    import sys

    with open(sys.argv[1]) as graph:
        pages = sum(1 for line in graph if line.strip())
    for page, rank in sorted(pagerank(sys.argv[1:], pages).items()):
        print(page, round(rank, 4))
