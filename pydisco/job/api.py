"""The job API: :class:`Stage`, :class:`Job` and :func:`map_reduce`.

A job is a pipeline of stages. Each stage has a grouping (how the previous
stage's outputs become its tasks, as Disco defines them) and one function:

- ``map=f``: per record, ``f(record)`` yields ``(key, value)`` pairs;
- ``reduce=f``: per key, ``f(key, values)`` yields pairs; the task's records
  are sorted by encoded key (externally, past ``sort_memory``) and each key
  comes once with all its values;
- ``task=f``: per task, ``f(records)`` yields pairs.

A function that takes one more positional parameter than that gets the
job's params as its last argument. ``combine=g`` (reduce-shaped) folds the
pairs a stage emits in memory before they are written. Outputs go to label
``crc32(key) % partitions`` when the stage has ``partitions``, otherwise to
the task's own group label (so labels flow through the pipeline).

The same :class:`Job` runs in this process (``runner="inline"``), on a
master started for the occasion (``"local"``) or on any master by URL.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

import attrs

from pydisco.job.errors import JobDefinitionError, RunInsideTask
from pydisco.job.location import locate_job
from pydisco.job.records import FORMATS
from pydisco.job.sort import DEFAULT_SORT_MEMORY
from pydisco.protocol.messages import GROUPINGS

if TYPE_CHECKING:
    from pydisco.job.results import Results

__all__ = [
    "GROUPINGS",
    "IN_TASK_ENV",
    "Job",
    "JobDefinitionError",
    "Stage",
    "load_job",
    "locate_job",
    "map_reduce",
]

Pair = tuple[Any, Any]
StageFunction = Callable[..., Iterable[Pair]]

#: The default memory budget of a stage's in-memory combine, in bytes.
DEFAULT_COMBINE_MEMORY: Final = 32 * 1024 * 1024
#: Set (to the job's ``module:attribute``) by the worker side of a pydisco job before it
#: imports the user's module; :meth:`Job.run` refuses to run while it is set.
IN_TASK_ENV: Final = "PYDISCO_IN_TASK"


def _grouping(value: str) -> str:
    text = str(getattr(value, "value", value))
    if text not in GROUPINGS:
        raise JobDefinitionError(f"Unknown grouping {text!r}; use one of {', '.join(GROUPINGS)}.")
    return text


def _base_arity(kind: str) -> int:
    return {"map": 1, "reduce": 2, "task": 1}[kind]


def wants_params(function: Callable[..., Any], base: int) -> bool:
    """Whether ``function`` takes a positional parameter beyond its ``base`` ones."""
    import inspect  # not at import time: it costs more than the rest of the job API

    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return False
    count = 0
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            count += 1
    return count > base


@attrs.frozen
class Stage:
    """One pipeline stage: a unique name, a grouping, and exactly one of map/reduce/task."""

    name: str
    grouping: str = attrs.field(default="split", converter=_grouping)
    map: StageFunction | None = None
    reduce: StageFunction | None = None
    task: StageFunction | None = None
    #: Folds emitted pairs in memory before writing (reduce-shaped, must be associative).
    combine: StageFunction | None = None
    #: Output labels ``crc32(key) % partitions``; ``None`` keeps the task's group label.
    partitions: int | None = None
    #: Disco's concurrent stage flag (tasks start while the previous stage runs).
    concurrent: bool = False

    def __attrs_post_init__(self) -> None:
        given = [k for k in ("map", "reduce", "task") if getattr(self, k) is not None]
        if len(given) != 1:
            raise JobDefinitionError(
                f"Stage {self.name!r} needs exactly one of map=, reduce= or task= "
                f"(got {', '.join(given) or 'none'})."
            )
        if not self.name or "/" in self.name or ":" in self.name:
            raise JobDefinitionError(
                f"Stage name {self.name!r} must be non-empty, without '/' or ':'."
            )
        if self.partitions is not None and self.partitions < 1:
            raise JobDefinitionError(f"Stage {self.name!r}: partitions must be at least 1.")

    @property
    def kind(self) -> str:
        """``"map"``, ``"reduce"`` or ``"task"``."""
        return next(k for k in ("map", "reduce", "task") if getattr(self, k) is not None)

    @property
    def function(self) -> StageFunction:
        """The stage's function."""
        function = getattr(self, self.kind)
        assert function is not None
        return function  # type: ignore[no-any-return]

    def takes_params(self) -> bool:
        """Whether the stage's function wants the job's params."""
        return wants_params(self.function, _base_arity(self.kind))

    def combine_takes_params(self) -> bool:
        """Whether the combine function wants the job's params."""
        return self.combine is not None and wants_params(self.combine, 2)


def _stages(value: Iterable[Stage]) -> tuple[Stage, ...]:
    stages = tuple(value)
    names = [stage.name for stage in stages]
    if not stages:
        raise JobDefinitionError("A job needs at least one stage.")
    if len(set(names)) != len(names):
        raise JobDefinitionError(f"Stage names must be unique, got {names}.")
    return stages


def _format(value: str) -> str:
    if value not in ("json", "pickle"):
        raise JobDefinitionError(f"A job writes 'json' or 'pickle' records, not {value!r}.")
    return value


def _input_format(value: str) -> str:
    if value not in FORMATS:
        raise JobDefinitionError(f"Unknown input format {value!r}; use one of {list(FORMATS)}.")
    return value


