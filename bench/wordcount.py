"""Word count: pydisco against single-process baselines and peers, in one run, alternating rounds.

    .venv/bin/python bench/wordcount.py --size-mib 50 200 400 --rounds 5
    .venv/bin/python bench/wordcount.py --size-mib 20 --rounds 3        # quick
    .venv/bin/python bench/wordcount.py --size-mib 50 --map-tasks 1 2 4 8 \
        --only "local in-mapper, 1 tasks" "local in-mapper, 2 tasks" ...  # the slot rule

For each size, one text file of deterministic Zipf-like text (50,000 words)
is generated, then every contender runs ``--rounds`` times, the order of the
contenders reversed every other round (so none always runs first or last):

- ``counter``: one Python process, ``collections.Counter`` line by line;
- ``sort | uniq -c``: ``LC_ALL=C tr -s ' ' '\\n' | sort | uniq -c``;
- ``local in-mapper`` / ``local textbook``: ``examples/jobs/wordcount.py``'s
  ``wordcount`` (a ``Counter`` per map task) and ``wordcount_textbook``
  (``(word, 1)`` per word, the automatic combiner) with ``runner="local"``;
- ``discotool in-mapper`` / ``discotool textbook``: the same jobs through
  ``discotool run`` (a fresh CLI process with its own master);
- ``mrjob local``: mrjob's local runner on the textbook job (mapper
  ``(word, 1)`` over ``line.split()``, combiner and reducer ``sum``), and
  ``mrjob example``: the same runner on mrjob's own example
  ``mrjob.examples.mr_word_freq_count`` (``[\\w']+`` words, lower-cased, which on
  this text gives the same counts), when mrjob is installed (``pip install -e
  '.[bench]'``), at sizes up to ``--mrjob-max-mib``.

Every contender runs in its own process tree, started from a small wrapper
process that times only the work and reports, from ``getrusage``, the CPU
of the whole tree (the wrapper and every process it and its children
waited for: master, workers, shell pipeline) and peak RSS: the wrapper's
own (the driver, with the bundled master for ``runner="local"``) and the
largest of its descendants (a worker, ``sort``, the CLI process). Every
result is checked against the Counter's (words and counts, exactly).

Printed per size: medians over the rounds of wall time, throughput,
speed-up against the Counter (its median time over the contender's), CPU
seconds (and against the Counter's), the speed-up that CPU allows at best
(``x limit``: all of it spread over every CPU with nothing serial), the peak
RSS figures, and the load average before and after each round. The machine's load shows in wall
times; CPU seconds are what a contender costs whatever the load.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import itertools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from pydisco.job import map_reduce

ROOT = Path(__file__).resolve().parents[1]
VOCABULARY = 50_000
BLOCK_BYTES = 1 << 20
MiB = 1 << 20

MRJOB_SCRIPT = """
from mrjob.job import MRJob


class MRWordCount(MRJob):
    def mapper(self, _, line):
        for word in line.split():
            yield word, 1

    def combiner(self, word, counts):
        yield word, sum(counts)

    def reducer(self, word, counts):
        yield word, sum(counts)


if __name__ == "__main__":
    MRWordCount.run()
"""


# --- data ----------------------------------------------------------------------------------------


def _vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(2, 10))))
    return sorted(words)


def generate(directory: Path, size_mib: int, seed: int = 42) -> Path:
    """One text file of ``size_mib`` MiB, the same for the same arguments (kept for reuse)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"text-{seed}-{size_mib}MiB.txt"
    if path.exists() and path.stat().st_size >= size_mib * MiB:
        return path
    rng = random.Random(seed)
    words = _vocabulary(rng)
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))
    blocks = []
    for _ in range(16):  # distinct 1 MiB blocks, then a deterministic sequence of them
        out, size = [], 0
        while size < BLOCK_BYTES:
            line = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(5, 15)))
            out.append(line)
            size += len(line) + 1
        blocks.append(("\n".join(out) + "\n").encode())
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as handle:
        for _ in range(size_mib):
            handle.write(blocks[rng.randrange(len(blocks))])
    partial.replace(path)
    return path


