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

from pydisco.worker.errors import DataError, InputFailed, MasterGone, UnsafeLocation, WorkerError
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
