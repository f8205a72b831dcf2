"""OOB from inside a job's stage functions: ``from pydisco.job import oob``.

``oob.put(key, value)`` and ``oob.get(key)`` reach the store of the task that is
running (see :mod:`pydisco.worker.oob`); ``oob.get(key, jobname=...)`` reads
another job's. Outside a task on a master (for example under the inline
runner) they raise :class:`~pydisco.job.errors.JobError`.
"""

from __future__ import annotations

from typing import Any

from pydisco.job.errors import JobError

__all__ = ["TaskOob", "bind", "oob"]

_task: list[Any] = []


def bind(task: Any) -> None:
    """Make ``task`` (a worker :class:`~pydisco.worker.TaskContext`) the running task."""
    _task[:] = [task]


class TaskOob:
    """The running task's OOB store."""

    def _store(self) -> Any:
        if not _task or not hasattr(_task[0], "oob"):
            raise JobError(
                "OOB is only available in a task running on a master (a runner URL or "
                "'local'); the inline runner has no DDFS."
            )
        return _task[0].oob

    def put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` for this job."""
        self._store().put(key, value)

    def get(self, key: str, jobname: str | None = None) -> bytes | None:
        """The newest value under ``key`` (this job's, or ``jobname``'s), or None."""
        value: bytes | None = self._store().get(key, jobname)
        return value

    def keys(self, jobname: str | None = None) -> set[str]:
        """The keys stored by this job (or by ``jobname``)."""
        keys: set[str] = self._store().keys(jobname)
        return keys


oob = TaskOob()
