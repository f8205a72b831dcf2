"""A small scripted master side for end-to-end worker tests.

It spawns a worker as a real subprocess the way Disco does (cwd = the job
home, replies on stdin, stdout and stderr merged into one stream), feeds what
the worker writes into :class:`~pydisco.protocol.MasterSession` (so any
unframed byte fails the run) and answers per a script: the task, the inputs
as they become available over time (withholding INPUT while there is nothing
new, like Disco), INPUT_ERR answers, and what to do after DONE.
"""

from __future__ import annotations

import os
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from pydisco.protocol import (
    END_OF_STREAM,
    NEED_DATA,
    Fail,
    Input,
    InputErr,
    InputReply,
    InputRequest,
    InputStatus,
    MasterSession,
    Msg,
    MsgThrottle,
    Ok,
    RemoteProtocolError,
    Replica,
    TaskInfo,
    TaskReply,
    ThrottleAction,
)

CLOSING = ("DONE", "ERROR", "FATAL")


def make_task(home: str, **changes: Any) -> TaskInfo:
    """A TASK description for a worker whose job home is ``home``."""
    values: dict[str, Any] = {
        "taskid": 3,
        "master": "http://127.0.0.1:8989",
        "disco_port": 8989,
        "put_port": 8990,
        "ddfs_data": os.path.join(home, "ddfs"),
        "disco_data": os.path.join(home, "data"),
        "stage": "map",
        "grouping": "split",
        "group": (0, "nodeA"),
        "jobfile": os.path.join(home, "jobfile"),
        "jobname": "Test@5a1:b2c3d:4e5f6",
        "host": "nodeA",
    }
    values.update(changes)
    return TaskInfo(**values)


def write_jobfile(path: str, jobdata: bytes = b"") -> None:
    """A minimal job pack: the 128-byte header, empty sections, then ``jobdata``."""
    body = b"{}"  # jobdict, then jobenvs
    offsets = (128, 130, 132, 132)
    header = struct.pack(">HHIIII", 0xD5C0, 2, *offsets).ljust(128, b"\0")
    with open(path, "wb") as handle:
        handle.write(header + body + b"{}" + jobdata)


def data_input(input_id: int, *urls: str, label: int | str = 0) -> Input:
    """An INPUT entry with one replica per URL."""
    return Input(
        input_id,
        InputStatus.OK,
        label,  # type: ignore[arg-type]
        tuple(Replica(index, url) for index, url in enumerate(urls)),
    )


@attrs.define
class Batch:
    """Inputs that become available once the master has withheld ``after`` INPUT requests.

    Driven by events, not by the clock: the batch after ``N`` arrives only once
    the worker has asked ``N`` times and been left waiting, however slow it is.
    """

    after: int
    inputs: tuple[Input, ...]
    done: bool


@attrs.define
class Run:
    """What happened."""

    messages: list[tuple[float, Any]] = attrs.Factory(list)
    raw: bytearray = attrs.Factory(bytearray)
    verdicts: list[Any] = attrs.Factory(list)
    protocol_error: RemoteProtocolError | None = None
    closing: Any = None
    closed_at: float | None = None
    exited_at: float | None = None
    returncode: int | None = None
    killed: bool = False
    #: INPUT requests the master could not answer at once (it withholds them, like Disco).
    withheld: int = 0

    def named(self, name: str) -> list[Any]:
        return [message for _, message in self.messages if name == message.NAME]

    @property
    def msg_texts(self) -> list[str]:
        return [message.text for message in self.named("MSG")]

    @property
    def exit_delay(self) -> float | None:
        if self.closed_at is None or self.exited_at is None:
            return None
        return self.exited_at - self.closed_at


