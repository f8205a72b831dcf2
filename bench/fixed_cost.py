"""The timeline of a small ``runner="local"`` job: when its master, workers and results come.

    .venv/bin/python bench/fixed_cost.py FILE [--rounds 9] [--compare DIR]

Each round runs, in a fresh process under ``strace -f -e trace=execve``,
a driver that calls ``LocalMasterRunner().run(wordcount, [FILE])``
(``examples/jobs/wordcount.py``'s in-mapper job) and reads every result;
with ``--compare DIR`` the same from another checkout (``git archive REV |
tar -x -C DIR``), interleaved with this one's, the order alternating. It
prints, in seconds from the driver's exec, medians over the rounds of: the
local master's process exec'd, the first map worker exec'd, the first
reduce worker exec'd and the results read by the driver. Byte-code caching
is on (``PYTHONDONTWRITEBYTECODE`` removed), as for an installed package.
Needs ``strace``.

It also prints the job's CPU budget: the CPU seconds of the driver, of the
master's own process and of all its workers together (read from
``/proc/<master>/stat`` once every worker is reaped), and their sum over
the machine's CPUs, the shortest wall time this job can take on this
machine however well its processes overlap.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DRIVER = """
import os, sys, time
sys.path.insert(0, os.environ["BENCH_ROOT"])
from examples.jobs.wordcount import wordcount
from pydisco.job.remote import LocalMasterRunner
runner = LocalMasterRunner()
pairs = list(runner.run(wordcount, [sys.argv[1]], original=wordcount))
print(f"READ {time.time():.6f} {len(pairs)}", file=sys.stderr, flush=True)


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def children(pid):
    return [p for p in os.listdir("/proc") if p.isdigit() and stat_or(p)[1] == str(pid)]


def stat_or(pid):
    try:
        return stat(pid)
    except OSError:
        return ["", ""]


(master,) = [p for p in children(os.getpid()) if stat_or(p)[0] != "Z"]
deadline = time.monotonic() + 30
while children(master) and time.monotonic() < deadline:  # every worker reaped
    time.sleep(0.01)
tick = os.sysconf("SC_CLK_TCK")
fields = stat(master)
own = (int(fields[11]) + int(fields[12])) / tick
workers = (int(fields[13]) + int(fields[14])) / tick
usage = os.times()
print(f"CPU {usage.user + usage.system:.3f} {own:.3f} {workers:.3f}", file=sys.stderr, flush=True)
"""

EVENTS = ("master", "first map worker", "first reduce worker", "results read")
CPU = ("driver CPU", "master CPU", "workers CPU", "total CPU", "bound")


def timeline(root: Path, data: str, trace: Path) -> dict[str, float]:
    """One traced run of the driver with ``root``'s pydisco; seconds from its exec."""
    env = dict(os.environ, PYTHONPATH=str(root), BENCH_ROOT=str(root))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = ["strace", "-f", "--seccomp-bpf", "-ttt", "-e", "trace=execve", "-o", str(trace)]
    done = subprocess.run(
        [*command, sys.executable, "-c", DRIVER, data],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"READ (\S+)", done.stderr)
    cpu = re.search(r"CPU (\S+) (\S+) (\S+)", done.stderr)
    if done.returncode != 0 or found is None or cpu is None:
        raise SystemExit(f"the driver failed:\n{done.stderr[-3000:]}")
    calls = [line.split(None, 2) for line in trace.read_text().splitlines()]
    start = float(calls[0][1])
    # The driver is the first exec; the local master's process is the next "python -c".
    master = next(float(c[1]) for c in calls[1:] if "execve(" in c[2] and '"-c"' in c[2])
    workers = [
        float(c[1]) for c in calls if c[2].startswith("execve(") and "pydisco_job_worker" in c[2]
    ]
    # Two map tasks (one per slot of a 2-CPU machine) start first; then the reduces.
    maps = min(2, os.cpu_count() or 1)
    return {
        "master": master - start,
        "first map worker": workers[0] - start,
        "first reduce worker": workers[maps] - start if len(workers) > maps else float("nan"),
        "results read": float(found.group(1)) - start,
        "driver CPU": float(cpu.group(1)),
        "master CPU": float(cpu.group(2)),
        "workers CPU": float(cpu.group(3)),
        "total CPU": (total := sum(float(cpu.group(n)) for n in (1, 2, 3))),
        "bound": total / (os.cpu_count() or 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", help="a text file (e.g. bench/wordcount.py's 50 MiB one)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--compare", type=Path, default=None, help="another checkout")
    args = parser.parse_args()
    if shutil.which("strace") is None:
        raise SystemExit("strace is needed (apt-get install strace).")
    trees = {"this": ROOT}
    if args.compare is not None:
        trees["compare"] = args.compare.resolve()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="pydisco-fixed-cost-") as work:
        names = list(trees)
        for round_ in range(args.rounds + 1):  # round 0 warms the caches up, not counted
            for name in names if round_ % 2 == 0 else names[::-1]:
                row = timeline(trees[name], args.file, Path(work) / "trace")
                if round_:
                    results[name].append(row)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()}; medians of {args.rounds}:")
    print(f"  {'':10}" + "".join(f"{event:>22}" for event in EVENTS))
    for name, rows in results.items():
        medians = [statistics.median(row[event] for row in rows) for event in EVENTS]
        print(f"  {name:10}" + "".join(f"{value:>21.3f}s" for value in medians))
    print(f"CPU seconds (bound = total / {os.cpu_count()} CPUs), medians of {args.rounds}:")
    print(f"  {'':10}" + "".join(f"{event:>14}" for event in CPU))
    for name, rows in results.items():
        medians = [statistics.median(row[event] for row in rows) for event in CPU]
        print(f"  {name:10}" + "".join(f"{value:>13.3f}s" for value in medians))


if __name__ == "__main__":
    main()
