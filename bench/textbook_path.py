"""Where the textbook word count's map CPU goes, step by step, in one process.

    .venv/bin/python bench/textbook_path.py FILE [--mb 8] [--rounds 5]

On the first ``--mb`` MB of FILE's lines (e.g. bench/wordcount.py's
generated text), each round times, interleaved: the baseline (a
``Counter.update(line.split())`` per line), then the textbook map's
``(word, 1)`` generator alone, with the pairs taken in batches of
:data:`~pydisco.job.execute.COUNT_BATCH`, with the automatic combiner's
check of each batch, and the whole counting path
(:class:`~pydisco.job.execute.RepeatCounter`, writing nothing). It prints the
median CPU seconds of each step and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any

from pydisco.job.execute import COUNT_BATCH, RepeatCounter


def words(line: str) -> Iterator[tuple[str, int]]:
    for word in line.split():
        yield word, 1


class _Discard:
    """The emitter the counting path flushes to: it keeps nothing."""

    def emit_counted(self, value: Any, counts: Iterable[tuple[Any, int]]) -> None:
        for _ in counts:
            pass


def steps(lines: list[str]) -> dict[str, Callable[[], None]]:
    def counter() -> None:
        counts: Counter[str] = Counter()
        for line in lines:
            counts.update(line.split())

    def generator() -> None:
        for _ in chain.from_iterable(map(words, lines)):
            pass

    def batches() -> None:
        pairs = chain.from_iterable(map(words, lines))
        while list(islice(pairs, COUNT_BATCH)):
            pass

    def checked() -> None:
        pairs = chain.from_iterable(map(words, lines))
        while batch := list(islice(pairs, COUNT_BATCH)):
            value = batch[0][1]
            keys = [key for key, each in batch if each is value and type(key) is str]
            assert len(keys) == len(batch)

    def counting_path() -> None:
        combiner = RepeatCounter(_Discard(), 1 << 40)  # type: ignore[arg-type]
        combiner.emit_all(chain.from_iterable(map(words, lines)))
        combiner.flush()

    return {
        "Counter per line (baseline)": counter,
        "(word, 1) generator alone": generator,
        "+ taken in batches": batches,
        "+ the combiner's check": checked,
        "whole counting path": counting_path,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file")
    parser.add_argument("--mb", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with open(args.file, encoding="utf-8") as f:
        lines = f.read(int(args.mb * 1e6)).splitlines()
    timed = steps(lines)
    seconds: dict[str, list[float]] = {name: [] for name in timed}
    for round_ in range(args.rounds):
        order = list(timed) if round_ % 2 == 0 else list(timed)[::-1]
        for name in order:
            start = time.process_time()
            timed[name]()
            seconds[name].append(time.process_time() - start)
    base = statistics.median(seconds["Counter per line (baseline)"])
    words_seen = sum(len(line.split()) for line in lines)
    print(f"{len(lines)} lines, {words_seen} words; median CPU of {args.rounds} rounds:")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(
            f"  {name:<30} {median:7.3f} s  {median / base:5.2f}x"
            f"  {median / words_seen * 1e9:6.0f} ns/word"
        )


if __name__ == "__main__":
    main()
