"""Nodes, slots, and which queued task runs where.

Placement (facts §10.1, §10.5): a task's first run prefers its group host when
that host is a node, else the first node holding one of its inputs; a task with
no such preference, or a re-run, takes the alphabetically first free node not
in its own failed-host list (reset once it would cover every node). A node with
a free slot and no queued work that prefers it may take a task waiting for a
busy node. Blacklisted nodes, nodes that are not connected and nodes that left
the table get no new tasks; tasks running there continue. When no node at all
can take tasks, each job with queued tasks is told once (``stalled``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Protocol

import attrs

__all__ = ["AfterRun", "NodeState", "Placeable", "Scheduler"]


@attrs.define
class NodeState:
    """One node: its slots, what runs there, and Disco's per-node counters."""

    name: str
    slots: int
    running: int = 0
    blacklisted: bool = False
    job_ok: int = 0
    data_error: int = 0
    error: int = 0
    tasks: list[str] = attrs.field(factory=list)
    connected: bool = True
    #: Why the node is not connected.
    reason: str = ""
    #: False once the node left the table (it stays listed while its tasks finish).
    in_table: bool = True

    @property
    def usable(self) -> bool:
        """Whether the node may be given new tasks at all."""
        return self.in_table and self.connected and not self.blacklisted and self.slots > 0

    @property
    def free(self) -> bool:
        """Whether a new task may start here now."""
        return self.usable and self.running < self.slots

    def why_unusable(self) -> str:
        """What keeps new tasks off this node ("" when nothing does)."""
        if not self.in_table:
            return "not in the node table"
        if not self.connected:
            return f"not connected: {self.reason}"
        if self.blacklisted:
            return "blacklisted"
        return "" if self.slots > 0 else "no slots"


class Placeable(Protocol):
    """What the scheduler needs to know about a queued task."""

    jobname: str

    def preferred_hosts(self) -> list[str]:
        """Hosts this run would like, best first (empty: any)."""

    def avoided_hosts(self) -> set[str]:
        """Hosts this run must not use (its failed hosts)."""


#: What a run may leave to do once its slot is given back (and the next task started).
AfterRun = Callable[[], None]
Starter = Callable[[Any, str], Coroutine[Any, Any, AfterRun | None]]
#: A node's connection state by name: ``(connected, reason)``.
LinkLookup = Callable[[str], tuple[bool, str]]
#: Told the names of jobs whose queued tasks no node can take, and why.
StallHandler = Callable[[list[str], str], None]


def _always_connected(_name: str) -> tuple[bool, str]:
    return True, ""


