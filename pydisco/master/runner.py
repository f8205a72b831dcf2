"""One run of one task: a worker subprocess and the master side of its protocol.

The worker is started in its own session (so its whole process group can be
killed), with stdout and stderr merged into one protocol stream and stdin
carrying the replies. :class:`MasterSession` parses the stream; this module
owns the pipe, the clock and the timers (facts §1.3, §2.8, §2.9), and turns
every way a worker can end into one :class:`Outcome`:

* :class:`RunDone` - DONE, with the task's outputs (facts §5.4);
* :class:`RunError` - the task failed and may be retried;
* :class:`RunFatal` - the whole job must stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, TypeAlias

import attrs

from pydisco.master.grouping import DataOutput, DirOutput, Output, TaskInput
from pydisco.master.layout import format_duration, job_url_prefix, join_local
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
    "Timers",
    "WorkerRun",
    "classify_output",
]


@attrs.frozen
class IndexFile:
    """A results index to write: its path (a plain string: no pathlib per task) and its lines."""

    path: str
    data: bytes

    def write_unsynced(self) -> int:
        """Write the index; returns its still open descriptor, for the caller to fsync.

        Disco fsyncs the index at DONE: :func:`write_indexes` does, before the
        task counts as done.
        """
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o666)
        except FileNotFoundError:  # the first index of this job home
            with contextlib.suppress(FileExistsError):
                os.mkdir(os.path.dirname(self.path))
            fd = os.open(self.path, flags, 0o666)
        try:
            view = memoryview(self.data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            raise
        return fd


#: What an index write ended with: None once it is on disk and fsynced.
IndexDone: TypeAlias = Callable[[Exception | None], None]


class IndexWriter:
    """One thread that writes and fsyncs results indexes, in batches.

    Indexes of tasks that finish while it is busy are written together, then
    fsynced one by one (the first journal commit carries the others), and their
    completions go back to each loop with one ``call_soon_threadsafe`` per batch:
    fewer thread hand-offs and loop wake-ups than one executor future per task.
    A completion runs only after its file is fsynced, with the error if any.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[IndexFile, asyncio.AbstractEventLoop, IndexDone]]
        self._queue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, index: IndexFile, done: IndexDone) -> None:
        """Write ``index``; ``done(error)`` is called on the running loop once it is fsynced."""
        self._queue.put((index, asyncio.get_running_loop(), done))
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._serve, name="pydisco-index", daemon=True
                    )
                    self._thread.start()

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                errors = write_indexes([index for index, _, _ in batch])
            except Exception as exc:  # never let the writer die: every later index would hang
                errors = [exc] * len(batch)
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[IndexDone, Exception | None]]]
            by_loop = {}
            for (_, loop, done), error in zip(batch, errors, strict=True):
                by_loop.setdefault(loop, []).append((done, error))
            for loop, completions in by_loop.items():
                # A closed loop has stopped caring (its jobs ended with it).
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_complete, completions)


def write_indexes(indexes: Sequence[IndexFile]) -> list[Exception | None]:
    """Write every index, then fsync each; per index, None or what went wrong."""
    errors: list[Exception | None] = [None] * len(indexes)
    fds: list[int] = [-1] * len(indexes)
    for n, index in enumerate(indexes):
        try:
            fds[n] = index.write_unsynced()
        except Exception as exc:
            errors[n] = exc
    for n, fd in enumerate(fds):
        if fd < 0:
            continue
        try:
            os.fsync(fd)
        except Exception as exc:
            errors[n] = exc
        try:
            os.close(fd)
        except OSError as exc:
            errors[n] = errors[n] or exc
    return errors


def _complete(completions: list[tuple[IndexDone, Exception | None]]) -> None:
    for done, error in completions:
        done(error)


#: The results-index writer of every master in the process.
INDEX_WRITER = IndexWriter()


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


class Records(Protocol):
    """Where running workers are recorded, so a restarted master can kill survivors."""

    def add(self, pid: int) -> None: ...

    def remove(self, pid: int) -> None: ...


