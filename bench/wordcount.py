"""Word count on the bundled master against single-process baselines, and an out-of-memory reduce.

    python bench/wordcount.py                       # 200 MB of text, 500 MB reduce
    python bench/wordcount.py --size-mb 50 --reduce-mb 100

Part 1 generates deterministic text (a Zipf-like mix of 50,000 words), then
times, in ``--rounds`` interleaved rounds (the best of each kept):

- one Python process: ``collections.Counter`` over the same files;
- pydisco's word count, the example users see (``examples/jobs/wordcount.py``
  ``wordcount``: each map task counts its lines with one ``Counter``, reduce
  adds the counts) on the bundled master with ``--slots`` (2) slots, its
  results checked against the Counter's;
- the example's textbook form (``wordcount_by_word``: a ``(word, 1)`` per
  word, folded by an in-memory combine);

and, at the end, ``LC_ALL=C tr -s ' ' '\\n' | sort | uniq -c``. Each line also
gives the CPU seconds spent (this process and the workers), which shows the
cost of the job apart from how loaded the machine is.

Part 2 runs a reduce over ``--reduce-mb`` of records with distinct keys in
one reduce task with a ``--sort-memory-mb`` (64) budget, so the external sort
spills and merges. The peak RSS of any worker is read from the kernel
(``getrusage(RUSAGE_CHILDREN)``: workers are children of this process; the
largest child so far, so Part 2's figure is its own only when it exceeds
Part 1's, and the shell baseline runs last).
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from examples.jobs.wordcount import wordcount, wordcount_by_word  # noqa: E402
from pydisco.job import Job, map_reduce  # noqa: E402
from pydisco.job.remote import LocalMasterRunner, bundled_master  # noqa: E402

VOCABULARY = 50_000
BLOCK_BYTES = 1 << 20


def _vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(2, 10))))
    return sorted(words)


def generate(directory: Path, size_mb: int, files: int = 4, seed: int = 42) -> list[Path]:
    """``files`` text files of ``size_mb`` MB in all, the same for the same arguments."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"text-{seed}-{size_mb}-{i}.txt" for i in range(files)]
    if all(p.exists() for p in paths):
        return paths
    rng = random.Random(seed)
    words = _vocabulary(rng)
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))
    blocks = []
    for _ in range(16):  # distinct 1 MB blocks, then a deterministic sequence of them
        out, size = [], 0
        while size < BLOCK_BYTES:
            line = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(5, 15)))
            out.append(line)
            size += len(line) + 1
        blocks.append(("\n".join(out) + "\n").encode())
    per_file = size_mb // files or 1
    for path in paths:
        with open(path, "wb") as handle:
            for _ in range(per_file):
                handle.write(blocks[rng.randrange(len(blocks))])
    return paths


def baseline_counter(paths: list[Path]) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                counts.update(line.split())
    return counts


