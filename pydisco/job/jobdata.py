"""Job data: how a pydisco job tells its worker script what to run.

The job home holds a small script (:data:`LAUNCHER_SCRIPT`, named
:data:`LAUNCHER_NAME`) that puts the job home first on ``sys.path`` and calls
:func:`pydisco.job.launcher.main`. The job data (the job pack's ``jobdata``
section) says which job and with which params; UTF-8 JSON, one object (see
``docs/jobs.md``)::

    {"pydisco_job": 1, "target": "module:attribute",
     "params": <JSON value>  |  "params_pickle": "<base64 of a pickle>",
     "input_formats": {"<url>": "json", ...}, "default_format": "lines",
     "input_ranges": {"<url>": ["<local path>", <start>, <end>, <file size>], ...}}

``input_ranges`` (only when there are any) maps each first-stage input that
is a byte range of a local file (the bundled master's map tasks) to the file
and range the task reads in place (and the file's size then, checked).

Params are JSON when they can be (so other tools can read them) and a
base64 pickle otherwise. This module imports nothing of the job API, so the
runners and the packer use it without depending on :mod:`pydisco.job.api`.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = [
    "JOBDATA_VERSION",
    "LAUNCHER_NAME",
    "LAUNCHER_SCRIPT",
    "decode_jobdata",
    "decode_params",
    "encode_jobdata",
    "encode_params",
    "launcher_script",
]

JOBDATA_VERSION: Final = 1
#: The worker script's name in the job home (the job dict's ``worker``).
LAUNCHER_NAME: Final = "pydisco_job_worker.py"
_LAUNCHER_HEAD = '''#!/usr/bin/env python3
"""Runs one task of a pydisco job; the job home holds the code it imports."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
'''
_LAUNCHER_TAIL = """
from pydisco.job.launcher import main

main()
"""


def launcher_script(runtime: str | None = None) -> str:
    """The worker script; with ``runtime``, one that imports pydisco from that directory.

    ``runtime`` is a directory holding the worker runtime and ``pydisco/job``
    (the byte-compiled template of :mod:`pydisco.job.packing`) on the machine
    that runs the tasks: the bundled master's job homes leave the runtime out
    and their workers import it from there, after the job home's own code.
    """
    shared = "" if runtime is None else f"sys.path.insert(1, {runtime!r})  # the runtime, shared\n"
    return _LAUNCHER_HEAD + shared + _LAUNCHER_TAIL


#: The worker script of a job home that carries the runtime.
LAUNCHER_SCRIPT: Final = launcher_script()


def decode_jobdata(raw: bytes) -> dict[str, Any]:
    """The job data as a dict; raises ``ValueError`` for anything that is not pydisco's."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"The job data is not a pydisco job's JSON: {exc}.") from None
    if not isinstance(data, dict) or data.get("pydisco_job") != JOBDATA_VERSION:
        raise ValueError("The job data does not describe a pydisco job (version 1).")
    return data


def encode_params(params: Any) -> dict[str, Any]:
    """``{"params": value}`` when ``params`` is JSON, else ``{"params_pickle": base64}``."""
    try:
        text = json.dumps(params, allow_nan=False)
    except (TypeError, ValueError):
        return {"params_pickle": _pickled(params)}
    if json.loads(text) != params:  # tuples, non-string dict keys: keep them exactly
        return {"params_pickle": _pickled(params)}
    return {"params": params}


def _pickled(params: Any) -> str:
    import base64  # only params that are not JSON need these; a task starts without them
    import pickle

    return base64.b64encode(pickle.dumps(params, pickle.HIGHEST_PROTOCOL)).decode("ascii")


def decode_params(data: dict[str, Any]) -> Any:
    """The params from what :func:`encode_params` produced."""
    if "params_pickle" in data:
        import base64
        import pickle

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
