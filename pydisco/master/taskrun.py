"""One task run: the master's side of one worker's conversation, over the protocol core.

:class:`MasterSession` (the sans-IO protocol core) parses what the worker
writes and encodes the replies; :class:`~pydisco.master.processes.WorkerProcess`
carries the bytes. This module holds the rest: the clock and the timers (facts
§1.3, §2.8, §2.9), the answers to each request, and the one :class:`Outcome`
every way a worker can end turns into:

* :class:`RunDone` - DONE, with the task's outputs (facts §5.4);
* :class:`RunError` - the task failed and may be retried;
* :class:`RunFatal` - the whole job must stop.
"""

from __future__ import annotations

import asyncio
import errno
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, TypeAlias

import attrs

from pydisco.master.grouping import AssignedInput, DataOutput, DirOutput, Output
from pydisco.master.indexwriter import IndexFile
from pydisco.master.layout import format_duration, job_url_prefix, join_local
from pydisco.master.processes import TEXT_BUSY_PATIENCE, WorkerProcess
from pydisco.protocol import (
    END_OF_STREAM,
    NEED_DATA,
    Done,
    Error,
    ErrorKind,
    Fail,
    Fatal,
    Input,
    InputErr,
    InputReply,
    InputRequest,
    InputStatus,
    MasterSession,
    Msg,
    MsgThrottle,
    Ok,
    Ping,
    Profile,
    RemoteProtocolError,
    Replica,
    Retry,
    TaskInfo,
    TaskReply,
    TaskRequest,
    ThrottleAction,
    Worker,
)
from pydisco.protocol import (
    Output as OutputMessage,
)
from pydisco.protocol.limits import LAST_WORDS_BYTES
from pydisco.protocol.messages import classify_output
from pydisco.resultsindex import IndexLineError, format_index_line

__all__ = [
    "Outcome",
    "Records",
    "RunDone",
    "RunError",
    "RunFatal",
    "TaskInputs",
    "TaskRun",
    "Timers",
    "died",
]


@attrs.frozen
class RunDone:
    """The worker sent DONE; ``outputs`` are numbered 0.. as Disco numbers them.

    ``index`` is the results index of the local outputs, still to be written
    (the caller writes it off the event loop before reporting the task done).
    """

    outputs: tuple[Output, ...]
    index: IndexFile | None = None


@attrs.frozen
class RunError:
    """The task failed; it may be retried."""

    reason: str


@attrs.frozen
class RunFatal:
    """The task failed so that the whole job must stop."""

    reason: str


Outcome: TypeAlias = RunDone | RunError | RunFatal


@attrs.frozen
class Timers:
    """Worker timers, in seconds (Disco's values by default).

    ``task`` (pydisco's ``task_timeout``; ``None``, Disco's behaviour, is no limit)
    bounds a whole run: past it the worker's process group is killed and the
    task fails, naming the timeout.
    """

    pid: float
    partial: float
    drain: float
    task: float | None = None
    #: What the MSG throttle takes as "now" (the master's ``msg_clock`` setting).
    clock: Callable[[], float] = time.monotonic
    #: A busy worker file (``ETXTBSY``) is retried for about twice this many seconds.
    busy: float = TEXT_BUSY_PATIENCE


class Records(Protocol):
    """Where running workers are recorded, so a restarted master can kill survivors."""

    def add(self, pid: int) -> None: ...

    def remove(self, pid: int) -> None: ...


class TaskInputs(Protocol):
    """What a run reads from its task: the inputs so far, and whether they are complete."""

    inputs: list[AssignedInput]
    inputs_done: bool


