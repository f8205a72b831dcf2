"""Errors of the Python job API.

They keep ``ValueError`` as a second base where the error is about a bad
value, so code that caught ``ValueError`` before keeps working.
"""

from __future__ import annotations

from pydisco.errors import PydiscoError

__all__ = [
    "CorruptRecords",
    "InputChanged",
    "JobDefinitionError",
    "JobError",
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


class InputChanged(JobError):
    """A local input file changed size after the job was planned: its byte ranges are wrong.

    A map task that reads a range of a file in place would otherwise miss or
    repeat lines; run the job again once the file is complete.
    """
