#!/usr/bin/env python3
"""Echo worker: copy every input line to output label 0, and say so with a print.

Runs in a job home holding the shipped runtime (``install_runtime``) under a
bare ``python3``, or anywhere ``pydisco`` is installed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pydisco.worker import TaskContext, run_worker


def main(task: TaskContext) -> None:
    out = task.output(0)
    lines = 0
    for inp in task.inputs():
        for line in inp.lines():
            out.write(line)
            lines += 1
    print(f"echo: copied {lines} lines")


if __name__ == "__main__":
    run_worker(main)
