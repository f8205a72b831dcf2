"""A job's state: its stages and tasks, and where each task stands.

The coordinator (:mod:`pydisco.master.job`) moves tasks between states; each
stage keeps count of its tasks per state, so progress questions (how many run,
is the stage finished) cost nothing per task.
"""

from __future__ import annotations

import enum
from collections import Counter, deque
from typing import Any

import attrs

from pydisco.master.grouping import AssignedInput, GroupKey, Output, output_urls
from pydisco.master.layout import url_host
from pydisco.master.taskrun import TaskRun

__all__ = ["ACTIVE_STATES", "StageProgress", "Task", "TaskState"]


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
    stage: StageProgress
    group: tuple[int, str]
    jobname: str
    inputs: list[AssignedInput] = attrs.field(factory=list)
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

    def add_inputs(self, inputs: list[AssignedInput]) -> bool:
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
class StageProgress:
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