class TaskInputs(Protocol):
    """What a run reads from its task: the inputs so far, and whether they are complete."""

    inputs: list[TaskInput]
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
#: Killed workers not yet reaped (waited for), and the loop that polls each.
_UNREAPED: dict[subprocess.Popen[bytes], asyncio.AbstractEventLoop] = {}
#: Loops whose reaping poll is armed.
_REAPING: set[asyncio.AbstractEventLoop] = set()
#: Workers being started in a thread (their file was busy), by the future their run awaits.
_STARTING: set[asyncio.Future[subprocess.Popen[bytes]]] = set()
#: Starting a worker whose file is busy is retried for about twice this many seconds.
TEXT_BUSY_PATIENCE = 1.0
#: Threads starting workers whose file was busy (shared by every master in the process).
SPAWN_THREADS = 4
#: How often killed workers are polled for their exit.
REAP_INTERVAL = 0.01

_Popen: TypeAlias = Callable[[], "subprocess.Popen[bytes]"]


class _Spawner:
    """Threads that start the workers whose file was busy (the loop starts the others).

    They wait out ``ETXTBSY`` without blocking the loop, and never queue behind
    results-index fsyncs.

    Each started worker goes back to its loop with one ``call_soon_threadsafe``
    onto a plain future (no executor future, ``wrap_future`` chain or shield).
    """

    def __init__(self, threads: int) -> None:
        self._queue: queue.SimpleQueue[
            tuple[_Popen, asyncio.AbstractEventLoop, asyncio.Future[subprocess.Popen[bytes]]]
        ] = queue.SimpleQueue()
        self._threads = threads
        self._started = False
        self._lock = threading.Lock()

    def submit(
        self,
        popen: _Popen,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[subprocess.Popen[bytes]],
    ) -> None:
        """Run ``popen`` in a thread; its worker (or error) settles ``future`` on ``loop``."""
        self._queue.put((popen, loop, future))
        if not self._started:
            with self._lock:
                if not self._started:
                    for n in range(self._threads):
                        name = f"pydisco-spawn_{n}"
                        threading.Thread(target=self._serve, name=name, daemon=True).start()
                    self._started = True

    def _serve(self) -> None:
        while True:
            popen, loop, future = self._queue.get()
            proc: subprocess.Popen[bytes] | None = None
            error: Exception | None = None
            try:
                proc = popen()
            except Exception as exc:
                error = exc
            try:
                loop.call_soon_threadsafe(_settle, future, proc, error)
            except RuntimeError:  # the loop is closed: nobody will talk to this worker
                _STARTING.discard(future)
                if proc is not None:
                    _kill(proc)
                    proc.wait()


_SPAWNER = _Spawner(SPAWN_THREADS)


def _settle(
    future: asyncio.Future[subprocess.Popen[bytes]],
    proc: subprocess.Popen[bytes] | None,
    error: Exception | None,
) -> None:
    """On the loop: hand the started worker to its run, or kill it if the run was cancelled."""
    _STARTING.discard(future)
    if future.cancelled():
        if proc is not None:
            _discard(proc, future.get_loop())
    elif proc is not None:
        future.set_result(proc)
    else:
        assert error is not None
        future.set_exception(error)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc``'s process group and close our ends of its pipes."""
    _killpg(proc)
    _close_pipes(proc)


