"""The worker side of a pydisco job: what the job pack's worker script runs for each task.

The job home holds a small script (:data:`LAUNCHER_SCRIPT`, named
:data:`LAUNCHER_NAME`) that puts the job home first on ``sys.path`` and calls
:func:`main`. For each task, :func:`task_main` reads the job data (see
:func:`decode_jobdata`), imports the user's module, finds the job object and
runs the stage named in the TASK reply with
:func:`~pydisco.job.execute.run_task_stage`. A failure in user code ends the
task with FATAL (ERROR only for I/O errors raised inside pydisco, which
Disco retries), whose text has the user's traceback, the stage, the task
and the input. While the module is imported and the task runs,
:data:`~pydisco.job.api.IN_TASK_ENV` is set, so a ``Job.run`` call at module
level (a missing ``__main__`` guard) fails instead of starting the job again.

Job data (UTF-8 JSON, one object; see ``docs/jobs.md``)::

    {"pydisco_job": 1, "target": "module:attribute",
     "params": <JSON value>  |  "params_pickle": "<base64 of a pickle>",
     "input_formats": {"<url>": "json", ...}, "default_format": "lines",
     "input_ranges": {"<url>": ["<local path>", <start>, <end>, <file size>], ...}}

``input_ranges`` (only when there are any) maps each first-stage input that
is a byte range of a local file (the bundled master's map tasks) to the file
and range the task reads in place (and the file's size then, checked).

Params are JSON when they can be (so other tools can read them) and a
base64 pickle otherwise.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
from typing import TYPE_CHECKING, Any, Final

import attrs

from pydisco.job.api import IN_TASK_ENV, Job, load_job
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

JOBDATA_VERSION: Final = 1
#: The worker script's name in the job home (the job dict's ``worker``).
LAUNCHER_NAME: Final = "pydisco_job_worker.py"
LAUNCHER_SCRIPT: Final = '''#!/usr/bin/env python3
"""Runs one task of a pydisco job; the job home holds the code it imports."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pydisco.job.launcher import main

main()
'''


def encode_params(params: Any) -> dict[str, Any]:
    """``{"params": value}`` when ``params`` is JSON, else ``{"params_pickle": base64}``."""
    try:
        text = json.dumps(params, allow_nan=False)
    except (TypeError, ValueError):
        blob = pickle.dumps(params, pickle.HIGHEST_PROTOCOL)
        return {"params_pickle": base64.b64encode(blob).decode("ascii")}
    if json.loads(text) != params:  # tuples, non-string dict keys: keep them exactly
        blob = pickle.dumps(params, pickle.HIGHEST_PROTOCOL)
        return {"params_pickle": base64.b64encode(blob).decode("ascii")}
    return {"params": params}


def decode_params(data: dict[str, Any]) -> Any:
    """The params from what :func:`encode_params` produced."""
    if "params_pickle" in data:
        return pickle.loads(base64.b64decode(data["params_pickle"]))
    return data.get("params")


def encode_jobdata(
    target: str,
    params: Any,
    input_formats: dict[str, str] | None = None,
    default_format: str = "lines",
    input_ranges: dict[str, tuple[str, int, int, int]] | None = None,
) -> bytes:
    """The job data of a pydisco job."""
    data: dict[str, Any] = {"pydisco_job": JOBDATA_VERSION, "target": target}
    data.update(encode_params(params))
    data["input_formats"] = dict(input_formats or {})
    data["default_format"] = default_format
    if input_ranges:
        data["input_ranges"] = {url: list(where) for url, where in input_ranges.items()}
    return json.dumps(data, sort_keys=True).encode("utf-8")


def decode_jobdata(raw: bytes) -> dict[str, Any]:
    """The job data as a dict; raises ``ValueError`` for anything that is not pydisco's."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"The job data is not a pydisco job's JSON: {exc}.") from None
    if not isinstance(data, dict) or data.get("pydisco_job") != JOBDATA_VERSION:
        raise ValueError("The job data does not describe a pydisco job (version 1).")
    return data


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
    bind_oob(task)
    stage = job.stage(task.info.stage)
    tmpdir = os.path.join(task.home, task.outputs.taskpath + "-sort")
    run_task_stage(job, stage, task, attrs.evolve(spec, tmpdir=tmpdir), wrap_errors=True)


def main() -> None:
    """The worker's entry point: one task over stdin/stderr, then exit."""
    from pydisco.worker.run import run_worker

    run_worker(task_main)
