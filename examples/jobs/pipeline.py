"""A 3-stage pipeline: map, a node-local combine (group_node_label), then reduce (group_label).

Counts words longer than ``params["min_length"]``. The combine stage folds
every map output of one partition on one node before anything crosses the
network; the reduce stage sees each word once, from every node.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydisco.job import Job, Stage


def long_words(line: str, params: dict[str, Any]) -> Iterator[tuple[str, int]]:
    for word in line.split():
        if len(word) >= params["min_length"]:
            yield word.lower(), 1


def total(word: str, counts: Iterator[int]) -> Iterator[tuple[str, int]]:
    yield word, sum(counts)


pipeline = Job(
    [
        Stage("map", "split", map=long_words, partitions=3),
        Stage("combine", "group_node_label", reduce=total),
        Stage("reduce", "group_label", reduce=total),
    ],
    params={"min_length": 4},
)

if __name__ == "__main__":
    import sys

    for word, count in sorted(pipeline.run(sys.argv[1:])):
        print(word, count)
