"""Errors of the Python job API.

They keep ``ValueError`` as a second base where the error is about a bad
value, so code that caught ``ValueError`` before keeps working.
"""

from __future__ import annotations

import os

from pydisco.errors import PydiscoError

__all__ = [
    "CorruptRecords",
    "InputChanged",
    "JobDefinitionError",
    "JobError",
    "MissingInput",
    "RunInsideTask",
    "StageFailed",
]


class JobError(PydiscoError):
    """Base class of the errors of :mod:`pydisco.job`."""


class JobDefinitionError(JobError, ValueError):
    """A job or stage is defined inconsistently; the message names the stage or argument."""


class CorruptRecords(JobError, ValueError):
    """Bytes that are not valid records of the expected format."""


class StageFailed(JobError):
    """User code failed in a worker; the message says where, the cause is the user's error."""


class RunInsideTask(JobError):
    """``Job.run`` was called while a worker imported the job's module to run a task.

    A worker imports the user's module to find the job; a ``run()`` call at
    module level would start the job again from every task (recursively on
    the bundled master). The call belongs under ``if __name__ == "__main__":``.
    """

    def __init__(self, module: str | None = None) -> None:
        where = f"the module {module!r}" if module else "your module"
        super().__init__(
            f"Job.run() was called while a worker was importing {where} to run one of the "
            "job's tasks. Workers import the job's module to find its functions, so a run() "
            "call at module level would start the job again inside every task. Put it under "
            "'if __name__ == \"__main__\":' so that only running the script starts the job."
        )


class MissingInput(JobError, FileNotFoundError):
    """A job input given as a local path (or ``file://`` URL) names no file.

    Relative paths are taken from the current directory, which is often not
    the one the user had in mind: the message says where it looked.
    """

    def __init__(self, given: str, full: str, *, relative: bool = False) -> None:
        where = f", relative to the current directory {os.getcwd()}" if relative else ""
        super().__init__(
            f"The job input {given!r} does not exist (looked for {full}{where}). Give the "
            "path of an existing file, or a URL (http://, raw://, tag://, disco://) for "
            "data that is not a local file."
        )
        self.path = full


class InputChanged(JobError):
    """A local input file changed size after the job was planned: its byte ranges are wrong.

    A map task that reads a range of a file in place would otherwise miss or
    repeat lines; run the job again once the file is complete.
    """