def _positive_or_none(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (type(value) is not int or value < 1):
        raise JobDefinitionError(f"{attribute.name} must be a positive integer, not {value!r}.")


@attrs.frozen
class Job:
    """A Disco job: stages plus how records are stored, sorted and shipped."""

    stages: tuple[Stage, ...] = attrs.field(converter=_stages)
    #: Passed to functions that take params; travels as JSON (or pickle) in the job data.
    params: Any = None
    #: The job name prefix (Disco adds ``@<timestamp>``); defaults to the job's variable name.
    name: str | None = None
    #: Record format between stages and of the results: ``json`` or ``pickle``.
    records: str = attrs.field(default="json", converter=_format)
    #: How local job inputs are read when given as paths or URLs: ``lines`` by default.
    input_format: str = attrs.field(default="lines", converter=_input_format)
    sort_memory: int = DEFAULT_SORT_MEMORY
    combine_memory: int = DEFAULT_COMBINE_MEMORY
    #: Cut local text files into map tasks of about this many bytes (``None``: by slots).
    chunk_size: int | None = attrs.field(default=None, validator=_positive_or_none)
    #: Or into about this many map tasks in all (``None``: a multiple of the master's slots).
    map_tasks: int | None = attrs.field(default=None, validator=_positive_or_none)
    #: Extra modules or packages (import names) to ship into the job home.
    modules: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    #: Extra files to ship, put at the top of the job home under their base names.
    files: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    #: ``scheduler.max_cores`` of the job dict.
    max_cores: int | None = None
    #: Save the results to DDFS: they become the tag ``disco:results:<job name>``.
    save_results: bool = False

    def __attrs_post_init__(self) -> None:
        if self.chunk_size is not None and self.map_tasks is not None:
            raise JobDefinitionError("Give chunk_size= or map_tasks=, not both.")

    def stage(self, name: str) -> Stage:
        """The stage called ``name``."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"The job has no stage {name!r}; it has {[s.name for s in self.stages]}.")

    def with_params(self, params: Any) -> Job:
        """The same job with other params."""
        return attrs.evolve(self, params=params)

    def run(
        self,
        inputs: Iterable[Any] | Any,
        *,
        params: Any = ...,
        runner: str = "inline",
        **options: Any,
    ) -> Results:
        """Run the job over ``inputs`` and return its results (iterate for ``(key, value)``).

        ``runner`` is ``"inline"`` (this process; exceptions propagate as they
        are), ``"local"`` (the bundled master, started once per process) or a
        master URL. ``params`` replaces the job's params for this run.

        Raises :class:`~pydisco.job.errors.RunInsideTask` inside a task of a
        pydisco job (a module-level call that lacks the ``__main__`` guard).
        """
        target = os.environ.get(IN_TASK_ENV)
        if target is not None:
            raise RunInsideTask(target.partition(":")[0] or None)
        from pydisco.job.runners import get_runner

        job = self if params is ... else self.with_params(params)
        return get_runner(runner, **options).run(job, inputs, original=self)


def map_reduce(
    map: StageFunction | None = None,
    reduce: StageFunction | None = None,
    *,
    task: StageFunction | None = None,
    combine: StageFunction | None = None,
    partitions: int = 1,
    params: Any = None,
    name: str | None = None,
    records: str = "json",
    **options: Any,
) -> Job:
    """The common job: a map stage (split), an optional ``combine``, ``reduce`` (group_label).

    The map is ``map`` (called per record) or ``task`` (called once per map task
    with all of the task's records, for in-mapper combining); exactly one of them.
    Without ``reduce`` it is a map-only job whose results are the map's outputs.
    """
    stages = [Stage("map", "split", map=map, task=task, combine=combine, partitions=partitions)]
    if reduce is not None:
        stages.append(Stage("reduce", "group_label", reduce=reduce))
    return Job(stages, params=params, name=name, records=records, **options)


# --- finding a job by name ----------------------------------------------------------------------


def _import_target(module_part: str) -> Any:
    if module_part.endswith(".py") or os.sep in module_part:
        path = os.path.abspath(module_part)
        directory, filename = os.path.split(path)
        if not os.path.isfile(path):
            raise JobDefinitionError(f"The job file {path} does not exist.")
        if directory not in sys.path:
            sys.path.insert(0, directory)
        return importlib.import_module(os.path.splitext(filename)[0])
    return importlib.import_module(module_part)


def load_job(spec: str) -> Job:
    """The job named by ``"module:attribute"`` (or ``"path/to/file.py:attribute"``).

    Without ``:attribute`` the module must hold exactly one :class:`Job`.
    """
    module_part, _, attribute = spec.partition(":")
    module = _import_target(module_part)
    if attribute:
        value: Any = module
        for part in attribute.split("."):
            value = getattr(value, part, None)
        if not isinstance(value, Job):
            raise JobDefinitionError(
                f"{spec!r} does not name a pydisco Job. {_jobs_there(module, module_part)}"
            )
        return value
    jobs = _jobs_of(module)
    if len(jobs) != 1:
        raise JobDefinitionError(
            f"Module {module.__name__!r} holds {len(jobs)} jobs, not one. "
            + _jobs_there(module, module_part)
        )
    return getattr(module, jobs[0])  # type: ignore[no-any-return]


def _jobs_of(module: Any) -> list[str]:
    return [name for name, value in vars(module).items() if isinstance(value, Job)]


def _jobs_there(module: Any, module_part: str) -> str:
    """The jobs a module holds, spelled as the user should name them."""
    jobs = _jobs_of(module)
    if not jobs:
        return f"{module_part} holds no Job (made with map_reduce, pipeline or Job(...))."
    named = ", ".join(f"'{module_part}:{name}'" for name in jobs)
    return f"Name one of its jobs: {named}."