def baseline_shell(paths: list[Path]) -> int:
    command = (
        "cat " + " ".join(str(p) for p in paths) + " | LC_ALL=C tr -s ' ' '\\n' | "
        "LC_ALL=C sort | LC_ALL=C uniq -c | wc -l"
    )
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def worker_peak_mb() -> float:
    """The largest peak RSS of any child process that has ended (KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


# --- the out-of-memory reduce -----------------------------------------------------------------

PAYLOAD = "x" * 80
PER_LINE = 1000


def many_keys(line: str) -> Iterator[tuple[str, str]]:
    base = int(line)
    for j in range(PER_LINE):
        yield f"k{base:08d}-{j:04d}", PAYLOAD


def check_once(key: str, values: Iterator[str]) -> Iterator[tuple[str, int]]:
    n = sum(1 for _ in values)
    if n != 1 or key.endswith("-0000"):
        yield key, n


big_reduce = map_reduce(
    many_keys, check_once, partitions=1, name="big_reduce", modules=("examples.jobs",)
)


def timed(label: str, function, *args):  # type: ignore[no-untyped-def]
    """Run ``function``; print and return its value, wall seconds and CPU seconds.

    CPU seconds are this process's plus those of the children that ended
    meanwhile (the workers), so a job's CPU cost can be set against the
    single-process baseline's whatever the machine's load.
    """
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    start = time.perf_counter()
    value = function(*args)
    seconds = time.perf_counter() - start
    own2, kids2 = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    cpu = (own2.ru_utime + own2.ru_stime - own.ru_utime - own.ru_stime) + (
        kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
    )
    print(f"  {label:<44} {seconds:8.2f} s  (CPU {cpu:7.2f} s)", flush=True)
    return value, seconds, cpu


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--reduce-mb", type=int, default=500)
    parser.add_argument("--sort-memory-mb", type=int, default=64)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument(
        "--chunk-mb", type=int, default=0, help="map input chunk size (0: the job's own, 64 MB)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; best kept")
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "pydisco-bench"))
    parser.add_argument("--skip-shell", action="store_true")
    parser.add_argument("--skip-task-variant", action="store_true")
    parser.add_argument("--skip-reduce", action="store_true")
    args = parser.parse_args()

    print(f"{os.cpu_count()} CPUs, load average {load()}", flush=True)
    print(f"generating {args.size_mb} MB of text ...", flush=True)
    paths = generate(Path(args.data), args.size_mb)
    size = sum(p.stat().st_size for p in paths)
    mb = size / 1e6
    start = time.perf_counter()
    master = bundled_master(args.slots)
    print(f"bundled master with {args.slots} slots started in {time.perf_counter() - start:.2f} s")
    runner = LocalMasterRunner(master=master)
    chunk = (args.chunk_mb << 20) or wordcount.chunk_size
    chunked = attrs.evolve(wordcount, chunk_size=chunk)
    by_word = attrs.evolve(wordcount_by_word, chunk_size=chunk)
    inputs = [str(p) for p in paths]

    best: dict[str, tuple[float, float]] = {}

    def keep(name: str, seconds: float, cpu: float) -> None:
        if name not in best or seconds < best[name][0]:
            best[name] = (seconds, cpu)

    print(
        f"word count over {mb:.0f} MB ({len(paths)} files, {chunk >> 20} MB chunks), "
        f"{args.rounds} interleaved rounds:"
    )
    expected: collections.Counter[str] = collections.Counter()
    peak_wc = 0.0

    def count_with(job: Job, original: Job) -> dict[str, int]:
        return dict(runner.run(job, inputs, original=original))

    # Each pydisco form: its key in ``best``, its label, the job as run and as defined.
    forms = [("pydisco", "pydisco word count example", chunked, wordcount)]
    if not args.skip_task_variant:
        forms.append(("by_word", "pydisco word count, (word, 1) form", by_word, wordcount_by_word))
    for round_ in range(args.rounds):
        print(f" round {round_ + 1} (load average {load()})", flush=True)
        expected, t, cpu = timed("single process collections.Counter", baseline_counter, paths)
        keep("counter", t, cpu)
        for key, label, job, original in forms:
            ours, t, cpu = timed(f"{label} (bundled master)", count_with, job, original)
            keep(key, t, cpu)
            assert ours == dict(expected), "word counts differ from the Counter baseline"
            peak_wc = max(peak_wc, worker_peak_mb())
    t_counter, cpu_counter = best["counter"]
    print(f" best of {args.rounds} (load average {load()}):")
    for name, label in (
        ("pydisco", "pydisco word count example"),
        ("by_word", "pydisco (word, 1) form"),
        ("counter", "collections.Counter"),
        ("shell", "tr | sort | uniq -c"),
    ):
        if name in best:
            t, cpu = best[name]
            print(
                f"  {label:<30} {t:7.2f} s {mb / t:6.1f} MB/s  {t_counter / t:5.2f}x Counter"
                f"  CPU {cpu:7.2f} s ({cpu / cpu_counter:4.2f}x Counter's)"
            )
    print(f"  peak RSS of any word count worker: {peak_wc:.0f} MB")

    if not args.skip_reduce:
        big_reduce_part(args, runner)
    if not args.skip_shell:  # last: sort's memory would count as a child's peak RSS
        distinct, t, cpu = timed("LC_ALL=C tr | sort | uniq -c", baseline_shell, paths)
        assert distinct == len(expected)
        print(
            f"  {'tr | sort | uniq -c':<30} {mb / t:6.1f} MB/s  {t_counter / t:5.2f}x Counter"
            f"  CPU {cpu / cpu_counter:4.2f}x Counter's"
        )


def big_reduce_part(args: argparse.Namespace, runner: LocalMasterRunner) -> None:
    """The reduce over more distinct keys than its memory budget."""
    lines = max(1, (args.reduce_mb * 1_000_000) // (PER_LINE * 110))
    inputs_ = [
        "\n".join(str(i) for i in range(part, lines, 4)).encode() + b"\n" for part in range(4)
    ]
    job = attrs.evolve(big_reduce, sort_memory=args.sort_memory_mb << 20)
    print(
        f"reduce over ~{args.reduce_mb} MB of distinct keys ({lines * PER_LINE} records), "
        f"one reduce task, sort budget {args.sort_memory_mb} MB (load average {load()}):"
    )
    results, _seconds, _cpu = timed(
        "map + external-sort reduce (bundled master)",
        lambda: list(runner.run(job, inputs_, original=big_reduce)),
    )
    assert len(results) == lines and all(n == 1 for _k, n in results), "a key was not seen once"
    peak = worker_peak_mb()
    print(f"  every key seen exactly once; peak RSS of any worker so far: {peak:.0f} MB")


if __name__ == "__main__":
    main()