def _words(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    if len(text) > LAST_WORDS_BYTES:
        text = text[: LAST_WORDS_BYTES - 3] + "..."
    return text


def died(cause: str, last_words: bytes) -> str:
    """The reason of a worker that stopped speaking: Disco's prefix, plus the cause."""
    if not last_words:
        return f"Worker died without output: {cause}"
    return f"Worker died: {cause}. Last words:\n{_words(last_words)}"


_WAKE = object()


class _Inbox:
    """What the worker wrote (and wake-ups), taken one at a time by the conversation.

    A deque and one future: lighter than ``asyncio.Queue`` under ``wait_for``,
    and its timeout raises the builtin ``TimeoutError`` on every Python version.
    """

    def __init__(self) -> None:
        self._items: deque[object] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: object) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self, timeout: float | None) -> object:
        """The next item; TimeoutError if none comes within ``timeout`` seconds."""
        if not self._items:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        return self._items.popleft()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class TaskRun:
    """Start one worker for one task and converse with it until it ends."""

    def __init__(
        self,
        *,
        argv: Sequence[str],
        home: Path,
        env: Mapping[str, str],
        info: TaskInfo,
        task: TaskInputs,
        emit: Callable[[str, str], None],
        timers: Timers,
        records: Records | None = None,
        nice: int = 0,
    ) -> None:
        self.records = records
        self.home = home
        self.info = info
        self.task = task
        self._emit_event = emit
        self.timers = timers
        self.tag = f"{info.stage}:{info.taskid}"
        self.session = MasterSession(Profile.DISCO_054)
        self.throttle = MsgThrottle()
        self._inbox = _Inbox()
        self._process = WorkerProcess(
            argv, home, env, self._inbox.put, busy_patience=timers.busy, nice=nice
        )
        self._withheld: InputRequest | None = None
        self._eof = False
        self._failed_replicas: dict[int, dict[int, float]] = {}
        self._remote: list[DataOutput] = []
        self._index_lines: list[str] = []
        self._index_name = ""
        self._label_sizes: dict[int, int] = {}
        self._started = 0.0

    @property
    def pid(self) -> int | None:
        """The worker's process id, once it is started."""
        return self._process.pid

    def wake(self) -> None:
        """The task's inputs changed: re-check a withheld INPUT."""
        self._inbox.put(_WAKE)

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (it leads its own session)."""
        self._process.kill()

    async def run(self) -> Outcome:
        """Start the worker, converse, and always kill its process group at the end."""
        self._started = time.monotonic()
        try:
            await self._process.start()
        except OSError as exc:
            if exc.errno == errno.ENOEXEC:
                # Not a program at all (no "#!" line): it fails the same way on every node and
                # every retry, so the job stops now instead of after Disco's 100 delayed retries.
                return RunFatal(
                    f"Worker could not be started: {exc}. The master runs the worker file "
                    "directly, so it needs a '#!' line (such as '#!/usr/bin/env python3') or "
                    "must be a binary."
                )
            return RunError(f"Worker could not be started: {exc}")
        pid = self._process.pid
        try:
            if self.records is not None and pid is not None:
                self.records.add(pid)
            return await self._converse()
        finally:
            self._process.kill()
            if self.records is not None and pid is not None:
                self.records.remove(pid)
            # The slot is free as soon as SIGKILL is sent; reaping happens meanwhile.
            self._process.close()

    def _emit(self, text: str) -> None:
        self._emit_event(text, self.info.host)

    def _warn(self, text: str) -> None:
        self._emit(f"WARNING: [{self.tag}] {text}")

    # -- the conversation ---------------------------------------------------------------------

    async def _converse(self) -> Outcome:
        loop = asyncio.get_running_loop()
        session = self.session
        inbox = self._inbox
        got_bytes = False
        last_chunk = loop.time()
        limit = self.timers.task
        deadline = None if limit is None else loop.time() + limit
        while True:
            # Handle every message that can be handled now (inline: this runs per chunk).
            while True:
                if self._withheld is not None:
                    if not self._answer_input(self._withheld):
                        if self._eof:
                            return await self._crashed(session.unparsed)
                        break
                    self._withheld = None
                try:
                    event = session.next_event()
                except RemoteProtocolError as exc:
                    return await self._protocol_error(exc)
                if event is NEED_DATA:
                    break
                if event is END_OF_STREAM:
                    return await self._crashed(b"")
                if isinstance(event, Msg):
                    outcome = await self._msg(event)
                else:
                    outcome = self._handle(event)
                if outcome is not None:
                    return outcome
            timeout: float | None = None
            if not got_bytes:
                timeout = self.timers.pid - (loop.time() - last_chunk)
            elif self._withheld is None and session.unparsed:
                timeout = self.timers.partial - (loop.time() - last_chunk)
            if deadline is not None:
                left = deadline - loop.time()
                timeout = left if timeout is None else min(timeout, left)
            try:
                if timeout is not None and timeout <= 0:
                    raise TimeoutError
                item = await inbox.get(timeout)
            except TimeoutError:
                if deadline is not None and loop.time() >= deadline:
                    return self._task_timed_out()
                return self._timed_out()
            if item is _WAKE:
                continue
            assert isinstance(item, bytes)
            if item:
                got_bytes = True
                last_chunk = loop.time()
            else:
                self._eof = True
            session.receive_data(item)

    def _task_timed_out(self) -> Outcome:
        text = f"Task exceeded its task_timeout of {self.timers.task:g} seconds; killed"
        self._warn(text)
        return RunError(died(text, self.session.unparsed))

    def _timed_out(self) -> Outcome:
        if self.session.worker_pid is None:
            text = f"Worker did not send its PID in {self.timers.pid:g} seconds"
        else:
            text = "Worker stuck in the middle of a message"
        self._warn(text)
        return RunError(died(text, self.session.unparsed))

    async def _crashed(self, last_words: bytes) -> Outcome:
        code = await self._process.exit_code(max(self.timers.drain, 1.0))
        text = f"Worker crashed! (exit code: {code})"
        self._warn(text)
        return RunError(died(f"it exited (exit code: {code}) without sending DONE", last_words))

    async def _protocol_error(self, exc: RemoteProtocolError) -> Outcome:
        if exc.kind is ErrorKind.TRUNCATED:
            return await self._crashed(self.session.unparsed)
        if exc.kind.is_framing:
            return await self._drain(exc)
        name = exc.name or "?"
        body = exc.context.decode("utf-8", "replace")
        if exc.kind is ErrorKind.INVALID_JSON:
            text = f"Payload is not valid JSON: type '{name}', body:\n{body}"
        elif exc.kind is ErrorKind.UNKNOWN_MESSAGE:
            text = f"Unknown message type '{name}', body:\n{body}"
        elif exc.kind is ErrorKind.INVALID_VERSION:
            text = f"Invalid worker version: {exc.message}"
        else:
            text = f"Invalid message body (type '{name}'): {exc.message}"
        self._warn(text)
        return RunFatal(died(text, exc.context + self.session.unparsed))

    async def _drain(self, exc: RemoteProtocolError) -> Outcome:
        """After a framing error: collect the worker's last words, then fail the task."""
        self._warn(f"Could not parse worker event: {exc.kind.value}")
        buffer = bytearray(self.session.unparsed)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timers.drain
        while not self._eof:
            if len(buffer) >= LAST_WORDS_BYTES:
                break
            try:
                item = await self._inbox.get(max(0.0, deadline - loop.time()))
            except TimeoutError:
                self._warn("Worker did not exit properly after error")
                break
            if item is _WAKE:
                continue
            assert isinstance(item, bytes)
            if not item:
                self._eof = True
                code = await self._process.exit_code(max(self.timers.drain, 1.0))
                self._warn(f"Worker crashed! (exit code: {code})")
                break
            buffer += item
        cause = f"could not parse worker event: {exc.kind.value} ({exc.message})"
        return RunError(died(cause, bytes(buffer)))

    def _handle(self, message: object) -> Outcome | None:
        """Answer one message, or end the run (MSG, which may have to wait, is not here)."""
        if isinstance(message, Worker):
            self._process.send(self.session.send(Ok("ok")))
        elif isinstance(message, TaskRequest):
            self._process.send(self.session.send(TaskReply(self.info)))
        elif isinstance(message, InputRequest):
            if not self._answer_input(message):
                self._withheld = message
        elif isinstance(message, InputErr):
            self._process.send(self.session.send(self._input_err(message)))
        elif isinstance(message, OutputMessage):
            return self._output(message)
        elif isinstance(message, Done):
            return self._done()
        elif isinstance(message, Error):
            return RunError(message.text)
        elif isinstance(message, Fatal):
            return RunFatal(message.text)
        elif isinstance(message, Ping):
            # Disco 0.5.4 kills the job on PING (unknown message); we answer as documented.
            self._process.send(self.session.send(Ok("pong")))
        return None

    # -- INPUT and INPUT_ERR ------------------------------------------------------------------

    def _replicas(self, input_id: int, urls: Sequence[str]) -> tuple[Replica, ...]:
        failed = self._failed_replicas.get(input_id, {})
        order = sorted(range(len(urls)), key=lambda r: (r in failed, failed.get(r, 0.0), r))
        return tuple(Replica(r, urls[r]) for r in order)

    def _entry(self, input_id: int) -> Input:
        inputs = self.task.inputs
        if not 0 <= input_id < len(inputs):
            return Input(input_id, InputStatus.OK, 0, ())
        item = inputs[input_id]
        return Input(input_id, InputStatus.OK, item.label, self._replicas(input_id, item.urls))

    def _answer_input(self, request: InputRequest) -> bool:
        """Answer INPUT now if Disco would; False means the reply is withheld (facts §4.3)."""
        known = range(len(self.task.inputs))
        if request.mode == "include":
            ids = list(request.ids)
        elif request.mode == "exclude":
            excluded = set(request.ids)
            ids = [i for i in known if i not in excluded]
        else:
            ids = list(known)
        done = self.task.inputs_done
        if not ids and not done:
            return False
        reply = InputReply(done, tuple(self._entry(i) for i in ids))
        self._process.send(self.session.send(reply))
        return True

    def _input_err(self, message: InputErr) -> Retry | Fail:
        """The fixed INPUT_ERR logic (facts §4.5), without Disco 0.5.4's crash."""
        inputs = self.task.inputs
        if not 0 <= message.input_id < len(inputs):
            return Fail("")
        urls = inputs[message.input_id].urls
        failed = self._failed_replicas.setdefault(message.input_id, {})
        now = time.monotonic()
        for rep in message.replica_ids:
            if 0 <= rep < len(urls):
                failed[rep] = now
        listed = set(message.replica_ids)
        valid = [r for r in self._replicas(message.input_id, urls) if r.replica_id not in listed]
        if not valid:
            return Fail("")
        return Retry(tuple(valid))

    # -- MSG, OUTPUT, DONE --------------------------------------------------------------------

    async def _msg(self, message: Msg) -> Outcome | None:
        self._emit(f"MSG: [{self.tag}] {message.text}")
        verdict = self.throttle.on_msg(self.timers.clock())
        if verdict.action is ThrottleAction.FATAL:
            self._warn(verdict.warning)
            return RunFatal(died(verdict.warning, self.session.unparsed))
        if verdict.action is ThrottleAction.DELAY:
            await asyncio.sleep(verdict.delay)
        self._process.send(self.session.send(Ok("ok")))
        return None

    def _output(self, message: OutputMessage) -> Outcome | None:
        kind = classify_output(message.location)
        if kind == "invalid":
            return RunError(
                f"invalid_output: {message.location!r} is an absolute path; an output must be "
                "a path relative to the job home or a URL"
            )
        if kind == "remote":
            self._remote.append(DataOutput(message.label, message.size, (message.location,)))
        else:
            try:
                self._record_local(message)
            except IndexLineError as exc:
                return RunError(f"invalid_output: {message.location!r} cannot be indexed: {exc}")
        self._process.send(self.session.send(Ok("ok")))
        return None

    def _record_local(self, message: OutputMessage) -> None:
        # Lines are kept in memory and written (and fsynced) off the event loop at DONE:
        # the index means nothing before DONE, and a failed run's index is never used.
        host = self.info.host
        prefix = job_url_prefix(host, self.info.jobname)
        url = f"disco://{host}/{prefix}/{join_local(message.location)}"
        line = format_index_line(message.label, url, message.size)
        if not self._index_name:
            stamp = time.time_ns() // 1000
            self._index_name = f"{self.info.stage}-{self.info.taskid}-{stamp}.results"
        self._index_lines.append(line)
        self._label_sizes[message.label] = self._label_sizes.get(message.label, 0) + message.size

    def _done(self) -> Outcome:
        elapsed = format_duration(time.monotonic() - self._started)
        self._emit(f"DONE: [{self.tag}] Task finished in {elapsed}")
        outputs: list[Output] = []
        index = None
        if self._index_name:
            path = f"{self.home}/.disco/{self._index_name}"
            index = IndexFile(path, "".join(self._index_lines).encode())
            host = self.info.host
            url = f"dir://{host}/{job_url_prefix(host, self.info.jobname)}/.disco/"
            labels = tuple(sorted(self._label_sizes.items()))
            outputs.append(DirOutput(host, url + self._index_name, labels))
        outputs.extend(reversed(self._remote))
        return RunDone(tuple(outputs), index)
