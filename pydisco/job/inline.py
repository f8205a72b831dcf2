"""The inline runner: every task of every stage in this process, one after another.

Tasks are formed from the previous stage's outputs by the master's own
grouping code (facts §10.1), with one host (``localhost``): ``split`` gives one
task per output, ``group_label`` one per label, ``group_node`` one task,
``group_node_label`` one per label, ``group_all`` one (even with no outputs).
Outputs are real files in a temporary directory, written in the job's record
format, so encoding, partitioning and the external sort are the ones a
cluster runs. User exceptions propagate unchanged (with a note saying where),
so a debugger stops in user code.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, Final

import attrs

from pydisco.dataurls import file_url
from pydisco.job.execute import RunSpec, run_task_stage
from pydisco.job.jobdata import decode_params, encode_params
from pydisco.job.location import locate_job
from pydisco.job.results import Results
from pydisco.job.sources import Source, as_sources, plan_map_tasks, read_source
from pydisco.job.tags import expand_tags
from pydisco.protocol.messages import TaskInfo

if TYPE_CHECKING:
    from pydisco.job.api import Job

__all__ = ["InlineRunner", "group_items"]

HOST: Final = "localhost"
_counter = itertools.count()


@attrs.frozen
class LocalOutput:
    """A file a task wrote: its label and where it is."""

    label: int
    path: str
    host: str = HOST


class LocalInput:
    """One task input in this process."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.url: str | None = source.urls[0] if source.urls else source.describe()
        self.label = source.label
        self.format = source.format

    def chunks(self) -> Iterator[bytes]:
        """The input's bytes."""
        return read_source(self.source)


class LocalWriter:
    """An output file of an inline task."""

    def __init__(self, label: int, path: str) -> None:
        self.label = label
        self.path = path
        self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed by the task

    def write(self, data: bytes) -> int:
        """Append ``data``."""
        return self._file.write(data)

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class InlineTask:
    """A task run in this process; has what :func:`run_task_stage` needs."""

    def __init__(self, info: TaskInfo, inputs: list[LocalInput], directory: str) -> None:
        self.info = info
        self._inputs = inputs
        self.directory = directory
        self._writers: dict[int, LocalWriter] = {}
        self.messages: list[str] = []

    def inputs(self) -> Iterator[LocalInput]:
        """The task's inputs."""
        return iter(self._inputs)

    def output(self, label: int = 0) -> LocalWriter:
        """The writer for ``label``."""
        writer = self._writers.get(label)
        if writer is None:
            os.makedirs(self.directory, exist_ok=True)
            writer = LocalWriter(label, os.path.join(self.directory, f"out-{label}"))
            self._writers[label] = writer
        return writer

    def msg(self, text: str) -> None:
        """Kept in :attr:`messages` (inline there are no job events)."""
        self.messages.append(text)

    def close(self) -> list[LocalOutput]:
        """Close the outputs; returns them in label order."""
        outputs = []
        for label in sorted(self._writers):
            self._writers[label].close()
            outputs.append(LocalOutput(label, self._writers[label].path))
        return outputs


def group_items(
    grouping: str, items: list[tuple[int, Any]]
) -> list[tuple[tuple[int, str], list[Any]]]:
    """The tasks a stage with ``grouping`` forms from ``(label, item)`` outputs on :data:`HOST`.

    The master's grouping (:func:`pydisco.master.grouping.group_outputs`) decides;
    each item stands for a data output with one replica on this host.
    """
    # Imported here: a worker imports this module (with the rest of the job API) from the
    # shipped runtime, which has no master.
    from pydisco.master.grouping import DataOutput, OutputRef, group_outputs

    refs = [
        OutputRef((-1, n), DataOutput(label, 0, (f"disco://{HOST}/{n}",)))
        for n, (label, _item) in enumerate(items)
    ]
    return [
        (group, [items[task_input.source[1]][1] for task_input in inputs])
        for _key, group, inputs in group_outputs(grouping, refs)
    ]


def _task_info(job_name: str, stage: Any, taskid: int, group: tuple[int, str]) -> TaskInfo:
    return TaskInfo(
        taskid=taskid,
        master="inline",
        disco_port=0,
        put_port=0,
        ddfs_data="",
        disco_data="",
        stage=stage.name,
        grouping=stage.grouping,
        group=group,
        jobfile="",
        jobname=job_name,
        host=HOST,
    )


def _job_name(job: Job, original: Job | None) -> str:
    prefix = job.name
    if prefix is None:
        try:
            prefix = locate_job(original or job).rpartition(":")[2]
        except ValueError:
            prefix = "job"
    return f"{prefix}@inline:{os.getpid():x}:{next(_counter):x}"


class InlineRunner:
    """Runs jobs in this process. ``workdir`` keeps the files (default: a temp dir)."""

    def __init__(self, workdir: str | None = None) -> None:
        self.workdir = workdir

    def run(self, job: Job, inputs: Iterable[Any] | Any, *, original: Job | None = None) -> Results:
        """Run every stage; the results are the last stage's output files."""
        name = _job_name(job, original)
        if self.workdir is None:
            root = tempfile.mkdtemp(prefix="pydisco-inline-")
        else:
            root = os.path.join(self.workdir, name.replace(":", "_").replace("@", "_"))
            os.makedirs(root, exist_ok=True)
        # One slot: inline tasks run one after another.
        sources = plan_map_tasks(
            expand_tags(as_sources(inputs, job.input_format), None, keep_disco=False),
            slots=1,
            chunk_size=job.chunk_size,
            map_tasks=job.map_tasks,
        )
        # Params go through the job data's encoding, so inline sees what a worker would.
        params = decode_params(encode_params(job.params))
        job = attrs.evolve(job, params=params)
        spec = RunSpec(params=params, default_format=job.input_format)
        level: list[tuple[int, Any]] = [(s.label, s) for s in sources]
        taskid = 0
        try:
            for stage in job.stages:
                produced: list[tuple[int, Any]] = []
                for group, items in group_items(stage.grouping, level):
                    directory = os.path.join(root, f"{stage.name}-{taskid}")
                    task = InlineTask(
                        _task_info(name, stage, taskid, group),
                        [LocalInput(_as_source(item, job)) for item in items],
                        directory,
                    )
                    try:
                        run_task_stage(
                            job, stage, task, attrs.evolve(spec, tmpdir=directory + "-sort")
                        )
                    finally:
                        outputs = task.close()
                        shutil.rmtree(directory + "-sort", ignore_errors=True)
                    produced.extend((o.label, o) for o in outputs)
                    taskid += 1
                level = produced
        except BaseException:
            if self.workdir is None:
                shutil.rmtree(root, ignore_errors=True)
            raise
        results = [_as_source(item, job) for _label, item in level]
        holder = _TempDir(root) if self.workdir is None else None
        return Results(results, job.records, name, keep=holder)


def _as_source(item: Any, job: Job) -> Source:
    if isinstance(item, Source):
        return item
    output: LocalOutput = item
    return Source((file_url(output.path),), job.records, output.label, path=output.path)


class _TempDir:
    """Deletes the directory when the last :class:`Results` holding it is gone."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._finalizer = weakref.finalize(self, shutil.rmtree, path, True)
