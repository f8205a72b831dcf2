"""CPU a driver spends from interpreter start to the job's submit, against a bare interpreter.

    .venv/bin/python bench/driver.py [--rounds 7] [--compare DIR]

Each round runs, in alternating order, fresh processes of:

- ``python -c pass``: the interpreter alone (the baseline);
- ``discotool run examples/jobs/wordcount.py:wordcount FILE``: the CLI, which
  also starts a reference master (in a child process, whose CPU is not
  counted: it is the master's, not the driver's);
- ``wordcount.run([FILE], runner=URL)``: the job API against a master that
  is already running (started by this script), so the driver's own cost;
- ``wordcount.run([FILE], runner="local")``: the job API with the bundled
  master (in a child process too).

A probe replaces :meth:`pydisco.client.Master.submit` in the child before
anything runs: at the submit it prints the process's CPU time
(``time.process_time()``, which counts from the interpreter's start) and
raises ``SystemExit``, so the child stops its local master and removes its
temporary directories before the next measurement starts.
Children run with byte-code caching on (in a temporary
``PYTHONPYCACHEPREFIX``), as an installed package would, after one warm-up
round that is not counted (it writes the byte-code and the job-home runtime
cache). Medians of the rounds are printed with the load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROBE = """
import os, sys, time
import pydisco.client.master as _m
def _submit(self, pack):
    print(f"{time.process_time():.6f}", file=sys.stderr, flush=True)
    raise SystemExit(0)  # unwinds: a local master is stopped before the next round
_m.Master.submit = _submit
"""

DISCOTOOL = (
    PROBE
    + """
from pydisco.cli.main import main
sys.argv = ["discotool", "run", "examples/jobs/wordcount.py:wordcount", *sys.argv[1:]]
main()
"""
)

API = (
    PROBE
    + """
sys.path.insert(0, os.getcwd())
from examples.jobs.wordcount import wordcount
wordcount.run(sys.argv[2:], runner=sys.argv[1])
"""
)


def _child_env(cache: str, temp: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    env["TMPDIR"] = temp  # whatever a child leaves goes with the bench's directory
    return env


def _cpu_ms(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    lines = done.stderr.strip().splitlines()
    try:
        return float(lines[-1]) * 1000
    except (IndexError, ValueError):
        raise SystemExit(f"{args[:3]} did not reach the submit:\n{done.stderr[-2000:]}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="DIR",
        help="also run the three drivers from another checkout (e.g. 'git archive BASE | tar "
        "-x -C DIR'), interleaved with this one's, for before/after figures of one run",
    )
    args = parser.parse_args()

    from pydisco.master import ReferenceMaster

    work = Path(tempfile.mkdtemp(prefix="pydisco-bench-driver-"))
    try:
        text = work / "words.txt"
        text.write_text("the quick brown fox\njumps over the lazy dog\n" * 100)
        (work / "tmp").mkdir()
        env = _child_env(str(work / "pycache"), str(work / "tmp"))
        with ReferenceMaster.start_in_thread(work / "master") as master:
            python = sys.executable
            cases = {
                "python -c pass": [python, "-c", "pass"],
                "discotool run (own master)": [python, "-c", DISCOTOOL, str(text)],
                "job.run(runner=URL)": [python, "-c", API, master.url, str(text)],
                'job.run(runner="local")': [python, "-c", API, "local", str(text)],
            }
            places = dict.fromkeys(cases, ROOT)
            if args.compare is not None:  # the children import pydisco from their directory
                for name, command in list(cases.items())[1:]:
                    cases[f"{name} [--compare]"] = command
                    places[f"{name} [--compare]"] = args.compare.resolve()
            for name, command in cases.items():  # warm-up: byte-code and runtime cache written
                if command[2] != "pass":
                    _cpu_ms(command, env, places[name])
            found: dict[str, list[float]] = {name: [] for name in cases}
            names = list(cases)
            print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()}", flush=True)
            for round_ in range(args.rounds):
                order = names if round_ % 2 == 0 else names[::-1]
                for name in order:
                    if cases[name][2] == "pass":
                        found[name].append(_bare_ms(cases[name], env))
                    else:
                        found[name].append(_cpu_ms(cases[name], env, places[name]))
            print(f"medians of {args.rounds} rounds (load average {os.getloadavg()}):")
            bare = statistics.median(found["python -c pass"])
            for name, values in found.items():
                median = statistics.median(values)
                print(
                    f"  {name:<42} {median:7.0f} ms CPU to submit"
                    f"  (+{median - bare:5.0f} ms over the bare interpreter;"
                    f" min {min(values):.0f}, max {max(values):.0f})"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bare_ms(command: list[str], env: dict[str, str]) -> float:
    """CPU of a process that does nothing (user + system, as the kernel counts it)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000


if __name__ == "__main__":
    main()
