"""Choosing where a job runs: ``inline``, ``local`` (the bundled master) or a master URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from pydisco.localmaster import LOCAL_RETRIES, local_master_settings

if TYPE_CHECKING:
    from pydisco.job.api import Job
    from pydisco.job.results import Results

__all__ = ["LOCAL_RETRIES", "Runner", "get_runner", "local_master_settings"]


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
