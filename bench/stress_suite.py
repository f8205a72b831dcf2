"""Run the test suite several times while busy processes keep every core loaded.

The suite must not depend on the machine's speed (no wall-clock batches, no
sleeps that stand for "nothing happened"). This script is the proof: it starts
``--burners`` CPU burners (plain Python busy loops, one per core by default),
runs the suite ``--runs`` times back to back, and reports each run's exit
status, wall time and the tests that failed. It exits 1 if any run failed.

    .venv/bin/python bench/stress_suite.py                  # make test, 3 runs, 2 burners
    .venv/bin/python bench/stress_suite.py --runs 1 --pytest-only -- tests/master

It is heavy (it keeps the machine fully busy for the whole time); on a shared
machine run it once, when you must, and say what else was running.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[1]
BURN = "while True:\n    pass\n"
#: pytest's short summary lines name each failed or erroring test.
FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)
SUMMARY = re.compile(
    r"^[= ]*(\d+ (?:passed|failed|errors?|skipped)\b.* in [\d.]+s\b.*?)[= ]*$", re.MULTILINE
)


@attrs.frozen
class RunReport:
    """What one run of the suite showed."""

    number: int
    returncode: int
    seconds: float
    failed: tuple[str, ...]
    summary: str


def start_burners(count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` processes that each keep one core busy until killed."""
    return [
        subprocess.Popen([sys.executable, "-c", BURN], stdin=subprocess.DEVNULL)
        for _ in range(count)
    ]


def stop_burners(burners: list[subprocess.Popen[bytes]]) -> None:
    """Kill exactly the burners this script started, by pid, and reap them."""
    for burner in burners:
        if burner.poll() is None:
            os.kill(burner.pid, signal.SIGKILL)
        burner.wait()


def command(args: argparse.Namespace) -> list[str]:
    """``make test`` (what CI runs), or pytest alone with the given arguments."""
    if not args.pytest_only:
        return ["make", "test"]
    pytest = str(ROOT / ".venv" / "bin" / "pytest")
    extra = args.pytest_args or ["-n", "auto", "-q"]
    return [pytest, "-rfE", *extra]


def run_once(number: int, argv: list[str], log_dir: Path) -> RunReport:
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    (log_dir / f"run-{number}.log").write_text(output)
    summaries = SUMMARY.findall(output)
    return RunReport(
        number=number,
        returncode=done.returncode,
        seconds=seconds,
        failed=tuple(dict.fromkeys(FAILED.findall(output))),
        summary=summaries[-1] if summaries else "(no pytest summary: see the log)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="how many runs (default 3)")
    parser.add_argument(
        "--burners",
        type=int,
        default=os.cpu_count() or 2,
        help="busy processes to run meanwhile (default: one per core)",
    )
    parser.add_argument(
        "--pytest-only",
        action="store_true",
        help="run pytest (with the arguments after --) instead of `make test`",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=Path("/tmp/pydisco-stress"),
        help="where each run's full output goes (default /tmp/pydisco-stress)",
    )
    parser.add_argument("pytest_args", nargs="*", help="pytest arguments (with --pytest-only)")
    args = parser.parse_args(argv)
    # Started in the background by a shell, this process ignores SIGINT, and so would every
    # test's child; handling it here makes children start with the default again.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    argv_ = command(args)
    print(f"{args.runs} run(s) of `{' '.join(argv_)}` with {args.burners} CPU burner(s)")
    burners = start_burners(args.burners)
    reports: list[RunReport] = []
    try:
        for number in range(1, args.runs + 1):
            report = run_once(number, argv_, args.log_dir)
            reports.append(report)
            verdict = "ok" if report.returncode == 0 else f"FAILED (exit {report.returncode})"
            print(f"run {number}: {verdict} in {report.seconds:.0f} s: {report.summary}")
            for test in report.failed:
                print(f"    failed: {test}")
    finally:
        stop_burners(burners)
    bad = [r for r in reports if r.returncode != 0]
    total = sum(len(r.failed) for r in reports)
    print(
        f"{len(reports) - len(bad)} of {len(reports)} runs passed; "
        f"{total} test failure(s) in all; logs in {args.log_dir}"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
