"""One scenario run: play the master's side against a live worker, and judge it.

The driver is an I/O loop around the sans-IO core: bytes from the worker go
into :class:`~pydisco.protocol.framing.FrameDecoder`, frames through
:func:`~pydisco.protocol.messages.decode_frame`, the order through
:class:`~pydisco.protocol.session.Conversation` (spec profile), MSGs through
:class:`~pydisco.protocol.throttle.MsgThrottle`; replies come out of
:func:`~pydisco.protocol.messages.encode_message`. The driver adds only
what a master does around them (inputs, withheld replies, INPUT_ERR
answers, output files) and the verdicts.

When the worker breaks a rule that makes a Disco master stop the task run
(a framing error, a bad payload, a wrong version, the MSG flood limit, an
absolute output path, the 0.5.4 INPUT_ERR crash, an order violation under
the spec profile), the driver stops it the same way: every later rule of
that run is then "not exercised" rather than failed.
"""

from __future__ import annotations

import os
import select
import stat
import time
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from pydisco.conformance.httpserver import DataServer
from pydisco.conformance.process import WorkerProcess, is_descendant, worker_environment
from pydisco.conformance.rules import RULES_BY_ID
from pydisco.conformance.scenarios import (
    BATCH_DELAY,
    KitInput,
    Plan,
    Scenario,
    Setup,
    make_setup,
    write_jobfile,
)
from pydisco.conformance.transcript import Check, Direction, Transcript, show_bytes
from pydisco.protocol.errors import LocalProtocolError, RemoteProtocolError
from pydisco.protocol.framing import Frame, FrameDecoder, Sentinel, read_header
from pydisco.protocol.limits import PROTOCOL_VERSION
from pydisco.protocol.messages import (
    WORKER_MESSAGES,
    Done,
    Error,
    Fail,
    Fatal,
    Input,
    InputErr,
    InputReply,
    InputRequest,
    InputStatus,
    Msg,
    Ok,
    Output,
    Ping,
    Replica,
    Retry,
    TaskReply,
    TaskRequest,
    Worker,
    classify_output,
    decode_frame,
    encode_message,
)
from pydisco.protocol.session import (
    FAILURE_MESSAGES,
    REPLIES,
    WORKER_MAY_SEND,
    Conversation,
    Phase,
    Profile,
)
from pydisco.protocol.throttle import MsgThrottle, ThrottleAction

__all__ = ["KitSettings", "RunResult", "run_scenario"]

_READ_SIZE = 1 << 16
_TICK = 0.05
#: How long the kit keeps listening after DONE, ERROR or FATAL before closing stdin.
_GRACE = 0.1
#: Output files larger than this are not read for the content check.
_MAX_OUTPUT_READ = 64 << 20


@attrs.frozen(slots=True)
class KitSettings:
    """The limits and clock of one kit run (its timeouts, the closing grace, the MSG clock)."""

    #: Seconds a scenario may take before the worker counts as hung.
    timeout: float = 5.0
    #: Seconds the worker has to exit once its stdin is closed.
    exit_timeout: float = 2.0
    #: Seconds within which the first message must arrive.
    first_message: float = 5.0
    #: Seconds the kit waits after DONE, ERROR or FATAL before closing the worker's stdin.
    #: Tests give a worker that exits by itself more, so its exit does not race the close.
    closing_grace: float = _GRACE
    #: The clock the MSG throttle counts with; None: the time each frame arrived. A frozen
    #: clock makes "N messages within a second" independent of the machine's speed.
    msg_clock: Callable[[], float] | None = None


@attrs.frozen(slots=True)
class RunResult:
    """What one scenario run under one profile showed."""

    scenario: str
    profile: Profile
    outcome: str
    duration: float
    checks: tuple[Check, ...]
    transcript: tuple[str, ...]

    def by_rule(self) -> dict[str, list[Check]]:
        """The checks, by rule id: every pass, every failure."""
        grouped: dict[str, list[Check]] = {}
        for check in self.checks:
            grouped.setdefault(check.rule, []).append(check)
        return grouped

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "profile": self.profile.value,
            "outcome": self.outcome,
            "duration": round(self.duration, 3),
            "checks": [
                {"rule": c.rule, "passed": c.passed, "evidence": list(c.evidence)}
                for c in self.checks
            ],
            "transcript": list(self.transcript),
        }


