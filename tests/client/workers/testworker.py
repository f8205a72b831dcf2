#!/usr/bin/env python3
"""A worker for the client's tests; what it does is chosen by the job env TEST_MODE.

* ``echo`` (default): each input line goes to output label ``len(line) % LABELS``
  (job env ``LABELS``, default 1) in stage ``map``; later stages copy their
  inputs to label 0.
* ``fatal``: stage ``map`` raises an unexpected exception (FATAL: the job dies).
* ``sleep``: stage ``map`` sleeps ``SLEEP`` seconds (default 30) first.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pydisco.worker import run_worker


def main(task):
    mode = os.environ.get("TEST_MODE", "echo")
    if task.stage == "map" and mode == "fatal":
        raise RuntimeError("the test worker was told to fail")
    if task.stage == "map" and mode == "sleep":
        time.sleep(float(os.environ.get("SLEEP", "30")))
    labels = int(os.environ.get("LABELS", "1")) if task.stage == "map" else 1
    print(f"{task.stage}: copying inputs to {labels} label(s)")
    for inp in task.inputs():
        for line in inp.lines():
            if line:
                label = len(line.rstrip(b"\n")) % labels
                data = line if line.endswith(b"\n") else line + b"\n"
                task.output(label).write(data)


if __name__ == "__main__":
    run_worker(main)
