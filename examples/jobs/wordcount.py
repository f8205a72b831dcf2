"""Word count: the classic map/reduce, in two styles.

``wordcount`` counts each map task's lines with one ``Counter`` (in-mapper
combining) in a single ``update`` over all the task's words: the lines arrive
in blocks, are split and counted in C without a Python step per line, and
each map task writes every word once with its count. ``wordcount_by_word`` is the
textbook form, a ``(word, 1)`` per word folded by ``combine``; it reads more
like the map/reduce papers and costs about twice the CPU (a generator step
and a tuple per word). ``wordcount_textbook`` leaves out ``combine``: the
automatic combiner of a map stage counts the repeated ``(word, 1)`` pairs.

python examples/jobs/wordcount.py FILE...                 # inline
python examples/jobs/wordcount.py --runner local FILE...  # on the bundled master
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import chain

from pydisco.job import map_reduce


def count_words(lines: Iterable[str]) -> Iterable[tuple[str, int]]:
    counts: Counter[str] = Counter()
    counts.update(chain.from_iterable(map(str.split, lines)))
    return counts.items()


def total(word: str, counts: Iterator[int]) -> Iterator[tuple[str, int]]:
    yield word, sum(counts)


wordcount = map_reduce(task=count_words, reduce=total, partitions=2)


def words(line: str) -> Iterator[tuple[str, int]]:
    for word in line.split():
        yield word, 1


wordcount_by_word = map_reduce(words, total, combine=total, partitions=2)

#: The same without ``combine``: pydisco's automatic combiner sends each map task's words
#: once with their counts, and ``total`` still sees every 1 (the results are identical).
wordcount_textbook = map_reduce(words, total, partitions=2)

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runner", default="inline")
    parser.add_argument("inputs", nargs="+")
    args = parser.parse_args()
    for word, count in sorted(wordcount.run(args.inputs, runner=args.runner)):
        print(word, count)
