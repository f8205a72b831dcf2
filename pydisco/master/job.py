"""A job: its stages and tasks, and the coordinator that moves it along.

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
import contextlib
import enum
import functools
import os
import random
import shutil
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from pydisco.ddfsnames import results_tag
from pydisco.jobpack import ExtractionCancelled, JobDict, JobPackError, extract_jobhome
from pydisco.master.config import MasterSettings
from pydisco.master.ddfs import Ddfs
from pydisco.master.events import EventLog
from pydisco.master.grouping import (
    DataOutput,
    DirOutput,
    GroupKey,
    Output,
    OutputRef,
    TaskInput,
    group_outputs,
    output_urls,
)
from pydisco.master.indexwriter import INDEX_WRITER
from pydisco.master.layout import atomic_write, format_duration, hexhash, job_home, url_host
from pydisco.master.scheduler import Scheduler
from pydisco.master.taskrun import (
    Outcome,
    Records,
    RunDone,
    RunError,
    RunFatal,
    TaskRun,
    Timers,
)
from pydisco.protocol import TaskInfo, jsoncodec
from pydisco.resultsindex import parse_index

__all__ = ["Job", "JobContext", "Stage", "Task", "TaskState"]

STATE_FILE = "state.json"


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

    def job_finished(self, job: Job) -> None: ...


class TaskState(enum.Enum):
    """Where a task stands."""

    NEW = "new"  # created, held back (max_cores or concurrent limits)
    QUEUED = "queued"  # handed to the scheduler, waiting for a slot
    RUNNING = "running"
    SLEEPING = "sleeping"  # failed, waiting to be retried
    DONE = "done"
    CANCELLED = "cancelled"

    # Members are singletons compared by identity: the identity hash is C-level, while
    # Enum's own hashes the name in Python (stage counts are keyed by state per change).
    __hash__ = object.__hash__


ACTIVE_STATES = (TaskState.QUEUED, TaskState.RUNNING, TaskState.SLEEPING)


@attrs.define(eq=False)
class Task:
    """One task: a group of inputs for one stage, run (and re-run) until it is done."""

    taskid: int
    stage: Stage
    group: tuple[int, str]
    jobname: str
    inputs: list[TaskInput] = attrs.field(factory=list)
    inputs_done: bool = True
    _state: TaskState = TaskState.NEW
    failures: int = 0
    runs: int = 0
    failed_hosts: set[str] = attrs.field(factory=set)
    host: str = ""
    outputs: tuple[Output, ...] = ()
    run: TaskRun | None = None
    _keys: set[tuple[Any, ...]] = attrs.field(factory=set)

    @property
    def state(self) -> TaskState:
        """Where the task stands (the stage keeps count of its tasks per state)."""
        return self._state

    @state.setter
    def state(self, new: TaskState) -> None:
        counts = self.stage.counts
        counts[self._state] -= 1
        counts[new] += 1
        self._state = new

    @property
    def tag(self) -> str:
        """``<stage>:<taskid>`` as events name it."""
        return f"{self.stage.name}:{self.taskid}"

    def add_inputs(self, inputs: list[TaskInput]) -> bool:
        """Add inputs not already held; True if any was new."""
        added = False
        for item in inputs:
            key = (item.source, item.label)
            if key not in self._keys:
                self._keys.add(key)
                self.inputs.append(item)
                added = True
        return added

    def preferred_hosts(self) -> list[str]:
        """The group host, then input hosts in input order (first run only)."""
        if self.runs:
            return []
        hosts = [self.group[1]] if self.group[1] else []
        for item in self.inputs:
            hosts.extend(url_host(url) for url in item.urls)
        return [h for h in hosts if h]

    def avoided_hosts(self) -> set[str]:
        """Hosts where this task failed."""
        return self.failed_hosts


@attrs.define(eq=False)
class Stage:
    """One pipeline stage and its tasks."""

    index: int
    name: str
    grouping: str
    concurrent: bool
    tasks: list[Task] = attrs.field(factory=list)
    groups: dict[GroupKey, Task] = attrs.field(factory=dict)
    started: bool = False
    finished: bool = False
    start_time: float = 0.0
    failed: int = 0
    counts: Counter[TaskState] = attrs.field(factory=Counter)
    #: Tasks not yet handed to the scheduler, in task order.
    new_tasks: deque[Task] = attrs.field(factory=deque)

    def count(self, *states: TaskState) -> int:
        """Tasks of this stage in any of ``states``."""
        return sum(self.counts[s] for s in states)

    def add(self, task: Task) -> None:
        """Add a new task."""
        self.tasks.append(task)
        self.counts[task.state] += 1
        self.new_tasks.append(task)

    def results(self) -> list[list[str]]:
        """One replica list per output of every task, in task order."""
        return [output_urls(out) for task in self.tasks for out in task.outputs]


@attrs.frozen
class _Launch:
    """How this job starts workers on one host (its job home is extracted)."""

    argv: list[str]
    home: Path
    env: dict[str, str]
    #: TASK fields other than the task's own (id, stage, grouping, group).
    info: dict[str, Any]
    timers: Timers


class Job:
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
        self.stages: list[Stage] = []
        if jobdict is not None:
            self.stages = [
                Stage(i, s.name, s.grouping.value, s.concurrent and i > 0)
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
        #: One job home is made at a time; the first one's path and entries, once made.
        self._home_lock = asyncio.Lock()
        self._first_home: tuple[Path, list[str]] | None = None
        #: Set when the job ends: an extraction in flight stops and removes what it wrote.
        self._cancel = threading.Event()
        self._extractions: set[asyncio.Future[list[str]]] = set()
        #: Why the job home could not be extracted; never tried again.
        self._home_error: str | None = None
        self._launches: dict[str, _Launch] = {}
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
        with contextlib.suppress(OSError):
            atomic_write(self.dir / STATE_FILE, jsoncodec.dumps(self.to_record()))

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

    def _new_task(self, stage: Stage, group: tuple[int, str], inputs: list[TaskInput]) -> Task:
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

    def _running(self, stage: Stage) -> int:
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

    async def _run_task(self, task: Task, host: str) -> None:
        if not self.active or task.state is not TaskState.QUEUED:
            return
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
            if isinstance(launch, _Launch):
                outcome = await self._worker_run(task, launch).run()
            else:
                outcome = launch
        except asyncio.CancelledError:
            return
        except Exception as exc:  # a bug here must end the job, not leave it running forever
            outcome = RunFatal(f"Internal error while running the task: {exc!r}")
        finally:
            self._runs.discard(current)
            task.run = None
        if isinstance(outcome, RunDone) and outcome.index is not None:
            # The slot is free once the worker is gone; the index is written and fsynced
            # off the event loop (batched with other tasks') before the task counts as done.
            self._syncing += 1
            INDEX_WRITER.submit(outcome.index, functools.partial(self._synced, task, host, outcome))
        elif self.active:
            self._on_outcome(task, host, outcome)

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

    async def _prepare(self, host: str) -> _Launch | Outcome:
        """The job home on ``host`` (extracted once) and what its runs share; or why not."""
        assert self.ctx is not None and self.jobdict is not None
        settings = self.ctx.settings
        home = job_home(settings.data_dir, host, self.name)
        worker = os.path.normpath(os.path.join(home, self.jobdict.worker))
        if not worker.startswith(str(home) + os.sep):
            return RunFatal(
                f"The job's worker {self.jobdict.worker!r} is not a path inside the job home."
            )
        try:
            await self._ensure_home(host, home)
        except (OSError, JobPackError) as exc:
            # Not a task error: a retry would extract (and fail) again, so the job dies.
            if self._home_error is None:
                self._home_error = f"Jobpack extraction failed: {exc}"
        if self._home_error is not None:
            return RunFatal(self._home_error)
        return self._launches.get(host) or self._launch(host, home, worker)

    def _worker_run(self, task: Task, launch: _Launch) -> TaskRun:
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
        )
        task.run = run
        return run

    def _launch(self, host: str, home: Path, worker: str) -> _Launch:
        """What every run on ``host`` shares; made once the job home is there."""
        assert self.ctx is not None
        settings = self.ctx.settings
        argv = [worker] if settings.nice == 0 else ["nice", "-n", str(settings.nice), worker]
        env = worker_environment(os.environ)
        env.update(self.envs)
        info = {
            "master": self.ctx.master_url,
            "disco_port": self.ctx.disco_port,
            "put_port": settings.put_port,
            "ddfs_data": str(settings.ddfs_root),
            "disco_data": str(settings.data_dir),
            "jobfile": str(home / "jobfile"),
            "jobname": self.name,
            "host": host,
        }
        timers = Timers(
            settings.pid_timeout,
            settings.partial_timeout,
            settings.drain_timeout,
            self._task_timeout(settings.task_timeout),
            clock=settings.msg_clock,
        )
        launch = _Launch(argv, home, env, info, timers)
        self._launches[host] = launch
        return launch

    def _task_timeout(self, master: float | None) -> float | None:
        """The job's ``scheduler.task_timeout`` and the master's: the shorter one set."""
        assert self.jobdict is not None
        scheduler = self.jobdict.raw.get("scheduler")
        own = scheduler.get("task_timeout") if isinstance(scheduler, dict) else None
        limits = [float(t) for t in (own, master) if isinstance(t, (int, float)) and t]
        return min(limits) if limits else None

    async def _ensure_home(self, host: str, home: Path) -> None:
        """Make the job home on ``host`` (facts §7.7): extracted once per job, linked after.

        The first node to need it extracts the pack; every other node's home
        gets hard links to those files (a copy where links cannot be made), so
        a job home is decompressed and checked once, however many nodes run
        the job. A failure is kept and never retried. The work runs in a
        thread that the job's end stops (``_cancel``); :meth:`wait_runs` waits
        for it, so a killed job leaves nothing behind.
        """
        async with self._home_lock:
            if self._home_error is not None or (home / ".jobhome").exists():
                return
            if self._first_home is None:
                work = asyncio.to_thread(self._extract, home)
            else:
                work = asyncio.to_thread(self._clone, *self._first_home, home)
            extraction = asyncio.ensure_future(work)
            self._extractions.add(extraction)
            extraction.add_done_callback(self._extraction_done)
            names = await asyncio.shield(extraction)
            if self._first_home is None:
                self._first_home = (home, names)

    def _extraction_done(self, extraction: asyncio.Future[list[str]]) -> None:
        self._extractions.discard(extraction)
        if not extraction.cancelled():
            extraction.exception()  # retrieved here: the run awaiting it may be gone

    def _extract(self, home: Path) -> list[str]:
        """Extract the pack's job home into ``home``; returns the entry paths."""
        assert self.jobdict is not None and self.ctx is not None
        with self._fresh_home(home) as target:
            names = extract_jobhome(
                target,
                home,
                worker=self.jobdict.worker,
                cancel=self._cancel,
                **self.ctx.settings.jobhome_limits(),
            )
        return ["/".join(p for p in n.split("/") if p not in ("", ".")) for n in names]

    def _clone(self, source: Path, names: list[str], home: Path) -> list[str]:
        """Give ``home`` the files extracted into ``source``: hard links, else copies."""
        with self._fresh_home(home):
            for name in names:
                if self._cancel.is_set():
                    raise ExtractionCancelled(
                        f"The job home was being linked (at entry {name!r}) when its job "
                        "was killed; what was written is removed.",
                        entry=name,
                    )
                src, dst = source / name, home / name
                if src.is_dir():
                    dst.mkdir(parents=True, exist_ok=True)
                    continue
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copy2(src, dst)
        return names

    @contextlib.contextmanager
    def _fresh_home(self, home: Path) -> Iterator[Path]:
        """Create ``home`` with the job pack as ``jobfile``; yields the pack's path there.

        ``.jobhome`` marks it complete; on any failure what was made is removed.
        """
        fresh = not home.exists()
        home.mkdir(parents=True, exist_ok=True)
        target = home / "jobfile"
        try:
            if not target.exists():
                tmp = home / f"jobfile@{time.time_ns():x}"
                try:
                    os.link(self.pack_path, tmp)
                except OSError:
                    shutil.copyfile(self.pack_path, tmp)
                os.replace(tmp, target)
            yield target
            (home / ".jobhome").touch()
        except BaseException:
            if fresh:
                shutil.rmtree(home, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
            raise

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

    async def _save_results(self, stage: Stage) -> None:
        """save_results (facts §5.5): the last stage's local files become DDFS blobs and the
        job's result the tag ``disco:results:<job>``. A failure fails the job, where Disco
        leaves it active forever."""
        assert self.ctx is not None
        files: list[tuple[str, Path, str]] = []
        remote: list[list[str]] = []
        try:
            for task in stage.tasks:
                for output in task.outputs:
                    await self._saved_output(task, output, files, remote)
            self.results_tag = await self.ctx.ddfs.save_results(self.name, files, remote)
        except Exception as exc:
            self.emit(
                f"ERROR: Job {self.name} failed to save results to "
                f"tag://{results_tag(self.name)}: {exc}"
            )
            self.fail()
            return
        if self.active:
            self._ready()

    async def _saved_output(
        self,
        task: Task,
        output: DataOutput | DirOutput,
        files: list[tuple[str, Path, str]],
        remote: list[list[str]],
    ) -> None:
        """Sort one output into local files (by host, path and blob name) and remote URLs."""
        assert self.ctx is not None
        prefix = f"{self.name}:{task.taskid}:{task.runs}:"
        if isinstance(output, DirOutput):
            index = self._local_path(output.url)
            if index is None:
                remote.append([output.url])
                return
            text = await asyncio.to_thread(index.read_text, "utf-8")
            for line in text.splitlines():
                parts = line.split()
                if len(parts) < 2:
                    continue
                local = self._local_path(parts[1])
                if local is None:
                    remote.append([parts[1]])
                else:
                    files.append((url_host(parts[1]), local, prefix + local.name))
            return
        local = self._local_path(output.urls[0]) if output.urls else None
        if local is None:
            remote.append(list(output.urls))
        else:
            files.append((url_host(output.urls[0]), local, prefix + local.name))

    def _local_path(self, url: str) -> Path | None:
        """The file under the data directory a ``disco://``/``dir://`` URL of a node names."""
        assert self.ctx is not None
        host = url_host(url)
        rest = url.split("://", 1)[-1].partition("/")[2]
        if host not in self.ctx.scheduler.nodes or not rest.startswith("disco/"):
            return None
        data = self.ctx.settings.data_dir.resolve()
        path = (data / rest[len("disco/") :]).resolve()
        return path if path.is_relative_to(data) and path.is_file() else None

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
        self._cancel.set()
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
        runs.extend(self._extractions)
        if self._syncing:
            if self._synced_all is None or self._synced_all.done():
                self._synced_all = asyncio.get_running_loop().create_future()
            runs.append(self._synced_all)
        if runs:
            await asyncio.gather(*runs, return_exceptions=True)


#: Variables of the master's environment a worker never gets: Disco's own settings, and
#: every ``PYDISCO_*`` one (the master token among them) except the workers' settings.
HIDDEN_PREFIXES = ("DISCO_", "DDFS_", "PYDISCO_")
WORKER_PREFIX = "PYDISCO_WORKER_"


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The master's environment as workers inherit it (the job envs are added on top)."""
    return {
        k: v
        for k, v in environ.items()
        if not k.startswith(HIDDEN_PREFIXES) or k.startswith(WORKER_PREFIX)
    }


def hh_dir(root: Path, name: str) -> Path:
    """``<root>/<hh>/<name>``."""
    return root / hexhash(name) / name


def on_disk(root: Path) -> list[Path]:
    """Every master job dir under ``root``."""
    if not root.is_dir():
        return []
    found: list[Path] = []
    for hh in root.iterdir():
        if hh.is_dir() and len(hh.name) == 2:
            found.extend(d for d in hh.iterdir() if d.is_dir() and (d / "jobfile").exists())
    return found
