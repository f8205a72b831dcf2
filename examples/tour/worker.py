#!/usr/bin/env python3
from pydisco.worker import TaskContext, run_worker


def main(task: TaskContext) -> None:
    out = task.output(0)
    for inp in task.inputs():
        for line in inp.lines():
            out.write(line)


if __name__ == "__main__":
    run_worker(main)
