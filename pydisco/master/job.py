"""A job and the coordinator that moves it along: scheduling, retries, stage progress.

What it leans on lives next to it: the tasks and stages and where each stands
(:mod:`~pydisco.master.tasks`), its record on disk
(:mod:`~pydisco.master.jobstore`), its job homes
(:mod:`~pydisco.master.jobhome`), how its workers are started
(:mod:`~pydisco.master.launch`) and one task run's conversation
(:mod:`~pydisco.master.taskrun`).

Everything runs on the master's event loop; there are no locks. The rules are
those of facts §10: non-concurrent stages start when the previous one has
finished; concurrent stages get tasks as upstream tasks finish (and learn
that their input is complete when the upstream stage finishes); ``max_cores``
holds tasks pending; errors retry with host avoidance up to
``max_failure_rate``; FATAL kills the job. Real Disco's concurrent-stage bugs
(§16) are not copied: a concurrent first stage runs as a normal one, a
concurrent ``split`` keys its tasks by output so repeats cannot collide, and
a task sleeping before a retry reads its input state when it re-runs.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydisco.ddfsnames import results_tag
from pydisco.jobpack import JobDict
from pydisco.master.config import MasterSettings
from pydisco.master.ddfs import Ddfs
from pydisco.master.events import EventLog
from pydisco.master.grouping import (
    AssignedInput,
    DataOutput,
    DirOutput,
    OutputRef,
    group_outputs,
    output_urls,
)
from pydisco.master.indexwriter import INDEX_WRITER
from pydisco.master.jobhome import JobHomes
from pydisco.master.jobstore import save_record
from pydisco.master.launch import Launch
from pydisco.master.layout import format_duration, job_home, node_file, url_host
from pydisco.master.saveresults import sort_outputs
from pydisco.master.scheduler import AfterRun, Scheduler
from pydisco.master.taskrun import (
    Outcome,
    Records,
    RunDone,
    RunError,
    RunFatal,
    TaskRun,
)
from pydisco.master.tasks import ACTIVE_STATES, StageProgress, Task, TaskState
from pydisco.protocol import TaskInfo
from pydisco.resultsindex import parse_index

__all__ = ["JobContext", "MasterJob"]


class JobContext(Protocol):
    """What a job needs from the master that runs it."""

    settings: MasterSettings
    scheduler: Scheduler

    @property
    def worker_records(self) -> Records | None:
        """Running workers, recorded so that a restarted master kills survivors."""

    @property
    def master_url(self) -> str: ...

    @property
    def disco_port(self) -> int: ...

    async def fetch_index(self, url: str) -> bytes: ...

    @property
    def ddfs(self) -> Ddfs: ...

    def job_finished(self, job: MasterJob) -> None: ...


class MasterJob:
    """A submitted job: live (run by this master) or restored from disk."""

    def __init__(
        self,
        name: str,
        job_dir: Path,
        *,
        created: float,
        jobdict: JobDict | None = None,
        envs: dict[str, str] | None = None,
        ctx: JobContext | None = None,
        record: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.dir = job_dir
        self.pack_path = job_dir / "jobfile"
        self.events = EventLog(job_dir / "events")
        self.created = created
        self.jobdict = jobdict
        self.envs = envs or {}
        self.ctx = ctx
        self.record = record or {}
        self.status: str = self.record.get("status", "active")
        self.stages: list[StageProgress] = []
        if jobdict is not None:
            self.stages = [
                StageProgress(i, s.name, s.grouping.value, s.concurrent and i > 0)
                for i, s in enumerate(jobdict.pipeline)
            ]
            for stage in self.stages:
                stage.started = stage.concurrent
        self.tasks: list[Task] = []
        self.input_outputs: list[OutputRef] = []
        self.results: list[list[str]] = list(self.record.get("results", []))
        self.stage_results: dict[str, list[list[str]]] = dict(self.record.get("stage_results", {}))
        #: ``tag://disco:results:<job>`` once the results are saved to DDFS (save_results).
        self.results_tag: str | None = self.record.get("results_tag")
        #: Called once when the job ends (``get_results`` waiters); no tasks, no coroutines.
        self.end_watchers: set[Callable[[], None]] = set()
        self._runs: set[asyncio.Task[None]] = set()
        #: Results indexes being written, and a future set once none is (for wait_runs).
        self._syncing = 0
        self._synced_all: asyncio.Future[None] | None = None
        self._timers: list[asyncio.TimerHandle] = []
        #: The job homes on the nodes (a job restored from disk has none to make).
        self.homes: JobHomes | None = None
        if jobdict is not None and ctx is not None:
            self.homes = JobHomes(self.pack_path, jobdict.worker, ctx.settings.jobhome_limits())
        self._launches: dict[str, Launch] = {}
        self._rng = random.Random()
        self._start = time.monotonic()

    # -- views ---------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether the job is still running."""
        return self.status == "active"

    def pipeline_rows(self) -> list[list[Any]]:
        """``[stage, pending, waiting, running, done, failed]`` per stage."""
        if not self.stages:
            return [list(row) for row in self.record.get("pipeline", [])]
        rows = []
        for stage in self.stages:
            running = stage.count(*ACTIVE_STATES)
            done = stage.count(TaskState.DONE)
            pending = stage.count(TaskState.NEW)
            waiting = len(stage.tasks) - (running + done)
            rows.append([stage.name, pending, waiting, running, done, stage.failed])
        return rows

    def input_urls(self) -> list[str]:
        """Job inputs as one flat list of URLs."""
        if self.jobdict is None:
            return list(self.record.get("inputs", []))
        return [url for item in self.jobdict.inputs for url in item.urls]

    def info(self) -> dict[str, Any]:
        """``jobinfo``'s object, keys in Disco's order."""
        jd = self.jobdict
        return {
            "timestamp": time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(self.created)),
            "active": self.status,
            "pipeline": self.pipeline_rows(),
            "results": self.result_entries(),
            "inputs": self.input_urls(),
            "worker": jd.worker if jd else self.record.get("worker", ""),
            "hosts": [t.host for t in self.tasks if t.state is TaskState.RUNNING],
            "owner": jd.owner if jd else self.record.get("owner", ""),
        }

    def result_entries(self) -> list[Any]:
        """The results as ``jobinfo`` and ``get_results`` give them: the flat URL list, or
        ``["tag://disco:results:<job>"]`` for a job whose results are saved to DDFS."""
        if self.results_tag is not None:
            return [self.results_tag]
        return [url for replicas in self.results for url in replicas]

    def to_record(self) -> dict[str, Any]:
        """What is saved in ``state.json``."""
        info = self.info()
        return {
            "name": self.name,
            "status": self.status,
            "created": self.created,
            "owner": info["owner"],
            "worker": info["worker"],
            "inputs": info["inputs"],
            "pipeline": info["pipeline"],
            "results": self.results,
            "stage_results": self.stage_results,
            "results_tag": self.results_tag,
        }

    def save(self) -> None:
        """Write ``state.json`` atomically."""
        save_record(self.dir, self.to_record())

    def emit(self, message: str, host: str = "master") -> None:
        """Add an event."""
        self.events.add(message, host)

    # -- starting ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Turn the job inputs into the input pseudo-stage's outputs and start stage 0."""
        assert self.jobdict is not None and self.ctx is not None
        refs: list[OutputRef] = []
        try:
            for n, item in enumerate(self.jobdict.inputs):
                if item.is_dir and item.urls:
                    refs.append(OutputRef((-1, n), await self._dir_input(item.urls[0])))
                else:
                    refs.append(
                        OutputRef((-1, n), DataOutput(item.label, item.size_hint, item.urls))
                    )
        except Exception as exc:
            self.emit(f"ERROR: Job killed due to an internal exception: {exc}")
            self.fail()
            return
        self.input_outputs = refs
        if not self.stages:
            self.results = [output_urls(r.output) for r in refs]
            self._ready()
            return
        self._start_stage(0)
        self.pump()

    async def _dir_input(self, url: str) -> DirOutput:
        assert self.ctx is not None
        data = await self.ctx.fetch_index(url)
        labels: dict[int, int] = {}
        for entry in parse_index(data, url):
            labels[entry.label] = labels.get(entry.label, 0) + entry.size
        if not labels:
            raise ValueError(f"the index {url} lists nothing")
        return DirOutput(url_host(url), url, tuple(sorted(labels.items())))

    def _new_task(
        self, stage: StageProgress, group: tuple[int, str], inputs: list[AssignedInput]
    ) -> Task:
        task = Task(len(self.tasks), stage, group, self.name)
        task.add_inputs(inputs)
        self.tasks.append(task)
        stage.add(task)
        return task

    def _upstream(self, index: int) -> tuple[list[OutputRef], bool]:
        """The outputs feeding stage ``index``, and whether the upstream had any task."""
        if index == 0:
            return self.input_outputs, True
        prev = self.stages[index - 1]
        refs = [
            OutputRef((task.taskid, n), out)
            for task in prev.tasks
            for n, out in enumerate(task.outputs)
        ]
        return refs, bool(prev.tasks)

    def _start_stage(self, index: int) -> None:
        stage = self.stages[index]
        stage.started = True
        stage.start_time = time.monotonic()
        refs, had_tasks = self._upstream(index)
        groups = group_outputs(stage.grouping, refs, self._rng) if had_tasks else []
        for key, group, inputs in groups:
            stage.groups[key] = self._new_task(stage, group, inputs)
        self.emit(f"Stage {stage.name} scheduled with {len(stage.tasks)} tasks")
        self.save()
        self._check_finished(index)

    def _feed_concurrent(self, index: int, refs: list[OutputRef]) -> None:
        stage = self.stages[index]
        if not stage.start_time:
            stage.start_time = time.monotonic()
        for key, group, inputs in group_outputs(stage.grouping, refs, self._rng):
            task = stage.groups.get(key)
            if task is None:
                task = self._new_task(stage, group, inputs)
                task.inputs_done = stage.grouping == "split"
                stage.groups[key] = task
            elif task.add_inputs(inputs) and task.run is not None:
                task.run.wake()

    def _complete_concurrent(self, index: int) -> None:
        stage = self.stages[index]
        refs, had_tasks = self._upstream(index)
        if stage.grouping == "group_all" and had_tasks and not stage.tasks:
            self._feed_concurrent(index, refs)
            if not stage.tasks:
                stage.groups[(0, "")] = self._new_task(stage, (0, ""), [])
        for task in stage.tasks:
            task.inputs_done = True
            if task.run is not None:
                task.run.wake()
        self._check_finished(index)

    # -- progress ------------------------------------------------------------------------------

    def _check_finished(self, index: int) -> None:
        stage = self.stages[index]
        if stage.finished or not stage.started or not self.active:
            return
        if index > 0 and not self.stages[index - 1].finished:
            return
        if stage.counts[TaskState.DONE] != len(stage.tasks):
            return
        stage.finished = True
        elapsed = format_duration(time.monotonic() - (stage.start_time or time.monotonic()))
        self.emit(f"Stage {stage.name} finished in {elapsed}")
        self.stage_results[stage.name] = stage.results()
        if index + 1 == len(self.stages):
            self.results = stage.results()
            if self.jobdict is not None and self.jobdict.save_results and self.ctx is not None:
                saving = asyncio.ensure_future(self._save_results(stage))
                self._runs.add(saving)
                saving.add_done_callback(self._runs.discard)
                return
            self._ready()
            return
        self.save()
        nxt = self.stages[index + 1]
        if nxt.concurrent:
            self._complete_concurrent(index + 1)
        else:
            self._start_stage(index + 1)

    def _running(self, stage: StageProgress) -> int:
        return stage.count(*ACTIVE_STATES)

    def pump(self) -> None:
        """Hand every task that may run now to the scheduler."""
        if not self.active or self.jobdict is None or self.ctx is None:
            return
        max_cores = self.jobdict.max_cores
        for stage in self.stages:
            if stage.finished:
                continue
            earlier = [s for s in self.stages[: stage.index] if not s.finished]
            running_earlier = sum(self._running(s) for s in earlier)
            queue = stage.new_tasks
            while queue:
                if queue[0].state is not TaskState.NEW:
                    queue.popleft()
                    continue
                mine = self._running(stage)
                if mine + running_earlier >= max_cores:
                    break
                if earlier and stage.concurrent and not 2 * mine < running_earlier:
                    break
                self._queue(queue.popleft())

    def _queue(self, task: Task) -> None:
        assert self.ctx is not None
        task.state = TaskState.QUEUED
        self.ctx.scheduler.submit(task, self._run_task)

    async def _run_task(self, task: Task, host: str) -> AfterRun | None:
        """Run ``task`` on ``host``; what is left to do once the slot is free is returned."""
        if not self.active or task.state is not TaskState.QUEUED:
            return None
        task.state = TaskState.RUNNING
        task.host = host
        task.runs += 1
        self.emit(f"{task.tag} assigned to {host}")
        current = asyncio.current_task()
        assert current is not None
        self._runs.add(current)
        try:
            # Not a coroutine per run: this chain is resumed at every worker message.
            launch = self._launches.get(host) or await self._prepare(host)
            if isinstance(launch, Launch):
                outcome = await self._task_run(task, launch).run()
            else:
                outcome = launch
        except asyncio.CancelledError:
            return None
        except Exception as exc:  # a bug here must end the job, not leave it running forever
            outcome = RunFatal(f"Internal error while running the task: {exc!r}")
        finally:
            self._runs.discard(current)
            task.run = None
        if isinstance(outcome, RunDone) and outcome.index is not None:
            # The slot is free once the worker is gone; the index is written and fsynced
            # off the event loop (batched with other tasks') before the task counts as
            # done. It is handed over after the next task's worker is started: the
            # writer thread, once woken, competes with the loop for the GIL.
            self._syncing += 1
            synced = functools.partial(self._synced, task, host, outcome)
            return functools.partial(INDEX_WRITER.submit, outcome.index, synced)
        if self.active:
            self._on_outcome(task, host, outcome)
        return None

    def _synced(self, task: Task, host: str, outcome: RunDone, exc: Exception | None) -> None:
        """The index of a task that sent DONE is on disk and fsynced (or could not be)."""
        self._syncing -= 1
        if not self._syncing and self._synced_all is not None:
            if not self._synced_all.done():
                self._synced_all.set_result(None)
            self._synced_all = None
        if not self.active:
            return
        if exc is None:
            self._on_outcome(task, host, outcome)
        elif isinstance(exc, OSError):
            self._on_outcome(task, host, RunError(f"Could not save the results index: {exc}"))
        else:
            self._on_outcome(
                task, host, RunFatal(f"Internal error saving the results index: {exc!r}")
            )

    async def _prepare(self, host: str) -> Launch | Outcome:
        """The job home on ``host`` (extracted once) and what its runs share; or why not."""
        assert self.ctx is not None and self.jobdict is not None and self.homes is not None
        settings = self.ctx.settings
        home = job_home(settings.data_dir, host, self.name)
        worker = os.path.normpath(os.path.join(home, self.jobdict.worker))
        if not worker.startswith(str(home) + os.sep):
            return RunFatal(
                f"The job's worker {self.jobdict.worker!r} is not a path inside the job home."
            )
        error = await self.homes.ensure(home)
        if error is not None:
            return RunFatal(error)
        launch = self._launches.get(host)
        if launch is None:
            scheduler = self.jobdict.raw.get("scheduler")
            launch = self._launches[host] = Launch.make(
                settings,
                host=host,
                home=home,
                worker=worker,
                jobname=self.name,
                master_url=self.ctx.master_url,
                disco_port=self.ctx.disco_port,
                environ=os.environ,
                envs=self.envs,
                job_task_timeout=(
                    scheduler.get("task_timeout") if isinstance(scheduler, dict) else None
                ),
            )
        return launch

    def _task_run(self, task: Task, launch: Launch) -> TaskRun:
        run = TaskRun(
            argv=launch.argv,
            home=launch.home,
            env=launch.env,
            info=TaskInfo(
                taskid=task.taskid,
                stage=task.stage.name,
                grouping=task.stage.grouping,
                group=task.group,
                **launch.info,
            ),
            task=task,
            emit=self.emit,
            timers=launch.timers,
            records=self.ctx.worker_records if self.ctx is not None else None,
            nice=launch.nice,
        )
        task.run = run
        return run

    def _on_outcome(self, task: Task, host: str, outcome: Outcome) -> None:
        assert self.ctx is not None
        node = self.ctx.scheduler.nodes.get(host)
        if isinstance(outcome, RunDone):
            if node:
                node.job_ok += 1
            self.emit(f"SYS: [{task.tag}] Received results from {host}")
            task.outputs = outcome.outputs
            task.state = TaskState.DONE
            nxt = task.stage.index + 1
            if nxt < len(self.stages) and self.stages[nxt].concurrent and task.outputs:
                refs = [OutputRef((task.taskid, n), o) for n, o in enumerate(task.outputs)]
                self._feed_concurrent(nxt, refs)
            self._check_finished(task.stage.index)
        elif isinstance(outcome, RunError):
            if node:
                node.data_error += 1
            self._retry(task, host, outcome.reason)
        else:
            if node:
                node.error += 1
            task.stage.failed += 1  # jobinfo counts the failure that killed the job too
            self.emit(f"FATAL: [{task.tag}] {outcome.reason}", host)
            self.fail()
        self.pump()

    def _retry(self, task: Task, host: str, reason: str) -> None:
        assert self.ctx is not None
        self.emit(f"WARNING: [{task.tag}] {reason}", host)
        task.failures += 1
        task.stage.failed += 1
        limit = self.ctx.settings.max_failure_rate
        if task.failures > limit:
            self.emit(
                f"ERROR: [{task.tag}] Task {task.tag} failed {task.failures} times. "
                f"At most {limit} failures are allowed."
            )
            self.fail()
            return
        delay = self.ctx.settings.retry_delay
        if delay is None:
            delay = min(task.failures, 60) + random.uniform(0.001, 30.0)
        self.emit(
            f'Task {task.tag} failed on "{host}", {task.failures}th failures so far. '
            f"Sleeping {delay:g} seconds before retrying."
        )
        task.failed_hosts.add(host)
        task.state = TaskState.SLEEPING

        def wake() -> None:
            if self.active and task.state is TaskState.SLEEPING:
                self._queue(task)

        if delay <= 0:
            wake()
        else:
            self._timers.append(asyncio.get_running_loop().call_later(delay, wake))

    async def _save_results(self, stage: StageProgress) -> None:
        """save_results (facts §5.5): the last stage's local files become DDFS blobs and the
        job's result the tag ``disco:results:<job>``. A failure fails the job, where Disco
        leaves it active forever."""
        assert self.ctx is not None
        ctx = self.ctx
        try:
            files, remote = await sort_outputs(
                self.name,
                stage.tasks,
                lambda url: node_file(url, ctx.scheduler.nodes, ctx.settings.data_dir),
            )
            self.results_tag = await ctx.ddfs.save_results(self.name, files, remote)
        except Exception as exc:
            self.emit(
                f"ERROR: Job {self.name} failed to save results to "
                f"tag://{results_tag(self.name)}: {exc}"
            )
            self.fail()
            return
        if self.active:
            self._ready()

    # -- ending --------------------------------------------------------------------------------

    def _ready(self) -> None:
        self.status = "ready"
        self.emit(f"READY: Job done in {format_duration(time.monotonic() - self._start)}")
        self._end()

    def fail(self) -> None:
        """End the job as dead: cancel queued, sleeping and running tasks."""
        if not self.active:
            return
        self.status = "dead"
        self._end()

    def kill(self) -> None:
        """``kill_job``: log ``WARN: Job killed`` and end the job as dead."""
        if self.active:
            self.emit("WARN: Job killed")
            self.fail()

    def _end(self) -> None:
        if self.homes is not None:
            self.homes.cancel()
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for task in self.tasks:
            if task.state is not TaskState.DONE:
                task.state = TaskState.CANCELLED
            if task.run is not None:
                task.run.kill()
        if self.ctx is not None:
            self.ctx.scheduler.withdraw(lambda t: getattr(t, "jobname", None) == self.name)
        for run in list(self._runs):
            if run is not asyncio.current_task():
                run.cancel()
        self.save()
        self.events.close()  # reopened if anything is logged later
        for wake in list(self.end_watchers):
            wake()
        if self.ctx is not None:
            self.ctx.job_finished(self)

    async def wait_runs(self) -> None:
        """Wait until every cancelled run has killed its worker."""
        runs: list[asyncio.Future[Any]] = [r for r in self._runs if r is not asyncio.current_task()]
        if self.homes is not None:
            runs.extend(self.homes.pending())
        if self._syncing:
            if self._synced_all is None or self._synced_all.done():
                self._synced_all = asyncio.get_running_loop().create_future()
            runs.append(self._synced_all)
        if runs:
            await asyncio.gather(*runs, return_exceptions=True)
