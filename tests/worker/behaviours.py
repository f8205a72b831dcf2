#!/usr/bin/env python3
"""A worker with many behaviours, chosen by argv[1], for the end-to-end tests."""

from __future__ import annotations

import os
import sys
import time

from pydisco.worker import TaskContext, run_worker


def copy(task: TaskContext) -> None:
    """Copy each input to output label 0, then record what was read in MSGs."""
    out = task.output(0)
    for inp in task.inputs():
        count = 0
        for line in inp.lines():
            out.write(line)
            count += 1
        task.msg(f"input {inp.input_id} label {inp.label} lines {count} url {inp.url}")


def labels(task: TaskContext) -> None:
    """Write each input to the output labelled like the input."""
    for inp in task.inputs():
        label = inp.label if isinstance(inp.label, int) else 0
        task.output(label).write(inp.read())
    task.output(7).write(b"seven\n")
    task.report_url(2, "http://elsewhere.example/result", 11)


def prints(task: TaskContext) -> None:
    print("hello from print")
    print("to stderr", file=sys.stderr)
    task.msg("explicit msg")
    sys.stdout.write("partial line without newline")


def child(task: TaskContext) -> None:
    os.system("echo hi; echo err >&2")
    print("after child")


def close_fds(task: TaskContext) -> None:
    """Close fds 1 and 2 like a daemon would; MSG and DONE still work."""
    print("before closing")
    sys.stdout.flush()
    os.close(1)
    os.close(2)
    start = time.process_time()
    time.sleep(0.3)
    task.msg(f"cpu {time.process_time() - start:.3f}")


def flood(task: TaskContext) -> None:
    for number in range(10_000):
        print(f"line {number}")


def value_error(task: TaskContext) -> None:
    raise ValueError("a bug in user code")


def os_error(task: TaskContext) -> None:
    raise OSError(5, "disk on fire")


def nothing(task: TaskContext) -> None:
    pass


def jobdata(task: TaskContext) -> None:
    task.output(0).write(task.jobdata())


BEHAVIOURS = {
    "copy": copy,
    "labels": labels,
    "prints": prints,
    "child": child,
    "flood": flood,
    "close_fds": close_fds,
    "value_error": value_error,
    "os_error": os_error,
    "nothing": nothing,
    "jobdata": jobdata,
}

if __name__ == "__main__":
    # FINAL_WAIT: seconds to wait for an OK after the last message (the default otherwise).
    final_wait = os.environ.get("FINAL_WAIT")
    if final_wait is None:
        run_worker(BEHAVIOURS[sys.argv[1]])
    run_worker(BEHAVIOURS[sys.argv[1]], final_wait=float(final_wait))