def digest(pairs: Iterable[tuple[str, int]]) -> str:
    """A fingerprint of a word count: every word and its count."""
    text = "".join(f"{word}\t{count}\n" for word, count in sorted(pairs))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- the contenders, each run in a wrapper process ---------------------------------------------


def _counter(path: str) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            counts.update(line.split())
    return list(counts.items())


def _shell(path: str) -> list[tuple[str, int]]:
    command = f"LC_ALL=C tr -s ' ' '\\n' < '{path}' | LC_ALL=C sort | LC_ALL=C uniq -c"
    out = subprocess.run(["sh", "-c", command], capture_output=True, check=True).stdout
    pairs = []
    for line in out.decode().splitlines():
        count, _, word = line.strip().partition(" ")
        if word:
            pairs.append((word, int(count)))
    return pairs


def _local(path: str, name: str) -> list[tuple[str, int]]:
    """``name`` is the example job's name, with ``:N`` for ``map_tasks=N``."""
    import attrs

    sys.path.insert(0, str(ROOT))
    import examples.jobs.wordcount as example
    from pydisco.job.remote import LocalMasterRunner

    name, _, tasks = name.partition(":")
    original = getattr(example, name)
    job = attrs.evolve(original, map_tasks=int(tasks)) if tasks else original
    results = LocalMasterRunner().run(job, [path], original=original)
    return [(word, count) for word, count in results]


def _stop_local_master() -> None:
    """Stop the bundled master (after the timing) so that its CPU and its workers' count.

    The master is this process's child; its usage (with that of the workers it waited
    for) reaches ``RUSAGE_CHILDREN`` only once it has ended and been waited for.
    """
    from pydisco.job import remote

    if remote._bundled is not None:
        remote._bundled.stop()


def _discotool(path: str, name: str) -> list[tuple[str, int]]:
    command = [
        os.path.join(os.path.dirname(sys.executable), "discotool"),
        "run",
        f"examples/jobs/wordcount.py:{name}",
        path,
    ]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, check=True).stdout
    pairs = []
    for line in out.decode().splitlines():
        word, _, count = line.rpartition("\t")
        pairs.append((json.loads(word) if word.startswith('"') else word, int(count)))
    return pairs


#: mrjob's own word count example (``[\\w']+`` words, lower-cased): on this text (lower-case
#: words and spaces) its counts are the Counter's.
MRJOB_EXAMPLE = "-m mrjob.examples.mr_word_freq_count"


def _mrjob(path: str, script: str) -> list[tuple[str, int]]:
    program = script.split() if script == MRJOB_EXAMPLE else [script]
    command = [sys.executable, *program, "-r", "local", "--no-conf", path]
    out = subprocess.run(command, capture_output=True, check=True).stdout
    pairs = []
    for line in out.decode().splitlines():
        key, _, value = line.partition("\t")
        pairs.append((json.loads(key), int(value)))
    return pairs


# --- a reduce over more distinct keys than its memory budget --------------------------------

PAYLOAD = "x" * 80
PER_LINE = 1000


def many_keys(line: str) -> Iterable[tuple[str, str]]:
    base = int(line)
    for j in range(PER_LINE):
        yield f"k{base:08d}-{j:04d}", PAYLOAD


def check_once(key: str, values: Iterable[str]) -> Iterable[tuple[str, int]]:
    n = sum(1 for _ in values)
    if n != 1 or key.endswith("-0000"):
        yield key, n


big_reduce = map_reduce(many_keys, check_once, partitions=1, sort_memory=64 * MiB)


