"""How a job starts its workers on one node: command line, environment, TASK fields, timers.

Made once per job and node, when the job home is there, and shared by every
task run of that job on that node.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from pydisco.master.config import MasterSettings
from pydisco.master.taskrun import Timers

__all__ = ["HIDDEN_PREFIXES", "WORKER_PREFIX", "Launch", "task_timeout", "worker_environment"]

#: Variables of the master's environment a worker never gets: Disco's own settings, and
#: every ``PYDISCO_*`` one (the master token among them) except the workers' settings.
HIDDEN_PREFIXES = ("DISCO_", "DDFS_", "PYDISCO_")
WORKER_PREFIX = "PYDISCO_WORKER_"


@attrs.frozen
class Launch:
    """How this job starts workers on one host (its job home is extracted)."""

    argv: list[str]
    home: Path
    env: dict[str, str]
    #: TASK fields other than the task's own (id, stage, grouping, group).
    info: dict[str, Any]
    timers: Timers
    #: Added to each worker's niceness once started (the master's ``nice`` setting).
    nice: int = 0

    @classmethod
    def make(
        cls,
        settings: MasterSettings,
        *,
        host: str,
        home: Path,
        worker: str,
        jobname: str,
        master_url: str,
        disco_port: int,
        environ: Mapping[str, str],
        envs: Mapping[str, str],
        job_task_timeout: object,
    ) -> Launch:
        """What every run of job ``jobname`` on ``host`` shares.

        ``environ`` is the master's environment, ``envs`` the job's own variables
        and ``job_task_timeout`` the job dict's ``scheduler.task_timeout``.
        """
        argv = [worker]
        env = worker_environment(environ)
        env.update(envs)
        info = {
            "master": master_url,
            "disco_port": disco_port,
            "put_port": settings.put_port,
            "ddfs_data": str(settings.ddfs_root),
            "disco_data": str(settings.data_dir),
            "jobfile": str(home / "jobfile"),
            "jobname": jobname,
            "host": host,
        }
        timers = Timers(
            settings.pid_timeout,
            settings.partial_timeout,
            settings.drain_timeout,
            task_timeout(job_task_timeout, settings.task_timeout),
            clock=settings.msg_clock,
        )
        return cls(argv, home, env, info, timers, settings.nice)


def task_timeout(job: object, master: float | None) -> float | None:
    """The job's ``scheduler.task_timeout`` and the master's: the shorter one set."""
    limits = [float(t) for t in (job, master) if isinstance(t, (int, float)) and t]
    return min(limits) if limits else None


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The master's environment as workers inherit it (the job envs are added on top)."""
    return {
        k: v
        for k, v in environ.items()
        if not k.startswith(HIDDEN_PREFIXES) or k.startswith(WORKER_PREFIX)
    }
