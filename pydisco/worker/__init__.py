"""The worker library: run a Disco task from Python.

A worker is a few lines::

    from pydisco.worker import run_worker

    def main(task):
        out = task.output(0)
        for inp in task.inputs():
            for line in inp.lines():
                out.write(line)

    if __name__ == "__main__":
        run_worker(main)

:func:`run_worker` speaks the worker protocol on the original stdin and
stderr, turns anything printed into MSG events, reads every input URL scheme
Disco uses with replica fallback, writes and reports outputs, and ends with
DONE, ERROR (data and I/O problems, retried) or FATAL (bugs, the job stops).

Importing this package is kept light (no HTTP or compression modules until a
URL needs them) so that a worker starts fast on a node with only Python.
"""

import typing

from pydisco.lazy import lazy_names as _lazy_names

if typing.TYPE_CHECKING:
    from pydisco.worker.errors import (
        DataError,
        InputFailed,
        MasterGone,
        UnsafeLocation,
        WorkerError,
    )
    from pydisco.worker.inputs import TaskInput
    from pydisco.worker.outputs import OutputWriter
    from pydisco.worker.run import run_task, run_worker
    from pydisco.worker.stdio import Channel
    from pydisco.worker.task import TaskContext, read_jobdata

__all__ = [
    "Channel",
    "DataError",
    "InputFailed",
    "MasterGone",
    "OutputWriter",
    "TaskContext",
    "TaskInput",
    "UnsafeLocation",
    "WorkerError",
    "read_jobdata",
    "run_task",
    "run_worker",
]

#: Where each name lives. They load on first use, so that a driver reading only
#: :mod:`pydisco.worker.runtime` (to pack a job home) does not import the worker itself.
_HOMES = {
    "Channel": "stdio",
    "DataError": "errors",
    "InputFailed": "errors",
    "MasterGone": "errors",
    "OutputWriter": "outputs",
    "TaskContext": "task",
    "TaskInput": "inputs",
    "UnsafeLocation": "errors",
    "WorkerError": "errors",
    "read_jobdata": "task",
    "run_task": "run",
    "run_worker": "run",
}

__getattr__ = _lazy_names(__name__, _HOMES)
