"""Choosing where a job runs: ``inline``, ``local`` (the bundled master) or a master URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from pydisco.job.api import Job
    from pydisco.job.results import Results

__all__ = ["LOCAL_RETRIES", "Runner", "get_runner", "local_master_settings"]

#: Failures per task a throw-away local master allows (``runner="local"`` and
#: ``discotool run``): none. A job started from this machine fails at its first task
#: failure and says why, as mrjob's local runner does, instead of Disco's up to
#: 100 retries each after ``min(n, 60) s + 1..30 s``.
LOCAL_RETRIES: Final = 0


def local_master_settings(retries: int = LOCAL_RETRIES) -> dict[str, Any]:
    """The settings of a master started for the occasion: ``retries`` failures, no delay.

    The one failure policy of ``runner="local"`` and ``discotool run``
    (``--retries N`` passes ``N``).
    """
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}.")
    return {"retry_delay": 0.0, "max_failure_rate": retries}


class Runner(Protocol):
    """Runs a job over inputs and returns its results."""

    def run(self, job: Job, inputs: Any, *, original: Job | None = None) -> Results:
        """Run ``job``; ``original`` is the module-level job ``job`` derives from."""
        ...


def get_runner(name: str, **options: Any) -> Runner:
    """``"inline"``, ``"local"`` or a master URL (``http://host:port``)."""
    if name == "inline":
        from pydisco.job.inline import InlineRunner

        runner: Runner = InlineRunner(**options)
        return runner
    if name == "local":
        from pydisco.job.remote import LocalMasterRunner

        runner = LocalMasterRunner(**options)
        return runner
    if name.startswith(("http://", "https://")):
        from pydisco.job.remote import MasterRunner

        runner = MasterRunner(name, **options)
        return runner
    raise ValueError(f"Unknown runner {name!r}: use 'inline', 'local' or a master URL.")