def _killpg(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker's whole process group (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def _discard(proc: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop) -> None:
    """Kill and reap a worker whose run was cancelled while it was being started."""
    _kill(proc)
    _reap_later(proc, loop)


def _reap_later(proc: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop) -> None:
    """Collect ``proc``'s exit (it was sent SIGKILL) without a task or a pidfd per worker.

    One poll per loop every :data:`REAP_INTERVAL` serves all its killed workers.
    """
    if proc.poll() is not None:
        return
    _UNREAPED[proc] = loop
    if loop not in _REAPING:
        _REAPING.add(loop)
        loop.call_later(REAP_INTERVAL, _reap_tick, loop)


def _reap_tick(loop: asyncio.AbstractEventLoop) -> None:
    left = False
    for proc, owner in list(_UNREAPED.items()):
        if owner is loop:
            if proc.poll() is None:
                left = True
            else:
                del _UNREAPED[proc]
    if left:
        loop.call_later(REAP_INTERVAL, _reap_tick, loop)
    else:
        _REAPING.discard(loop)


async def reap_all() -> None:
    """Wait until every killed worker has been reaped (call before closing the loop)."""
    mine = asyncio.get_running_loop()
    # Snapshots (C-level copies): other masters' threads change these sets meanwhile.
    while any(f.get_loop() is mine for f in list(_STARTING)):
        await asyncio.sleep(REAP_INTERVAL)  # their workers are killed as they settle
    while _UNREAPED:
        for proc in list(_UNREAPED):
            if proc.poll() is not None:
                _UNREAPED.pop(proc, None)
        if _UNREAPED:
            await asyncio.sleep(REAP_INTERVAL)


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


class WorkerRun:
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
    ) -> None:
        self.argv = list(argv)
        self.records = records
        self.home = home
        self.env = env
        self.info = info
        self.task = task
        self._emit_event = emit
        self.timers = timers
        self.tag = f"{info.stage}:{info.taskid}"
        self.session = MasterSession(Profile.DISCO_054)
        self.throttle = MsgThrottle()
        self._inbox = _Inbox()
        self._proc: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._out_fd = -1  # the worker's merged stdout and stderr (non-blocking)
        self._in_fd = -1  # the worker's stdin (non-blocking)
        self._unsent = bytearray()  # replies the pipe could not take yet
        self._withheld: InputRequest | None = None
        self._eof = False
        self._failed_replicas: dict[int, dict[int, float]] = {}
        self._remote: list[DataOutput] = []
        self._index_lines: list[str] = []
        self._index_name = ""
        self._label_sizes: dict[int, int] = {}
        self._started = 0.0
        self.pid: int | None = None

    # -- public -------------------------------------------------------------------------------

    def wake(self) -> None:
        """The task's inputs changed: re-check a withheld INPUT."""
        self._inbox.put(_WAKE)

    async def run(self) -> Outcome:
        """Start the worker, converse, and always kill its process group at the end."""
        self._started = time.monotonic()
        try:
            await self._spawn()
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
        try:
            return await self._converse()
        finally:
            self.kill()
            if self.records is not None and self.pid is not None:
                self.records.remove(self.pid)
            # The slot is free as soon as SIGKILL is sent; reaping happens meanwhile.
            self._close()
            if self._proc is not None and self._loop is not None:
                _reap_later(self._proc, self._loop)

    async def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            # On the loop: Popen uses vfork, so it returns as soon as the worker has
            # exec'd (a fraction of a millisecond). That costs less, in CPU and in wall
            # time, than a hand-off to a thread and back (bench/README.md, "Master").
            proc = self._popen_once()
        except OSError as exc:
            if exc.errno != errno.ETXTBSY:
                raise
            proc = await self._spawn_in_thread(loop)
        self._proc = proc
        self.pid = proc.pid
        if self.records is not None:
            self.records.add(proc.pid)
        assert proc.stdout is not None and proc.stdin is not None
        # The pipes are read and written directly from the loop (no transports): a
        # worker's whole conversation is a few small frames each way.
        self._out_fd = proc.stdout.fileno()
        self._in_fd = proc.stdin.fileno()
        os.set_blocking(self._out_fd, False)
        os.set_blocking(self._in_fd, False)
        self._loop = loop
        loop.add_reader(self._out_fd, self._readable)

    async def _spawn_in_thread(self, loop: asyncio.AbstractEventLoop) -> subprocess.Popen[bytes]:
        """Start the worker from a thread that waits out a busy worker file (``ETXTBSY``)."""
        spawned: asyncio.Future[subprocess.Popen[bytes]] = loop.create_future()
        _STARTING.add(spawned)
        _SPAWNER.submit(self._popen, loop, spawned)
        try:
            return await spawned
        except asyncio.CancelledError:
            # The job ended meanwhile. Still starting: _settle kills the worker once it
            # is there. Already handed over (the cancel came first): kill it now.
            if spawned.done() and not spawned.cancelled() and spawned.exception() is None:
                _discard(spawned.result(), loop)
            raise

    def _popen(self) -> subprocess.Popen[bytes]:
        """Start the worker (in a thread), retrying while its file is busy.

        ``ETXTBSY``: a process forked by another thread (another worker being
        started while this job home was extracted) may briefly hold the worker
        file open for writing, until it execs; the file is complete, so waiting
        a little is enough.
        """
        delay = 0.001
        while True:
            try:
                return self._popen_once()
            except OSError as exc:
                if exc.errno != errno.ETXTBSY or delay > TEXT_BUSY_PATIENCE:
                    raise
            time.sleep(delay)
            delay *= 2

    def _popen_once(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv,
            bufsize=0,
            cwd=self.home,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _readable(self) -> None:
        try:
            data = os.read(self._out_fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the end of the stream: b"" tells the conversation
            self._stop_reading()
        self._inbox.put(data)

    def _stop_reading(self) -> None:
        if self._out_fd >= 0 and self._loop is not None:
            self._loop.remove_reader(self._out_fd)
            self._out_fd = -1

    def _close(self) -> None:
        self._stop_reading()
        if self._in_fd >= 0 and self._unsent and self._loop is not None:
            self._loop.remove_writer(self._in_fd)
        self._in_fd = -1
        self._unsent.clear()
        if self._proc is not None:
            _close_pipes(self._proc)

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (it leads its own session)."""
        if self._proc is not None:
            _killpg(self._proc)

    # -- the stream ---------------------------------------------------------------------------

    async def _exit_code(self) -> int | None:
        """The worker's exit status, once it exits (within the drain time); None if it lingers."""
        proc = self._proc
        if proc is None:
            return None
        deadline = time.monotonic() + max(self.timers.drain, 1.0)
        while (code := proc.poll()) is None and time.monotonic() < deadline:
            await asyncio.sleep(REAP_INTERVAL)
        return code

    def _emit(self, text: str) -> None:
        self._emit_event(text, self.info.host)

    def _warn(self, text: str) -> None:
        self._emit(f"WARNING: [{self.tag}] {text}")

    def _send(self, data: bytes) -> None:
        """Write a reply; what the pipe cannot take now is written when it can.

        A dead worker shows as the end of its output stream, so errors here are
        ignored.
        """
        if self._in_fd < 0:
            return
        if self._unsent:
            self._unsent += data
            return
        try:
            sent = os.write(self._in_fd, data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return
        if sent < len(data):
            self._unsent += data[sent:]
            assert self._loop is not None
            self._loop.add_writer(self._in_fd, self._writable)

    def _writable(self) -> None:
        try:
            sent = os.write(self._in_fd, self._unsent)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            sent = len(self._unsent)
        del self._unsent[:sent]
        if not self._unsent and self._loop is not None:
            self._loop.remove_writer(self._in_fd)

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
        code = await self._exit_code()
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
                code = await self._exit_code()
                self._warn(f"Worker crashed! (exit code: {code})")
                break
            buffer += item
        cause = f"could not parse worker event: {exc.kind.value} ({exc.message})"
        return RunError(died(cause, bytes(buffer)))

    def _handle(self, message: object) -> Outcome | None:
        """Answer one message, or end the run (MSG, which may have to wait, is not here)."""
        if isinstance(message, Worker):
            self._send(self.session.send(Ok("ok")))
        elif isinstance(message, TaskRequest):
            self._send(self.session.send(TaskReply(self.info)))
        elif isinstance(message, InputRequest):
            if not self._answer_input(message):
                self._withheld = message
        elif isinstance(message, InputErr):
            self._send(self.session.send(self._input_err(message)))
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
            self._send(self.session.send(Ok("pong")))
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
        self._send(self.session.send(reply))
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
        self._send(self.session.send(Ok("ok")))
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
        self._send(self.session.send(Ok("ok")))
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