class ScriptedMaster:
    """Drives one worker subprocess through one task."""

    def __init__(
        self,
        argv: Sequence[str],
        home: str,
        task: TaskInfo,
        *,
        inputs: Sequence[Input] = (),
        batches: Sequence[Batch] | None = None,
        on_input_err: Callable[[InputErr], Any] | None = None,
        after_close: str = "eof",
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.home = home
        self.task = task
        self.batches = list(batches) if batches is not None else [Batch(0, tuple(inputs), True)]
        self.on_input_err = on_input_err or (lambda message: Fail(""))
        #: After DONE/ERROR/FATAL: "eof" closes the worker's stdin (quick tests),
        #: "silent" does nothing (Disco 0.5.4), "ok" replies OK (a lenient master).
        self.after_close = after_close
        self.env = env

    def _available(self, withheld: int) -> tuple[list[Input], bool]:
        inputs: list[Input] = []
        done = False
        for batch in self.batches:
            if batch.after <= withheld:
                inputs.extend(batch.inputs)
                done = batch.done
        return inputs, done

    def _select(self, request: InputRequest, withheld: int) -> InputReply | None:
        inputs, done = self._available(withheld)
        if request.mode == "exclude":
            chosen = [entry for entry in inputs if entry.input_id not in request.ids]
        elif request.mode == "include":
            chosen = [entry for entry in inputs if entry.input_id in request.ids]
        else:
            chosen = inputs
        if not chosen and not done:
            return None  # withheld, as Disco does
        return InputReply(done, tuple(chosen))

    def run(self, timeout: float = 30.0, exit_timeout: float = 5.0) -> Run:
        env = dict(os.environ if self.env is None else self.env)
        process = subprocess.Popen(
            self.argv,
            cwd=self.home,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            return self._drive(process, timeout, exit_timeout)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()

    def _reply(self, process: subprocess.Popen[bytes], data: bytes) -> None:
        assert process.stdin is not None
        if process.stdin.closed:
            return
        try:
            process.stdin.write(data)
            process.stdin.flush()
        except BrokenPipeError:
            pass

    def _drive(self, process: subprocess.Popen[bytes], timeout: float, exit_timeout: float) -> Run:
        assert process.stdout is not None
        out_fd = process.stdout.fileno()
        session = MasterSession()
        throttle = MsgThrottle()
        run = Run()
        start = time.monotonic()
        pending: InputRequest | None = None
        pending_withheld = False
        eof = False
        while True:
            now = time.monotonic()
            if run.closed_at is not None and now - run.closed_at > exit_timeout:
                process.send_signal(signal.SIGKILL)
                run.killed = True
                break
            if now - start > timeout:
                process.send_signal(signal.SIGKILL)
                run.killed = True
                break
            if pending is not None:
                reply = self._select(pending, run.withheld)
                if reply is None and not pending_withheld:
                    # Nothing new for this request: withhold it, which releases the next batch.
                    pending_withheld = True
                    run.withheld += 1
                    reply = self._select(pending, run.withheld)
                if reply is not None:
                    pending = None
                    self._reply(process, session.send(reply))
            if eof:
                break
            ready, _, _ = select.select([out_fd], [], [], 0.02)
            if not ready:
                continue
            data = os.read(out_fd, 65536)
            run.raw += data
            session.receive_data(data)
            if not data:
                eof = True
            while run.protocol_error is None:
                try:
                    event = session.next_event()
                except RemoteProtocolError as exc:
                    run.protocol_error = exc
                    break
                if event is NEED_DATA or event is END_OF_STREAM:
                    break
                stamp = time.monotonic()
                run.messages.append((stamp - start, event))
                answer = self._answer(process, session, throttle, run, event, stamp, pending)
                if answer is not pending:
                    pending, pending_withheld = answer, False
        process.wait(timeout=exit_timeout)
        run.exited_at = time.monotonic()
        run.returncode = process.returncode
        return run

    def _answer(
        self,
        process: subprocess.Popen[bytes],
        session: MasterSession,
        throttle: MsgThrottle,
        run: Run,
        event: Any,
        stamp: float,
        pending: InputRequest | None,
    ) -> InputRequest | None:
        name = event.NAME
        if name in CLOSING:
            run.closing = event
            run.closed_at = stamp
            if self.after_close == "ok":
                self._reply(process, session.send(Ok()))
            elif self.after_close == "eof" and process.stdin is not None:
                process.stdin.close()
            return pending
        if name == "WORKER":
            self._reply(process, session.send(Ok()))
        elif name == "TASK":
            self._reply(process, session.send(TaskReply(self.task)))
        elif name == "INPUT":
            return event  # answered (or withheld) by the loop
        elif name == "INPUT_ERR":
            self._reply(process, session.send(self.on_input_err(event)))
        elif isinstance(event, Msg):
            verdict = throttle.on_msg(stamp)
            run.verdicts.append(verdict)
            if verdict.action is ThrottleAction.DELAY:
                time.sleep(verdict.delay)
            self._reply(process, session.send(Ok()))
        else:  # OUTPUT, PING
            self._reply(process, session.send(Ok()))
        return pending

    @staticmethod
    def throttle_ok(run: Run) -> bool:
        return all(verdict.action is ThrottleAction.REPLY for verdict in run.verdicts)


PYTHON = sys.executable