def _big_reduce(reduce_mib: str) -> list[tuple[str, int]]:
    lines = max(1, (int(reduce_mib) * MiB) // (PER_LINE * 110))
    inputs = [
        "\n".join(str(i) for i in range(part, lines, 4)).encode() + b"\n" for part in range(4)
    ]
    results = list(big_reduce.run(inputs, runner="local"))
    if len(results) != lines or any(n != 1 for _k, n in results):
        raise SystemExit("a key of the big reduce was not seen exactly once")
    return results


def _cpu() -> float:
    """CPU seconds of this process and of every descendant it (or they) waited for."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_wrapped(kind: str, path: str, extra: str) -> None:
    """The wrapper process: time the work, then report usage and the count's fingerprint."""
    work = {
        "counter": lambda: _counter(path),
        "shell": lambda: _shell(path),
        "local": lambda: _local(path, extra),
        "discotool": lambda: _discotool(path, extra),
        "mrjob": lambda: _mrjob(path, extra),
        "reduce": lambda: _big_reduce(extra),
    }[kind]
    cpu_before = _cpu()
    start = time.perf_counter()
    pairs = work()
    seconds = time.perf_counter() - start
    if kind == "local":
        _stop_local_master()
    cpu = _cpu() - cpu_before
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "seconds": seconds,
        "cpu": cpu,
        "driver_rss_mib": me.ru_maxrss / 1024,
        "children_rss_mib": kids.ru_maxrss / 1024,
        "digest": digest(pairs),
        "words": len(pairs),
    }
    print(json.dumps(report), flush=True)


# --- the parent -------------------------------------------------------------------------------


def _contenders(with_mrjob: str | None, map_tasks: list[int]) -> dict[str, tuple[str, str]]:
    found = {
        "counter": ("counter", ""),
        "sort | uniq -c": ("shell", ""),
        "local in-mapper": ("local", "wordcount"),
        "local textbook": ("local", "wordcount_textbook"),
        "discotool in-mapper": ("discotool", "wordcount"),
        "discotool textbook": ("discotool", "wordcount_textbook"),
    }
    for tasks in map_tasks:  # the in-mapper job with other numbers of map tasks than the default
        found[f"local in-mapper, {tasks} tasks"] = ("local", f"wordcount:{tasks}")
    if with_mrjob is not None:
        found["mrjob local"] = ("mrjob", with_mrjob)
        found["mrjob example"] = ("mrjob", MRJOB_EXAMPLE)
    return found


