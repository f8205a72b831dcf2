"""k-means over 2-D points (``x y`` per line): one job per iteration, chained.

Each iteration's params are the current centres; the map assigns each point
to its nearest centre, the combine and reduce average per centre. The
results of one run are the next run's centres.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydisco.job import map_reduce

Point = list[float]


def assign(line: str, centres: list[Point]) -> Iterator[tuple[int, list[float]]]:
    fields = line.split()
    if len(fields) != 2:
        return
    x, y = float(fields[0]), float(fields[1])
    best = min(
        range(len(centres)), key=lambda i: (centres[i][0] - x) ** 2 + (centres[i][1] - y) ** 2
    )
    yield best, [x, y, 1.0]


def add(centre: int, sums: Iterator[list[float]]) -> Iterator[tuple[int, list[float]]]:
    sx = sy = n = 0.0
    for x, y, count in sums:
        sx, sy, n = sx + x, sy + y, n + count
    yield centre, [sx, sy, n]


kmeans_step = map_reduce(assign, add, combine=add, partitions=2)


def kmeans(
    inputs: Sequence[Any], centres: list[Point], iterations: int = 5, runner: str = "inline"
) -> list[Point]:
    """Run ``iterations`` chained jobs from ``centres``; the final centres."""
    for _ in range(iterations):
        sums = dict(kmeans_step.run(inputs, params=centres, runner=runner))
        centres = [
            [sums[i][0] / sums[i][2], sums[i][1] / sums[i][2]] if i in sums else centre
            for i, centre in enumerate(centres)
        ]
    return centres


if __name__ == "__main__":
    import sys

    print(kmeans(sys.argv[1:], [[0.0, 0.0], [1.0, 1.0]]))
