#!/usr/bin/env python3
"""Word count worker for the two-stage pipeline ``map:split``, ``reduce:group_label``.

Interface (kept stable: ``make demo`` and the master's end-to-end tests use it):

* Job pack: this file is the job dict's ``worker``; the pipeline is
  ``[["map", "split", false], ["reduce", "group_label", false]]``. The job
  home should hold the worker runtime (``pydisco.worker.runtime.install_runtime``)
  so that a bare ``python3`` can run it.
* Partitions: the job data, if it is non-empty, is JSON ``{"partitions": N}``
  (or just the ASCII integer ``N``); otherwise the environment variable
  ``WORDCOUNT_PARTITIONS`` (from the job envs); otherwise 4.
* ``map``: reads its inputs as UTF-8 text lines, splits them on whitespace,
  lower-cases nothing (words are counted as written), and writes
  ``word<TAB>count<LF>`` lines to output label ``crc32(word) % partitions``.
* ``reduce``: reads every line of its group label's inputs, sums the counts
  per word, and writes ``word<TAB>count<LF>`` to label 0, sorted by count
  (highest first) then word.
* Any other stage name is a FATAL error.
"""

import json
import os
import sys
import zlib
from collections import Counter
from itertools import chain

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pydisco.worker import TaskContext, run_worker

DEFAULT_PARTITIONS = 4


def partitions(task: TaskContext) -> int:
    """The number of reduce partitions: job data, then WORDCOUNT_PARTITIONS, then 4."""
    try:
        data = task.jobdata().strip()
    except OSError:
        data = b""
    if data:
        value = json.loads(data.decode("utf-8"))
        count = value["partitions"] if isinstance(value, dict) else value
    else:
        count = os.environ.get("WORDCOUNT_PARTITIONS", DEFAULT_PARTITIONS)
    count = int(count)
    if count < 1:
        raise ValueError(f"partitions must be at least 1, got {count}")
    return count


def partition_of(word: str, count: int) -> int:
    """The stable partition of ``word``: CRC-32 of its UTF-8 bytes, modulo ``count``."""
    return zlib.crc32(word.encode("utf-8")) % count


def run_map(task: TaskContext) -> None:
    counts: Counter[str] = Counter()
    for inp in task.inputs():  # one update per input: lines split and counted in C
        counts.update(chain.from_iterable(map(str.split, inp.text_lines("utf-8", "replace"))))
    count = partitions(task)
    for word in sorted(counts):
        task.output(partition_of(word, count)).write(f"{word}\t{counts[word]}\n".encode())
    print(f"map: {sum(counts.values())} words, {len(counts)} distinct")


def run_reduce(task: TaskContext) -> None:
    counts: Counter[str] = Counter()
    for inp in task.inputs():
        for line in inp.text_lines("utf-8", "replace"):
            if not line:
                continue
            word, _, number = line.rpartition("\t")
            counts[word] += int(number)
    out = task.output(0)
    for word, number in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        out.write(f"{word}\t{number}\n".encode())
    print(f"reduce: {len(counts)} distinct words")


def main(task: TaskContext) -> None:
    if task.stage == "map":
        run_map(task)
    elif task.stage == "reduce":
        run_reduce(task)
    else:
        raise ValueError(f"the word count worker has no stage {task.stage!r}")


if __name__ == "__main__":
    run_worker(main)