def _child_env(cache: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: byte-code cached
    env["PYTHONPYCACHEPREFIX"] = cache
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _one(kind: str, extra: str, path: Path, env: dict[str, str]) -> dict[str, float | str]:
    command = [sys.executable, __file__, "--child", kind, str(path), extra]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} {extra} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def bench_size(
    size_mib: int,
    rounds: int,
    data: Path,
    contenders: dict[str, tuple[str, str]],
    env: dict[str, str],
) -> None:
    path = generate(data, size_mib)
    size = path.stat().st_size
    print(f"\n== {size_mib} MiB ({size / 1e6:.0f} MB, one file), {rounds} rounds ==", flush=True)
    results: dict[str, list[dict[str, float | str]]] = {name: [] for name in contenders}
    names = list(contenders)
    expected: str | None = None
    for round_ in range(rounds):
        order = names if round_ % 2 == 0 else names[::-1]
        before = _load()
        for name in order:
            kind, extra = contenders[name]
            report = _one(kind, extra, path, env)
            results[name].append(report)
            if name == "counter":
                expected = str(report["digest"])
        for name in names:  # every contender's counts equal the Counter's, exactly
            if results[name][-1]["digest"] != expected:
                raise SystemExit(f"{name}: the word counts differ from the Counter's")
        print(f" round {round_ + 1}: load {before} -> {_load()}", flush=True)

    def median(name: str, field: str) -> float:
        return statistics.median(float(r[field]) for r in results[name])

    base_time, base_cpu = median("counter", "seconds"), median("counter", "cpu")
    print(f" medians of {rounds} rounds (load average now {_load()}):")
    # A tree that uses ``cpu`` CPU seconds cannot end sooner than cpu / CPUs: that caps its
    # speed against the Counter at CPUs x the Counter's wall / cpu, however well it overlaps.
    cpus = os.cpu_count() or 1
    print(
        f"  {'':<22} {'wall s':>7} {'MB/s':>6} {'x Counter':>9} {'CPU s':>7} {'CPU/Cntr':>8}"
        f" {'x limit':>8} {'driver MiB':>10} {'child MiB':>9}"
    )
    for name in names:
        seconds, cpu = median(name, "seconds"), median(name, "cpu")
        print(
            f"  {name:<22} {seconds:7.2f} {size / 1e6 / seconds:6.1f} {base_time / seconds:8.2f}x"
            f" {cpu:7.2f} {cpu / base_cpu:7.2f}x {cpus * base_time / cpu:7.2f}x"
            f" {median(name, 'driver_rss_mib'):10.0f} {median(name, 'children_rss_mib'):9.0f}"
        )
    print(f"  (x limit: {cpus} CPUs x the Counter's wall / the contender's CPU, its best possible)")
    for peer in ("mrjob local", "mrjob example"):
        if peer in results:
            peer_time = median(peer, "seconds")
            speeds = ", ".join(
                f"{name} {peer_time / median(name, 'seconds'):.1f}x"
                for name in names
                if contenders[name][0] in ("local", "discotool")
            )
            print(f"  against {peer} (its median over theirs): {speeds}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        run_wrapped(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "")
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, nargs="+", default=[50, 200, 400])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "pydisco-bench"))
    parser.add_argument("--skip-mrjob", action="store_true", help="even when mrjob is installed")
    parser.add_argument(
        "--mrjob-max-mib",
        type=int,
        default=50,
        help="run mrjob only at sizes up to this (it takes ~20 s per 50 MiB; default 50)",
    )
    parser.add_argument(
        "--map-tasks",
        type=int,
        nargs="*",
        default=[],
        help="also the in-mapper job with map_tasks=N for each N (to compare with the default)",
    )
    parser.add_argument(
        "--only", nargs="*", default=[], help="run only these contenders (and the Counter)"
    )
    parser.add_argument(
        "--reduce-mib", type=int, default=0, help="also a larger-than-memory reduce (e.g. 500)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pydisco-bench-wc-") as work:
        mrjob_script: str | None = None
        if not args.skip_mrjob and importlib.util.find_spec("mrjob") is not None:
            mrjob_script = os.path.join(work, "mr_word_count.py")
            Path(mrjob_script).write_text(MRJOB_SCRIPT)
        mrjob_state = "in the run" if mrjob_script else "skipped"
        if not mrjob_script and importlib.util.find_spec("mrjob") is None:
            mrjob_state = "not installed (pip install -e '.[bench]')"
        contenders = _contenders(mrjob_script, args.map_tasks)
        if args.only:
            unknown = set(args.only) - set(contenders)
            if unknown:
                parser.error(f"unknown contenders {sorted(unknown)}; known: {list(contenders)}")
            contenders = {n: c for n, c in contenders.items() if n in args.only or n == "counter"}
        env = _child_env(os.path.join(work, "pycache"))
        print(
            f"{os.cpu_count()} CPUs, load average {_load()}; Python {sys.version.split()[0]};"
            f" mrjob: {mrjob_state}"
        )
        for kind, extra in {contenders[n] for n in contenders if n != "counter"}:
            if kind in ("local", "discotool"):  # warm-up: byte-code and job-home runtime cache
                _one(kind, extra, generate(Path(args.data), 1), env)
        for size_mib in args.size_mib:
            here = {
                name: c
                for name, c in contenders.items()
                if c[0] != "mrjob" or size_mib <= args.mrjob_max_mib
            }
            bench_size(size_mib, args.rounds, Path(args.data), here, env)
        if args.reduce_mib:
            print(f"\n== reduce over ~{args.reduce_mib} MiB of distinct keys, one reduce task,")
            print("   sort_memory 64 MiB (the external sort spills and merges) ==", flush=True)
            report = _one("reduce", str(args.reduce_mib), Path(work), env)
            print(
                f"  {report['seconds']:.2f} s, CPU {report['cpu']:.2f} s, every key seen once;"
                f" peak RSS: driver {report['driver_rss_mib']:.0f} MiB,"
                f" largest worker {report['children_rss_mib']:.0f} MiB"
            )


if __name__ == "__main__":
    main()
