"""Errors raised by the worker library.

::

    PydiscoError                      pydisco.errors
    └── WorkerError                   something stopped the task
        ├── DataError                 an input or output could not be read or written
        │   ├── UnsafeLocation        a URL points outside the directory it may use
        │   └── InputFailed           every replica failed and the master said FAIL
        ├── MasterGone                the master closed the reply stream
        └── OobError                  an OOB key is invalid or DDFS refused it (worker.oob)

How :func:`~pydisco.worker.run_worker` reports them: :class:`DataError` (and
``OSError`` and ``MemoryError``) become ``ERROR``, which Disco retries;
:class:`MasterGone` too, for a retry elsewhere is the best hope. Any other
exception is a bug in the job and becomes ``FATAL``, which stops the job.
"""

from __future__ import annotations

from pydisco.errors import PydiscoError

__all__ = ["DataError", "InputFailed", "MasterGone", "UnsafeLocation", "WorkerError"]


class WorkerError(PydiscoError):
    """Base class of the errors the worker library raises."""


class DataError(WorkerError):
    """An input or output could not be read or written; the task may succeed on retry.

    ``url`` names the replica or file involved, when there is one.
    """

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class UnsafeLocation(DataError):
    """A URL maps to a local path outside the data directory it must stay in."""


class InputFailed(DataError):
    """Every replica of an input failed, and the master had no other to offer.

    ``failures`` lists ``(replica_id, url, reason)`` for each failed attempt.
    """

    def __init__(
        self, message: str, input_id: int, failures: tuple[tuple[int, str, str], ...] = ()
    ) -> None:
        super().__init__(message, failures[-1][1] if failures else None)
        self.input_id = input_id
        self.failures = failures


class MasterGone(WorkerError):
    """The master closed our stdin, or sent something that is not a valid reply."""
