"""Worker processes: started, fed, killed and reaped, with no thread or task per worker.

A worker runs in its own session (so its whole process group can be killed),
with stdout and stderr merged into one stream that the event loop reads
directly (``add_reader``), and stdin written from the loop as well. Nothing
here knows the protocol: :class:`WorkerProcess` hands every chunk it reads to
a callback and writes the bytes it is given.

* Starting: on the loop (``Popen`` uses vfork and returns once the worker has
  exec'd); a worker file that is busy (``ETXTBSY``) is waited out in one of a
  few shared threads, so the loop never sleeps.
* Ending: SIGKILL to the process group, pipes closed, and the exit collected
  by one poll per loop every :data:`REAP_INTERVAL` for all killed workers.
  :func:`reap_all` waits for that before a loop closes.
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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeAlias

__all__ = [
    "REAP_INTERVAL",
    "TEXT_BUSY_PATIENCE",
    "WorkerProcess",
    "reap_all",
    "unsettled",
]

#: Starting a worker whose file is busy is retried for about twice this many seconds.
TEXT_BUSY_PATIENCE = 1.0
#: Threads starting workers whose file was busy (shared by every master in the process).
SPAWN_THREADS = 4
#: How often killed workers are polled for their exit.
REAP_INTERVAL = 0.01

_Proc: TypeAlias = "subprocess.Popen[bytes]"
_Popen: TypeAlias = Callable[[], _Proc]

#: Killed workers not yet reaped (waited for), and the loop that polls each.
_UNREAPED: dict[subprocess.Popen[bytes], asyncio.AbstractEventLoop] = {}
#: Loops whose reaping poll is armed.
_REAPING: set[asyncio.AbstractEventLoop] = set()
#: Workers being started in a thread (their file was busy), by the future their run awaits.
_STARTING: set[asyncio.Future[subprocess.Popen[bytes]]] = set()


def unsettled() -> int:
    """Workers of this process still being started in a thread or not yet reaped."""
    return len(_STARTING) + len(_UNREAPED)


class WorkerProcess:
    """One worker process and our ends of its pipes, used from the event loop."""

    def __init__(
        self,
        argv: Sequence[str],
        home: Path,
        env: Mapping[str, str],
        deliver: Callable[[bytes], None],
        *,
        busy_patience: float = TEXT_BUSY_PATIENCE,
        nice: int = 0,
    ) -> None:
        self.argv = list(argv)
        #: Added to the worker's niceness once it is started (Disco runs ``nice -n 19``).
        self.nice = nice
        self.home = home
        self.env = env
        #: Called with every chunk the worker writes; ``b""`` once, at the end of its stream.
        self._deliver = deliver
        self._busy_patience = busy_patience
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._out_fd = -1  # the worker's merged stdout and stderr (non-blocking)
        self._in_fd = -1  # the worker's stdin (non-blocking)
        self._unsent = bytearray()  # what the pipe could not take yet

    async def start(self) -> None:
        """Start the worker and begin reading it; OSError if it cannot be started."""
        loop = asyncio.get_running_loop()
        try:
            # On the loop: Popen uses vfork, so it returns as soon as the worker has
            # exec'd (a fraction of a millisecond). That costs less, in CPU and in wall
            # time, than a hand-off to a thread and back (bench/README.md, "Master").
            proc = self._popen_once()
        except OSError as exc:
            if exc.errno != errno.ETXTBSY:
                raise
            proc = await self._start_in_thread(loop)
        if self.nice:
            _renice(proc.pid, self.nice)
        self._proc = proc
        self.pid = proc.pid
        assert proc.stdout is not None and proc.stdin is not None
        # The pipes are read and written directly from the loop (no transports): a
        # worker's whole conversation is a few small frames each way.
        self._out_fd = proc.stdout.fileno()
        self._in_fd = proc.stdin.fileno()
        os.set_blocking(self._out_fd, False)
        os.set_blocking(self._in_fd, False)
        self._loop = loop
        loop.add_reader(self._out_fd, self._readable)

    def send(self, data: bytes) -> None:
        """Write to the worker's stdin; what the pipe cannot take now is written when it can.

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

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (it leads its own session)."""
        if self._proc is not None:
            _killpg(self._proc)

    def close(self) -> None:
        """Stop reading and writing, close our pipe ends, and reap the (killed) worker."""
        self._stop_reading()
        if self._in_fd >= 0 and self._unsent and self._loop is not None:
            self._loop.remove_writer(self._in_fd)
        self._in_fd = -1
        self._unsent.clear()
        if self._proc is not None:
            _close_pipes(self._proc)
            if self._loop is not None:
                _reap_later(self._proc, self._loop)

    async def exit_code(self, patience: float) -> int | None:
        """The worker's exit status once it exits (within ``patience`` seconds); None if not."""
        proc = self._proc
        if proc is None:
            return None
        deadline = time.monotonic() + patience
        while (code := proc.poll()) is None and time.monotonic() < deadline:
            await asyncio.sleep(REAP_INTERVAL)
        return code

    # -- the pipes ----------------------------------------------------------------------------

    def _readable(self) -> None:
        try:
            data = os.read(self._out_fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the end of the stream: b"" tells the reader
            self._stop_reading()
        self._deliver(data)

    def _stop_reading(self) -> None:
        if self._out_fd >= 0 and self._loop is not None:
            self._loop.remove_reader(self._out_fd)
            self._out_fd = -1

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

    # -- starting -----------------------------------------------------------------------------

    async def _start_in_thread(self, loop: asyncio.AbstractEventLoop) -> subprocess.Popen[bytes]:
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
                if exc.errno != errno.ETXTBSY or delay > self._busy_patience:
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


def _renice(pid: int, nice: int) -> None:
    """Make the just started worker ``nice`` nicer than the thread that started it.

    The same as starting it under ``nice -n <nice>``, without a ``nice`` process
    per task. It happens before the worker is answered anything, so what the
    worker starts for its task inherits it. A niceness this user may not set
    (below its own) leaves the worker as it is, where the ``nice`` command would
    have written a warning into the protocol stream.
    """
    with contextlib.suppress(OSError):
        base = os.getpriority(os.PRIO_PROCESS, 0)  # this thread's (Linux: per thread)
        os.setpriority(os.PRIO_PROCESS, pid, max(-20, min(19, base + nice)))


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


# -- ending -----------------------------------------------------------------------------------


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
