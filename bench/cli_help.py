"""Benchmark: the CPU time of ``discotool --help`` against a bare interpreter start.

``discotool --help`` lists every subcommand; it must not import them (the
HTTP client, the master and aiohttp take most of a second of CPU). Each
round starts three child processes in alternating order: ``python -c pass``
(the baseline: the interpreter and site start-up), ``python -m pydisco
--help`` and ``python -m pydisco run --help`` (which does import its
module), and reads each child's user+system CPU time from
``resource.getrusage(RUSAGE_CHILDREN)``. Reported: the median over rounds of
each command's CPU time, and of its extra CPU over the baseline of the
same round. The target is under 150 ms of CPU for ``--help``.

    python bench/cli_help.py             # 15 rounds
    python bench/cli_help.py --rounds 5
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "discotool --help": [sys.executable, "-m", "pydisco", "--help"],
    "discotool run --help": [sys.executable, "-m", "pydisco", "run", "--help"],
}


def cpu_of(argv: list[str]) -> float:
    """The CPU seconds (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    names = list(COMMANDS)
    times: dict[str, list[float]] = {name: [] for name in names}
    extra: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        order = names if round_ % 2 == 0 else names[::-1]
        this = {name: cpu_of(COMMANDS[name]) for name in order}
        for name in names:
            times[name].append(this[name])
            extra[name].append(this[name] - this[names[0]])
    print(f"{'command':<24} {'CPU (median)':>13} {'over baseline':>14}")
    for name in names:
        cpu = statistics.median(times[name]) * 1000
        over = statistics.median(extra[name]) * 1000
        print(f"{name:<24} {cpu:>10.0f} ms {over:>11.0f} ms")


if __name__ == "__main__":
    main()