@attrs.define(slots=True)
class _OutputRecord:
    label: int
    location: str
    size: int
    data: bytes | None


class _Stop(Exception):
    """The run is over (the kit stopped it, or it ended)."""


class _ScenarioRun:
    """One scenario run under one profile: the worker process, its session and the checks."""

    def __init__(
        self,
        *,
        scenario: Scenario,
        plan: Plan,
        setup: Setup,
        profile: Profile,
        command: list[str],
        settings: KitSettings,
    ) -> None:
        self.scenario = scenario
        self.plan = plan
        self.setup = setup
        self.profile = profile
        self.settings = settings
        self.server: DataServer = setup.server
        self.transcript = Transcript()
        self.checks: list[Check] = []
        self.decoder = FrameDecoder()
        self.conversation = Conversation(profile)
        self.throttle = MsgThrottle()
        self.outcome = "running"
        self.aborted = False
        self.closing: str | None = None
        self.closing_at = 0.0
        self.closing_evidence = ""
        self.stdin_closed_at: float | None = None
        self.eof_rule = "EOF-1"
        self.first_bytes_at: float | None = None
        self.frames_seen = 0
        self.worker_seen = False
        self.msgs = 0
        self.outputs: list[_OutputRecord] = []
        self.locations: set[str] = set()
        # Inputs and the withheld INPUT request.
        self.available: list[KitInput] = [i for i in plan.inputs if i.batch == 0]
        self.batches = plan.batches
        self.done = self.batches == 0
        self.first_input_reply_at: float | None = None
        self.released = 0
        self.withheld: InputRequest | None = None
        self.backlog: deque[tuple[Frame, float, str]] = deque()
        # Replies: (not before, bytes, request name); the write buffer; lockstep bookkeeping.
        self.replies: deque[tuple[float, bytes, str]] = deque()
        self.write_buffer = b""
        self.last_request: str | None = None
        self.last_reply_written = 0.0
        self.input_errs: list[InputErr] = []
        self.home = os.path.realpath(setup.jobhome)
        self.start = self.transcript.start
        self.deadline = self.start + settings.timeout * plan.time_factor
        env = worker_environment({})
        self.process = WorkerProcess(command, setup.jobhome, env)
        self.note(f"started {' '.join(command)} (pid {self.process.pid}) in {setup.jobhome}")

    # --- recording ----------------------------------------------------------------------

    def note(self, text: str) -> str:
        return self.transcript.add(Direction.KIT, text).render()

    def check(self, rule: str, passed: bool, *evidence: str) -> None:
        if RULES_BY_ID[rule].applies_to(self.profile):
            self.checks.append(Check(rule, passed, tuple(evidence)))

    def fail(self, rule: str, *evidence: str) -> None:
        self.check(rule, False, *evidence)

    def abort(self, reason: str) -> None:
        self.note(f"the master stops the task run: {reason}")
        self.aborted = True
        self.outcome = f"stopped by the master: {reason}"
        raise _Stop

    def _pull_http_log(self) -> None:
        for request in self.server.take_requests():
            self.transcript.add(
                Direction.HTTP, f"{request.method} {request.path} -> {request.status}", request.at
            )

    # --- the loop -----------------------------------------------------------------------

    def execute(self) -> RunResult:
        try:
            self._loop()
        except _Stop:
            pass
        finally:
            self.process.kill()
            self._pull_http_log()
        self._final_checks()
        self.transcript.entries.sort(key=lambda entry: entry.at)
        return RunResult(
            self.scenario.name,
            self.profile,
            self.outcome,
            time.monotonic() - self.start,
            tuple(self.checks),
            tuple(self.transcript.lines()),
        )

    def _loop(self) -> None:
        while True:
            now = time.monotonic()
            self._timers(now)
            self._queue_due_replies(now)
            readers = [self.process.stdout_fd] if self.process.stdout_fd is not None else []
            writers = (
                [self.process.stdin_fd]
                if self.write_buffer and self.process.stdin_fd is not None
                else []
            )
            # Without output to read, only the clock and the process's exit matter.
            wait = _TICK if readers else _TICK / 5
            if self.replies and not self.write_buffer:
                wait = max(0.0, min(wait, self.replies[0][0] - now))
            readable, writable, _ = select.select(readers, writers, [], wait)
            if writable:
                self._write()
            if readable:
                self._read()
                self._queue_due_replies(time.monotonic())
            if self.process.stdout_fd is None and self.process.exited():
                self._on_exit()

    def _timers(self, now: float) -> None:
        self._pull_http_log()
        if self.first_input_reply_at is not None:
            while (
                self.released < self.batches
                and now >= self.first_input_reply_at + (self.released + 1) * BATCH_DELAY
            ):
                self.released += 1
                batch = [i for i in self.plan.inputs if i.batch == self.released]
                self.available.extend(batch)
                self.done = self.released == self.batches
                ids = ", ".join(str(i.input_id) for i in batch)
                self.note(f"inputs {ids} arrive" + ("; the input set is done" if self.done else ""))
                self._answer_withheld()
        closing = self.closing
        grace_over = now >= self.closing_at + self.settings.closing_grace
        if closing is not None and self.stdin_closed_at is None and grace_over:
            self._close_stdin("after " + closing)
        if self.stdin_closed_at is not None:
            if self.process.exited():
                self._on_exit()
            if now >= self.stdin_closed_at + self.settings.exit_timeout:
                self._on_exit_timeout()
        elif now >= self.deadline:
            self._on_timeout()

    def _close_stdin(self, why: str) -> None:
        self.note(f"closes the worker's stdin ({why})")
        # Closed mid-session (EOF-1), or after the closing message (END-3).
        self.eof_rule = "EOF-1" if self.closing is None else "END-3"
        self.process.close_stdin()
        self.write_buffer = b""
        self.stdin_closed_at = time.monotonic()

    # --- writing ------------------------------------------------------------------------

    def reply(self, message: Any, delay: float = 0.0) -> None:
        """Queue a reply; it is written after every earlier one."""
        try:
            self.conversation.master_sends(message.NAME)
        except LocalProtocolError as exc:  # the kit's own bookkeeping; keep going
            self.note(f"(session bookkeeping: {exc})")
        self.replies.append((time.monotonic() + delay, encode_message(message), message.NAME))

    def _queue_due_replies(self, now: float) -> None:
        # One reply at a time, so that the time each one was fully written is known.
        while not self.write_buffer and self.replies and self.replies[0][0] <= now:
            _, data, _name = self.replies.popleft()
            self.transcript.frame(Direction.MASTER, data)
            if self.process.stdin_fd is None:
                continue
            self.write_buffer = data
            self._write()

    def _write(self) -> None:
        fd = self.process.stdin_fd
        if fd is None:
            self.write_buffer = b""
            return
        try:
            written = os.write(fd, self.write_buffer)
        except BlockingIOError:
            return
        except OSError:
            self.write_buffer = b""
            self.process.close_stdin()
            return
        self.write_buffer = self.write_buffer[written:]
        if not self.write_buffer:
            self.last_reply_written = time.monotonic()

    # --- reading ------------------------------------------------------------------------

    def _read(self) -> None:
        fd = self.process.stdout_fd
        assert fd is not None
        try:
            chunk = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        arrived = time.monotonic()
        if chunk and self.first_bytes_at is None:
            self.first_bytes_at = arrived
            took = arrived - self.start
            ok = took <= self.settings.first_message
            self.check("HS-4", ok, f"the first bytes arrived after {took:.3f}s")
        if not chunk:
            self.process.close_stdout()
        self.decoder.receive_data(chunk)
        while True:
            try:
                frame = self.decoder.next_frame()
            except RemoteProtocolError as exc:
                self._framing_error(exc)
                return
            if isinstance(frame, Sentinel):
                return
            entry = self.transcript.frame(Direction.WORKER, frame.encode(), arrived)
            if self.withheld is not None and self.profile is Profile.DISCO_054:
                # Disco reads nothing after a withheld INPUT until it is answered.
                self.backlog.append((frame, arrived, entry.render()))
                continue
            self._on_frame(frame, arrived, entry.render())

    def _framing_error(self, exc: RemoteProtocolError) -> None:
        context = exc.context
        self.transcript.add(Direction.WORKER, f"unframeable bytes: {show_bytes(context)}")
        header = read_header(context)
        if header and header.name in WORKER_MESSAGES:
            newline = context.find(b"\n", header.payload_start)
            actual = (
                f"; the payload up to the next newline is {newline - header.payload_start} bytes"
                if newline >= 0
                else ""
            )
            self.note(f"{exc} A {header.name} frame declaring {header.length}{actual}.")
            self.fail("FR-1", *self._last_frames(4))
        else:
            self.note(f"{exc} This is output that is not a frame.")
            self.fail("FR-2", *self._last_frames(4))
        self.abort(f"framing error ({exc.kind.value}): a task error on Disco")

    def _last_frames(self, count: int) -> list[str]:
        return [entry.render() for entry in self.transcript.entries[-count:]]

    # --- messages -----------------------------------------------------------------------

    def _on_frame(self, frame: Frame, arrived: float, evidence: str) -> None:
        self.frames_seen += 1
        if frame.name not in WORKER_MESSAGES:
            self.fail("FR-2", evidence, f"{frame.name!r} is not a message a worker sends")
            self.abort("unknown message: fatal on Disco")
        try:
            message = decode_frame(frame, "worker")
        except LocalProtocolError as exc:
            self.fail("FR-3", evidence, str(exc))
            self.abort(f"{exc.kind.value}: fatal on Disco")
        self._order(frame.name, arrived, evidence)
        if isinstance(message, Worker):
            self._on_worker(message, evidence)
        elif isinstance(message, TaskRequest):
            self._on_task()
        elif isinstance(message, InputRequest):
            self._on_input(message)
        elif isinstance(message, InputErr):
            self._on_input_err(message, evidence)
        elif isinstance(message, Msg):
            self._on_msg(arrived, evidence)
        elif isinstance(message, Output):
            self._on_output(message, evidence)
        elif isinstance(message, Ping):
            if self.profile is Profile.DISCO_054:
                self.fail("SQ-3", evidence, "Disco 0.5.4 treats PING as an unknown message")
                self.abort("unknown message PING: fatal on Disco 0.5.4")
            self.reply(Ok("pong"))
        elif isinstance(message, (Done, Error, Fatal)):
            self._on_closing(frame.name, evidence)

    def _order(self, name: str, arrived: float, evidence: str) -> None:
        if self.closing is not None:
            self.fail("END-2", evidence, f"sent after {self.closing}")
            self.abort(f"{name} after {self.closing}")
        if self.stdin_closed_at is not None and name in FAILURE_MESSAGES:
            # No reply can come any more: saying why and leaving is right.
            self.conversation = Conversation(Profile.DISCO_054)
        elif self.profile is Profile.SPEC:
            previous = self.last_request
            unanswered = bool(self.replies or self.write_buffer)
            if previous is not None and (unanswered or arrived < self.last_reply_written):
                self.fail("SQ-2", evidence, f"sent before the reply to {previous} had been written")
                self.abort("the worker did not wait for a reply")
            try:
                self.conversation.check_worker_sends(name)
            except LocalProtocolError as exc:
                self.fail(self._order_rule(name), evidence, str(exc))
                self.abort("a message out of order")
        self.conversation.worker_sends(name)
        if self.frames_seen == 1:
            self.check("HS-1", name in WORKER_MAY_SEND[Phase.START], evidence)
        self.last_request = name if name in REPLIES else None

    def _order_rule(self, name: str) -> str:
        phase = self.conversation.phase
        if self.conversation.outstanding:
            return "SQ-2"
        if phase is Phase.START or name == "WORKER":
            return "HS-1"
        return "SQ-1"

    def _on_worker(self, message: Worker, evidence: str) -> None:
        self.worker_seen = True
        if message.version != PROTOCOL_VERSION:
            self.fail("HS-2", evidence, f"version {message.version!r}, not {PROTOCOL_VERSION!r}")
            self.abort("invalid worker version: fatal on Disco")
        self.check("HS-2", True, evidence)
        belongs = is_descendant(message.pid, self.process.pid)
        if belongs is not None:
            why = (
                f"pid {message.pid} is "
                + ("" if belongs else "not ")
                + f"the started process {self.process.pid} or one of its descendants"
            )
            self.check("HS-3", belongs, evidence, why)
        self.reply(Ok())

    def _on_task(self) -> None:
        if self.plan.eof_at_task:
            self._close_stdin("instead of answering TASK")
            return
        self.reply(TaskReply(self.setup.task(self.plan)))

    # inputs

    def _entry(self, item: KitInput) -> Input:
        replicas = tuple(Replica(n, url) for n, url in enumerate(item.urls))
        return Input(item.input_id, InputStatus.OK, item.label, replicas)

    def _select(self, request: InputRequest) -> list[Input]:
        by_id = {item.input_id: item for item in self.available}
        if request.mode == "include":
            return [
                self._entry(by_id[n]) if n in by_id else Input(n, InputStatus.OK, 0, ())
                for n in request.ids
            ]
        excluded = set(request.ids) if request.mode == "exclude" else set()
        return [self._entry(item) for item in self.available if item.input_id not in excluded]

    def _on_input(self, request: InputRequest) -> None:
        entries = self._select(request)
        if not entries and not self.done:
            self.note("withholds the INPUT reply: nothing new yet, and more inputs will come")
            self.withheld = request
            return
        self._send_inputs(entries)

    def _send_inputs(self, entries: list[Input]) -> None:
        if self.first_input_reply_at is None:
            self.first_input_reply_at = time.monotonic()
        self.reply(InputReply(self.done, tuple(entries)))

    def _answer_withheld(self) -> None:
        request = self.withheld
        if request is None:
            return
        entries = self._select(request)
        if not entries and not self.done:
            return
        self.withheld = None
        self._send_inputs(entries)
        while self.backlog and self.withheld is None:
            frame, arrived, evidence = self.backlog.popleft()
            self._on_frame(frame, arrived, evidence)

    def _input(self, input_id: int) -> KitInput | None:
        for item in self.available:
            if item.input_id == input_id:
                return item
        return None

    def _on_input_err(self, message: InputErr, evidence: str) -> None:
        self.input_errs.append(message)
        item = self._input(message.input_id)
        problems = []
        if item is None:
            problems.append(f"input {message.input_id} is not an input of this task")
        else:
            unknown = [r for r in message.replica_ids if not 0 <= r < len(item.urls)]
            good = [r for r in message.replica_ids if r not in item.bad_replicas]
            if unknown:
                problems.append(f"replica ids {unknown} do not exist")
            if good:
                problems.append(f"replica ids {good} can be read; they did not fail")
        if not message.replica_ids:
            problems.append("it names no replica")
        self.check("RP-2", not problems, evidence, *problems)
        existing = (
            [r for r in message.replica_ids if 0 <= r < len(item.urls)] if item is not None else []
        )
        if self.profile is Profile.DISCO_054 and existing:
            self.note(
                "Disco 0.5.4's INPUT_ERR handler crashes on an existing replica id "
                "({badrecord,fail_info}): no reply, a task error"
            )
            if item is not None and item.rule == "RP-1":
                self.fail(
                    "RP-1",
                    evidence,
                    "INPUT_ERR before every replica was tried ends the task on Disco 0.5.4; "
                    "try every replica first",
                )
            self.outcome = "task error (Disco 0.5.4 INPUT_ERR crash)"
            self.closing = "INPUT_ERR"
            if item is not None and item.rule == "RP-3":
                self.check("RP-3", True, evidence, "a task error, as ERROR would be")
            raise _Stop
        urls = item.urls if item is not None else ()
        valid = [Replica(n, url) for n, url in enumerate(urls) if n not in message.replica_ids]
        self.reply(Retry(tuple(valid)) if valid else Fail(""))

    def _on_msg(self, arrived: float, evidence: str) -> None:
        self.msgs += 1
        clock = self.settings.msg_clock
        verdict = self.throttle.on_msg(arrived if clock is None else clock())
        if verdict.action is ThrottleAction.FATAL:
            self.fail("MSG-1", *self._last_frames(10), verdict.warning)
            self.abort(verdict.warning)
        if verdict.action is ThrottleAction.DELAY:
            self.note(f"{verdict.count} MSGs within a second: the OK is delayed {verdict.delay}s")
        self.reply(Ok(), verdict.delay)

    # outputs

    def _on_output(self, message: Output, evidence: str) -> None:
        location = message.location
        if location.startswith("/"):
            self.fail("OUT-1", evidence, "an absolute path; Disco ends the task with a task error")
            self.abort("invalid_output: a task error on Disco")
        self.check("OUT-1", True, evidence)
        self.check(
            "OUT-5",
            message.label >= 0 and message.size >= 0,
            evidence,
            f"label {message.label}, size {message.size}",
        )
        scheme = classify_output(location) == "remote"
        if scheme and not _is_file(os.path.join(self.home, location)):
            self.note(f"a remote output ({location}); its content is not checked")
            self.reply(Ok())
            return
        self.check(
            "OUT-2",
            not scheme,
            evidence,
            "Disco takes a location whose first segment holds ':' for a URL"
            if scheme
            else "first segment has no ':'",
        )
        self._check_file(message, evidence)
        self.reply(Ok())

    def _check_file(self, message: Output, evidence: str) -> None:
        home = self.home
        resolved = os.path.normpath(os.path.join(home, message.location))
        inside = resolved.startswith(home + os.sep)
        if not inside or not _is_file(resolved):
            problem = "outside the job home" if not inside else "no such file"
            self.fail("OUT-3", evidence, f"{message.location}: {problem}")
            return
        self.check("OUT-3", True, evidence)
        size = os.stat(resolved).st_size
        self.check("OUT-4", size == message.size, evidence, f"the file has {size} bytes")
        relative = resolved[len(home) + 1 :]
        problems = []
        if relative.split("/", 1)[0] == ".disco":
            problems.append("inside .disco/, which belongs to the master")
        if relative in self.locations:
            problems.append("reported twice")
        self.locations.add(relative)
        self.check("OUT-6", not problems, evidence, *problems)
        data = Path(resolved).read_bytes() if size <= _MAX_OUTPUT_READ else None
        self.outputs.append(_OutputRecord(message.label, message.location, message.size, data))

    # the end

    def _on_closing(self, name: str, evidence: str) -> None:
        self.closing = name
        self.closing_at = time.monotonic()
        self.outcome = name
        self.closing_evidence = evidence
        if self.plan.closing_ok:
            self.reply(Ok())

    def _on_exit(self, *, force: bool = False) -> None:
        # Read whatever is left before judging, unless a leftover child holds the pipe.
        if self.process.stdout_fd is not None and not force:
            return
        code = self.process.popen.returncode
        self.note(f"the worker exited with status {code}")
        if self.stdin_closed_at is not None:
            took = time.monotonic() - self.stdin_closed_at
            rule = self.eof_rule
            self.check(rule, True, self.note(f"exited {took:.3f}s after stdin was closed"))
            if self.closing is not None:
                self.check("END-2", True, f"nothing after {self.closing}")
            if rule == "EOF-1":
                said = f" (after sending {self.closing})" if self.closing else ""
                self.outcome = f"exited after stdin was closed{said}"
            raise _Stop
        if self.closing is not None:
            self.check("END-3", True, self.note(f"exited after {self.closing}"))
            self.check("END-2", True, f"nothing after {self.closing}")
            raise _Stop
        try:
            self.decoder.receive_data(b"")
            self.decoder.next_frame()
        except RemoteProtocolError as exc:
            self._framing_error(exc)
        self.outcome = f"crashed (exit status {code}) without DONE, ERROR or FATAL"
        self.fail("END-1", *self._last_frames(4))
        raise _Stop

    def _on_exit_timeout(self) -> None:
        if self.process.exited():
            self.note("the worker exited, but a process it started still holds its stdout")
            self._on_exit(force=True)
        if self.closing is not None:
            self.check("END-2", True, f"nothing after {self.closing}")
        rule = self.eof_rule
        self.fail(
            rule,
            *self._last_frames(3),
            self.note(f"still running {self.settings.exit_timeout}s after stdin was closed"),
        )
        if rule == "EOF-1":
            self.outcome = "hung after stdin was closed"
        raise _Stop

    def _on_timeout(self) -> None:
        limit = self.settings.timeout * self.plan.time_factor
        last = self.note(f"no end after {limit:g}s: the worker hangs")
        if self.first_bytes_at is None:
            self.fail("HS-4", last, "no bytes at all")
        elif self.withheld is None:
            self.fail("END-1", *self._last_frames(4))
            if self.plan.expect == "ERROR":
                self.fail("RP-3", last, "a hang instead of ERROR")
        self.outcome = "hung"
        raise _Stop

    # --- verdicts after the run ---------------------------------------------------------

    def _final_checks(self) -> None:
        if self.frames_seen and not self.worker_seen and not self.aborted:
            self.fail("HS-3", "the worker never sent WORKER: the master cannot kill it")
        if self.msgs and not self.aborted:
            self.check("MSG-1", True, f"{self.msgs} MSGs within the limit")
        if self.frames_seen and not self.aborted:
            self.check("FR-1", True, f"{self.frames_seen} frames")
            self.check("FR-2", True, "no stray output")
            self.check("FR-3", True, f"{self.frames_seen} payloads")
            if self.profile is Profile.DISCO_054:
                self.check("SQ-3", True, "no PING")
        closing = self.closing
        if closing is None or closing == "INPUT_ERR" or self.plan.expect == "EXIT":
            return
        evidence = self.closing_evidence
        if self.profile is Profile.SPEC:
            self.check("SQ-1", True, "TASK came before the work")
            self.check("SQ-2", True, "every reply was awaited")
        if self.plan.expect == "ERROR":
            self.check("END-1", True, evidence)
            self.check("RP-3", closing == "ERROR", evidence, f"expected ERROR, got {closing}")
            return
        self.check("END-1", closing == "DONE", evidence, f"expected DONE, got {closing}")
        if closing == "DONE":
            self._content_checks()

    def _content_checks(self) -> None:
        found: Counter[bytes] = Counter()
        for output in self.outputs:
            if output.data is not None:
                found.update(output.data.split(b"\n"))
        found.pop(b"", None)
        known: dict[bytes, KitInput] = {}
        for item in self.plan.inputs:
            known.update(dict.fromkeys(item.lines, item))
            missing = [line for line in item.lines if line not in found]
            detail = f"input {item.input_id} ({show_bytes(item.urls[-1].encode())[:80]})"
            if missing:
                self.fail(
                    item.rule,
                    f"{detail}: {len(missing)} of {len(item.lines)} lines missing from the "
                    f"outputs, e.g. {show_bytes(missing[0])}",
                )
            else:
                self.check(item.rule, True, f"{detail}: all {len(item.lines)} lines found")
            present = [line for line in item.forbidden if line in found]
            if item.forbidden_rule:
                self.check(
                    item.forbidden_rule,
                    not present,
                    f"{detail}: {len(present)} lines of other labels were read"
                    + (f", e.g. {show_bytes(present[0])}" if present else ""),
                )
            known.update(dict.fromkeys(item.forbidden, item))
        twice = [line for line, count in found.items() if count > 1 and line in known]
        self.check(
            "IN-8",
            not twice,
            f"{len(twice)} lines found more than once"
            + (f", e.g. {show_bytes(twice[0])}" if twice else ""),
        )
        strange = [line for line in found if line not in known]
        self.check(
            "IN-9",
            not strange,
            f"{len(strange)} lines in the outputs come from no input"
            + (f", e.g. {show_bytes(strange[0])}" if strange else ""),
        )


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        return False


def run_scenario(  # noqa: PLR0917 - the kit passes these in order
    scenario: Scenario,
    profile: Profile,
    command: list[str],
    root: Path,
    server: DataServer,
    settings: KitSettings,
) -> RunResult:
    """Run ``scenario`` under ``profile`` with a fresh job home under ``root``."""
    setup = make_setup(root, scenario.name, server)
    plan = scenario.build(setup)
    write_jobfile(setup, plan, Path(command[0]).name)
    try:
        run = _ScenarioRun(
            scenario=scenario,
            plan=plan,
            setup=setup,
            profile=profile,
            command=command,
            settings=settings,
        )
    except OSError as exc:
        raise ValueError(f"cannot start the worker {command[0]}: {exc.strerror or exc}") from None
    return run.execute()