class Scheduler:
    """Hands queued tasks to free slots, in queue order."""

    def __init__(
        self,
        nodes: dict[str, int],
        blacklist: Iterable[str] = (),
        *,
        link: LinkLookup = _always_connected,
        stalled: StallHandler | None = None,
    ) -> None:
        self.nodes: dict[str, NodeState] = {}
        self.queue: list[Any] = []
        self._running: set[asyncio.Task[None]] = set()
        self._link = link
        self._on_stall = stalled
        #: Jobs already told that no node can take their tasks (until one of theirs starts).
        self._stalled: set[str] = set()
        self.apply(nodes, blacklist)

    def apply(self, nodes: dict[str, int], blacklist: Iterable[str]) -> None:
        """Make the node table current; running tasks keep their slots."""
        black = set(blacklist)
        kept = {}
        for name, slots in nodes.items():
            state = self.nodes.get(name) or NodeState(name, slots)
            state.slots = slots
            state.blacklisted = name in black
            state.in_table = True
            state.connected, state.reason = self._link(name)
            kept[name] = state
        for name, state in self.nodes.items():
            if name not in kept and state.running:
                state.in_table = False  # leaving the table: finish what runs, start nothing
                kept[name] = state
        self.nodes = kept
        self.schedule()

    def set_link(self, name: str, connected: bool, reason: str) -> None:
        """A node's connection state changed."""
        state = self.nodes.get(name)
        if state is not None:
            state.connected, state.reason = connected, reason
        self.schedule()

    def why_stalled(self) -> str:
        """Each node and what keeps tasks off it (when none can take any)."""
        if not any(s.in_table for s in self.nodes.values()):
            return "the node table is empty"
        return "; ".join(
            f"{name}: {state.why_unusable()}"
            for name, state in sorted(self.nodes.items())
            if state.in_table
        )

    def submit(self, task: Any, start: Starter) -> None:
        """Queue ``task``; ``start(task, host)`` runs it once a slot is found."""
        self.queue.append((task, start))
        self.schedule()

    def withdraw(self, predicate: Callable[[Any], bool]) -> None:
        """Remove queued tasks for which ``predicate`` is true."""
        kept = []
        for task, start in self.queue:
            if predicate(task):
                self._stalled.discard(task.jobname)
            else:
                kept.append((task, start))
        self.queue = kept

    def _candidates(self) -> list[str]:
        return sorted(n for n, s in self.nodes.items() if s.usable)

    def schedule(self) -> None:
        """Start as many queued tasks as there are free slots, in queue order."""
        if not self.queue:
            return
        candidates = self._candidates()
        if not candidates:
            self._stall()
            return
        free = [n for n in candidates if self.nodes[n].free]
        if not free:
            return
        known = set(candidates)
        waiting: list[tuple[Any, Starter]] = []
        queue = self.queue
        examined = 0
        for task, start in queue:
            examined += 1
            avoided = task.avoided_hosts()
            preferred = next(
                (h for h in task.preferred_hosts() if h in known and h not in avoided), None
            )
            if preferred is not None:
                host = preferred if preferred in free else None
            else:
                host = self._first_free(free, candidates, avoided)
            if host is None:
                waiting.append((task, start))
                continue
            self._start(task, start, host)
            if not self.nodes[host].free:
                free.remove(host)
                if not free:
                    break
        # In place (no copy of a long queue per call): drop what was examined; what
        # still waits goes back in front, in order.
        del queue[:examined]
        still = []
        for task, start in waiting:  # idle nodes take work waiting for busy ones
            host = self._first_free(free, candidates, task.avoided_hosts()) if free else None
            if host is None:
                still.append((task, start))
                continue
            self._start(task, start, host)
            if not self.nodes[host].free:
                free.remove(host)
        queue[:0] = still

    def _stall(self) -> None:
        """No node can take tasks: tell each waiting job once."""
        if self._on_stall is None:
            return
        fresh = []
        for task, _start in self.queue:
            name = task.jobname
            if name not in self._stalled:
                self._stalled.add(name)
                fresh.append(name)
        if fresh:
            self._on_stall(fresh, self.why_stalled())

    @staticmethod
    def _first_free(free: list[str], candidates: list[str], avoided: set[str]) -> str | None:
        """The first free node not avoided; avoidance is reset once it covers every node."""
        if avoided and all(n in avoided for n in candidates):
            avoided = set()
        return next((n for n in free if n not in avoided), None)

    def _start(self, task: Placeable, start: Starter, host: str) -> None:
        node = self.nodes[host]
        node.running += 1
        node.tasks.append(task.jobname)
        self._stalled.discard(task.jobname)
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            node.running -= 1
            if task.jobname in node.tasks:
                node.tasks.remove(task.jobname)
            if not node.in_table and not node.running and self.nodes.get(host) is node:
                del self.nodes[host]  # it left the table and its last task is over
            self.schedule()

        async def running() -> None:
            # The slot is given back in the run's last step, so the next task starts
            # one loop iteration sooner than from a done callback.
            after = None
            try:
                if not node.usable:
                    # The table changed (or the node was blacklisted or lost) between
                    # placing the task and its first step: place it again.
                    self.queue.insert(0, (task, start))
                    return
                after = await start(task, host)
            finally:
                release()
            if after is not None:
                # Queued behind the first step of the task that took the slot, so the
                # next worker is started before this run's leftover work (such as
                # waking the results-index thread, which then wants the GIL).
                asyncio.get_running_loop().call_soon(after)

        def finished(done: asyncio.Task[None]) -> None:
            self._running.discard(done)
            release()  # cancelled before its first step: the coroutine never ran

        run = asyncio.get_running_loop().create_task(running())
        self._running.add(run)
        run.add_done_callback(finished)

    async def drain(self) -> None:
        """Wait for every started run to end (after they were cancelled)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)
