"""Where a job lives: the ``"module:attribute"`` a worker imports to find it again.

Separate from :mod:`pydisco.job.api` so that the runners, which need it, do
not import the module that imports them (``Job.run`` chooses a runner).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydisco.job.errors import JobDefinitionError

if TYPE_CHECKING:
    from pydisco.job.api import Job

__all__ = ["locate_job"]


def _module_name(module: Any) -> str:
    """The importable name of ``module`` (a script run as ``__main__`` is its file's stem)."""
    name: str = module.__name__
    if name == "__main__":
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.name:
            return str(spec.name)
        filename = getattr(module, "__file__", None)
        if not filename:
            raise JobDefinitionError("A job defined interactively cannot be shipped; use a file.")
        return os.path.splitext(os.path.basename(str(filename)))[0]
    return name


def locate_job(job: Job, candidates: Sequence[str] = ()) -> str:
    """``"module:attribute"`` where ``job`` is a module-level variable, for the worker to import.

    The modules of the stage functions are searched, then ``candidates``.
    """
    modules: list[str] = []
    for stage in job.stages:
        for function in (stage.function, stage.combine):
            if function is not None and getattr(function, "__module__", None):
                modules.append(function.__module__)
    modules.extend(candidates)
    for name in dict.fromkeys(modules):
        module = sys.modules.get(name)
        if module is None:
            continue
        for attribute, value in vars(module).items():
            if value is job:
                return f"{_module_name(module)}:{attribute}"
    raise JobDefinitionError(
        "The job is not a module-level variable of the module defining its functions, so a "
        "worker cannot find it. Assign it to a name at module level (e.g. 'wordcount = "
        "map_reduce(...)'), and vary it with run(params=...)."
    )
