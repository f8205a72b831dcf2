"""The worker side of a pydisco job: what the job pack's worker script runs for each task.

The job home holds a small script (:data:`~pydisco.job.jobdata.LAUNCHER_SCRIPT`)
that puts the job home first on ``sys.path`` and calls :func:`main`. For each
task, :func:`task_main` reads the job data (:mod:`pydisco.job.jobdata`),
imports the user's module, finds the job object and runs the stage named in
the TASK reply with :func:`~pydisco.job.execute.run_task_stage`. A failure in
user code ends the task with FATAL (or ERROR for I/O and data errors, which
Disco retries), whose text has the user's traceback, the stage, the task and
the input While the module is imported and the task runs,
:data:`~pydisco.job.api.IN_TASK_ENV` is set, so a ``Job.run`` call at module
level (a missing ``__main__`` guard) fails instead of starting the job again.
"""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING, Any

import attrs

from pydisco.job.api import IN_TASK_ENV, Job, load_job
from pydisco.job.jobdata import (
    JOBDATA_VERSION,
    LAUNCHER_NAME,
    LAUNCHER_SCRIPT,
    decode_jobdata,
    decode_params,
    encode_jobdata,
    encode_params,
)
from pydisco.job.oob import bind as bind_oob

if TYPE_CHECKING:  # the executor is imported by the worker only, not by the driver packing
    from pydisco.job.execute import RunSpec

__all__ = [
    "JOBDATA_VERSION",
    "LAUNCHER_NAME",
    "LAUNCHER_SCRIPT",
    "decode_jobdata",
    "decode_params",
    "encode_jobdata",
    "encode_params",
    "main",
    "task_main",
]


def prepare(data: dict[str, Any]) -> tuple[Job, RunSpec]:
    """The job (with its params) and run spec the job data describes."""
    from pydisco.job.execute import RunSpec

    params = decode_params(data)
    target = str(data["target"])
    # Importing the user's module must not start a job (a run() call without the __main__
    # guard): Job.run refuses while this is set, and so do runs in the task's child processes.
    os.environ[IN_TASK_ENV] = target
    job = attrs.evolve(load_job(target), params=params)
    spec = RunSpec(
        params=params,
        input_formats=dict(data.get("input_formats") or {}),
        default_format=str(data.get("default_format") or job.input_format),
        input_ranges={
            str(url): (str(path), int(start), int(end), int(size))
            for url, (path, start, end, size) in (data.get("input_ranges") or {}).items()
        },
    )
    return job, spec


def task_main(task: Any) -> None:
    """Run the task's stage of the job named in the job data."""
    from pydisco.job.execute import run_task_stage

    job, spec = prepare(decode_jobdata(task.jobdata()))
    # What is loaded now (modules, classes, the job) lives as long as the task: the cyclic
    # collector need not walk it again in every full collection while the task runs.
    gc.freeze()
    bind_oob(task)
    stage = job.stage(task.info.stage)
    tmpdir = os.path.join(task.home, task.outputs.taskpath + "-sort")
    run_task_stage(job, stage, task, attrs.evolve(spec, tmpdir=tmpdir), wrap_errors=True)


def main() -> None:
    """The worker's entry point: one task over stdin/stderr, then exit."""
    from pydisco.worker.run import run_worker

    run_worker(task_main)
