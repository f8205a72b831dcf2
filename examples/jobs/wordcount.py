"""Word count: the classic map/reduce, with an in-memory combine.

python examples/jobs/wordcount.py FILE...                 # inline
python examples/jobs/wordcount.py --runner local FILE...  # on the bundled master
"""

from __future__ import annotations

from collections.abc import Iterator

from pydisco.job import map_reduce


def words(line: str) -> Iterator[tuple[str, int]]:
    for word in line.split():
        yield word, 1


def total(word: str, counts: Iterator[int]) -> Iterator[tuple[str, int]]:
    yield word, sum(counts)


wordcount = map_reduce(words, total, combine=total, partitions=4)

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runner", default="inline")
    parser.add_argument("inputs", nargs="+")
    args = parser.parse_args()
    for word, count in sorted(wordcount.run(args.inputs, runner=args.runner)):
        print(word, count)
