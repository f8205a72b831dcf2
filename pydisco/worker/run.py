"""``run_worker``: one task, from the WORKER handshake to DONE, ERROR or FATAL."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, Final, NoReturn

from pydisco.dataurls import shown_url
from pydisco.protocol.limits import PROTOCOL_VERSION
from pydisco.protocol.messages import (
    Done,
    Error,
    Fatal,
    Ok,
    Output,
    TaskInfo,
    TaskReply,
    TaskRequest,
    Worker,
)
from pydisco.worker.capture import MessagePump
from pydisco.worker.errors import DataError, WorkerError
from pydisco.worker.stdio import Channel, redirect_stdio
from pydisco.worker.task import TaskContext

__all__ = ["classify_failure", "failure_text", "run_task", "run_worker"]

#: How long to wait for a (lenient) master's OK after DONE, ERROR or FATAL.
FINAL_REPLY_WAIT_SECONDS: Final = 0.5
#: The most traceback text sent with ERROR or FATAL (events are cut at 8 KiB anyway).
MAX_FAILURE_TEXT: Final = 64 * 1024

#: Exceptions that mean "the data or the machine failed": the task may succeed on retry.
RETRYABLE: Final = (DataError, WorkerError, OSError, MemoryError, EOFError)


def classify_failure(exc: BaseException) -> type[Error] | type[Fatal]:
    """ERROR for data and I/O problems (Disco retries the task), FATAL for bugs."""
    return Error if isinstance(exc, RETRYABLE) else Fatal


def failure_text(exc: BaseException, info: TaskInfo | None, url: str | None) -> str:
    """The text of ERROR or FATAL: where it happened, then the traceback."""
    where = f"Task {info.stage}:{info.taskid}" if info is not None else "The worker"
    reading = f" while reading {shown_url(url)}" if url else ""
    import traceback  # only when something failed: it costs milliseconds of start-up

    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    text = f"{where} failed{reading}:\n{trace}".rstrip("\n")
    if len(text) > MAX_FAILURE_TEXT:
        keep = MAX_FAILURE_TEXT // 2
        text = f"{text[:keep]}\n[... {len(text) - 2 * keep} characters cut ...]\n{text[-keep:]}"
    return text


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def run_task(
    main: Callable[[TaskContext], Any],
    channel: Channel,
    pump: MessagePump | None = None,
) -> Done | Error | Fatal:
    """Run one task over ``channel`` and return its closing message (not yet sent)."""
    info: TaskInfo | None = None
    context: TaskContext | None = None
    try:
        channel.request(Worker(PROTOCOL_VERSION, os.getpid()), Ok)
        if pump is not None:
            pump.enable()
        info = channel.request(TaskRequest(""), TaskReply).task
        context = TaskContext(info, channel, pump)
        main(context)
        _report_outputs(context, channel)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            return Fatal(failure_text(exc, info, _url(context)))
        if context is not None:
            try:
                _report_outputs(context, channel)
            except Exception as late:
                return classify_failure(late)(failure_text(late, info, None))
    except BaseException as exc:
        return classify_failure(exc)(failure_text(exc, info, _url(context)))
    return Done("")


def _url(context: TaskContext | None) -> str | None:
    return None if context is None else context.current_url


def _report_outputs(context: TaskContext, channel: Channel) -> None:
    for label, location, size in context.close_outputs():
        channel.request(Output(label, location, size), Ok)


def run_worker(
    main: Callable[[TaskContext], Any],
    *,
    capture: bool = True,
    final_wait: float = FINAL_REPLY_WAIT_SECONDS,
) -> NoReturn:
    """Run ``main(task)`` as a Disco worker over stdin and stderr, then exit.

    ``final_wait`` is how long to wait for an OK after the last message (tests
    make it long, to show that an OK ends the wait at once however slow the machine).

    With ``capture`` (the default) fds 0, 1 and 2 are redirected first (see
    :func:`~pydisco.worker.stdio.redirect_stdio`): whatever the task or its
    children print becomes MSG. The exit code is 0 after DONE, 1 otherwise.
    """
    if capture:
        fds = redirect_stdio()
        channel = Channel(fds.frames, fds.replies)
        pump: MessagePump | None = MessagePump(channel, fds.captured)
    else:
        channel = Channel(sys.stderr.fileno(), sys.stdin.fileno())
        pump = MessagePump(channel)
    final = run_task(main, channel, pump)
    _flush_python_streams()
    if pump is not None:
        pump.stop()
    channel.close_with(final, wait=final_wait)
    _flush_python_streams()
    os._exit(0 if isinstance(final, Done) else 1)
