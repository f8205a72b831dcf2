"""The session: who may send what, and which reply each request expects.

Everything that affects the order of messages lives in the tables at the top
of this module; the classes below only consult them. The tables do not know
which role we play: :class:`Conversation` tracks one worker/master exchange
from the outside, and :class:`WorkerSession` and :class:`MasterSession` wrap
it with a frame decoder for the side we are on, turning our mistakes into
:class:`LocalProtocolError` and the peer's into :class:`RemoteProtocolError`.

Two profiles decide how strictly the worker's order is judged:

* :attr:`Profile.SPEC` - the documented protocol (``protocol-spec/README.md``):
  WORKER first, TASK before inputs and outputs, one request at a time.
* :attr:`Profile.DISCO_054` - what the Disco 0.5.4 master accepts: it checks
  no order at all and answers requests in the order they came.

Both profiles agree that nothing may follow DONE, ERROR or FATAL, and that a
master may only answer the oldest outstanding request, with a reply of the
right kind. The INPUT reply may be withheld for as long as the master likes;
DONE, ERROR and FATAL get no reply from Disco 0.5.4 (a lenient master may
send one ``OK``). PING is fatal on Disco 0.5.4 (it is an unknown message
there); the sessions let it through so that lenient masters can answer it,
and the worker library never sends it unless asked.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final

from pydisco.protocol.errors import (
    ErrorKind,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
)
from pydisco.protocol.framing import Frame, FrameDecoder, Sentinel
from pydisco.protocol.limits import PROTOCOL_VERSION
from pydisco.protocol.messages import (
    MasterMessage,
    MasterName,
    Message,
    Role,
    TaskInfo,
    TaskReply,
    Worker,
    WorkerMessage,
    WorkerName,
    decode_frame,
    encode_message,
)

__all__ = [
    "CLOSING_MESSAGES",
    "FAILURE_MESSAGES",
    "PHASE_AFTER_REPLY",
    "REPLIES",
    "WORKER_MAY_SEND",
    "Conversation",
    "MasterSession",
    "Phase",
    "Profile",
    "WorkerSession",
]


class Phase(enum.Enum):
    """Where a session stands."""

    #: Nothing has been exchanged yet.
    START = "start"
    #: WORKER was acknowledged; the worker has not been told its task.
    HANDSHAKEN = "handshaken"
    #: The worker knows its task.
    RUNNING = "running"
    #: The worker sent DONE, ERROR or FATAL; the session is over.
    CLOSED = "closed"


class Profile(str, enum.Enum):
    """How strictly the order of the worker's messages is judged."""

    SPEC = "spec"
    DISCO_054 = "disco-0.5.4"


#: The messages a worker may start in each phase (Profile.SPEC).
WORKER_MAY_SEND: Final[Mapping[Phase, frozenset[WorkerName]]] = {
    Phase.START: frozenset({"WORKER", "ERROR", "FATAL"}),
    Phase.HANDSHAKEN: frozenset({"TASK", "MSG", "ERROR", "FATAL", "PING"}),
    Phase.RUNNING: frozenset(
        {"INPUT", "INPUT_ERR", "MSG", "OUTPUT", "DONE", "ERROR", "FATAL", "PING"}
    ),
    Phase.CLOSED: frozenset(),
}

#: The replies each request accepts. Messages not listed get no reply.
REPLIES: Final[Mapping[WorkerName, frozenset[MasterName]]] = {
    "WORKER": frozenset({"OK"}),
    "TASK": frozenset({"TASK"}),
    "INPUT": frozenset({"INPUT"}),
    "INPUT_ERR": frozenset({"RETRY", "FAIL", "WAIT"}),
    "MSG": frozenset({"OK"}),
    "OUTPUT": frozenset({"OK"}),
    "PING": frozenset({"OK"}),
}

#: The closing messages that report a failure: a worker may send them whenever it
#: must give up, even once no reply can reach it any more.
FAILURE_MESSAGES: Final[frozenset[WorkerName]] = frozenset({"ERROR", "FATAL"})
#: Messages that end the session. Disco 0.5.4 answers none of them; a lenient
#: master may answer one with OK.
CLOSING_MESSAGES: Final[frozenset[WorkerName]] = FAILURE_MESSAGES | {"DONE"}

#: The phase a session enters when a request is answered (others keep the phase).
PHASE_AFTER_REPLY: Final[Mapping[WorkerName, Phase]] = {
    "WORKER": Phase.HANDSHAKEN,
    "TASK": Phase.RUNNING,
}

#: Request names as found in frames, to the table's key (a ``str`` becomes a ``WorkerName``).
_REQUESTS: Final[Mapping[str, WorkerName]] = {name: name for name in REPLIES}

_PHASE_ORDER: Final = (Phase.START, Phase.HANDSHAKEN, Phase.RUNNING, Phase.CLOSED)


def _illegal(message: str, name: str) -> LocalProtocolError:
    return LocalProtocolError(message, ErrorKind.ILLEGAL_SEQUENCE, name=name)


class Conversation:
    """One worker/master exchange, seen from outside: no I/O, no role.

    Call :meth:`worker_sends` and :meth:`master_sends` with message names in
    the order they were sent; an illegal one raises
    :class:`LocalProtocolError` of kind ``illegal_sequence`` and leaves the
    state unchanged.
    """

    __slots__ = ("_closing_reply_allowed", "outstanding", "phase", "profile")

    def __init__(self, profile: Profile = Profile.SPEC) -> None:
        self.profile = profile
        self.phase = Phase.START
        #: Requests waiting for a reply, oldest first.
        self.outstanding: deque[WorkerName] = deque()
        self._closing_reply_allowed = False

    @property
    def awaiting(self) -> WorkerName | None:
        """The oldest request still waiting for its reply, if any."""
        return self.outstanding[0] if self.outstanding else None

    def check_worker_sends(self, name: str) -> None:
        """Raise if the worker may not send ``name`` now; change nothing."""
        if self.phase is Phase.CLOSED:
            raise _illegal(f"The worker sent {name} after the session ended.", name)
        if self.profile is not Profile.SPEC:
            return
        if self.outstanding:
            raise _illegal(
                f"The worker sent {name} while its {self.outstanding[0]} was still waiting "
                "for a reply; a worker must wait for each reply.",
                name,
            )
        if name not in WORKER_MAY_SEND[self.phase]:
            raise _illegal(_out_of_order(name, self.phase), name)

    def worker_sends(self, name: str) -> None:
        """Record that the worker sent ``name``."""
        self.check_worker_sends(name)
        if name in CLOSING_MESSAGES:
            self._closing_reply_allowed = not self.outstanding
            self.phase = Phase.CLOSED
        elif (request := _REQUESTS.get(name)) is not None:
            self.outstanding.append(request)

    def master_sends(self, name: str) -> None:
        """Record that the master sent ``name``."""
        if not self.outstanding:
            if self.phase is Phase.CLOSED and self._closing_reply_allowed and name == "OK":
                self._closing_reply_allowed = False
                return
            raise _illegal(f"The master sent {name} when no request was waiting for it.", name)
        request = self.outstanding[0]
        if name not in REPLIES[request]:
            expected = " or ".join(sorted(REPLIES[request]))
            raise _illegal(f"The master answered {request} with {name}; expected {expected}.", name)
        self.outstanding.popleft()
        after = PHASE_AFTER_REPLY.get(request)
        if after is not None and _PHASE_ORDER.index(after) > _PHASE_ORDER.index(self.phase):
            self.phase = after


def _out_of_order(name: str, phase: Phase) -> str:
    if phase is Phase.START:
        return f"The worker sent {name} before WORKER; WORKER must come first."
    if phase is Phase.HANDSHAKEN:
        return f"The worker sent {name} before asking for its task with TASK."
    return f"The worker may not send {name} now."


class _Session:
    """What both sides share: a decoder, a conversation, and the error that failed it.

    As in h11, a session that failed stays failed: after the peer broke the
    protocol every later receive raises that same :class:`RemoteProtocolError`,
    and after we tried to send something illegal every later send raises
    :class:`LocalProtocolError`. (A worker's last word, FATAL, can still be
    framed with :func:`~pydisco.protocol.messages.encode_message`.)
    """

    def __init__(self, profile: Profile) -> None:
        self._decoder = FrameDecoder()
        self.conversation = Conversation(profile)
        self._receive_error: RemoteProtocolError | None = None
        self._send_error: LocalProtocolError | None = None

    @property
    def phase(self) -> Phase:
        """The conversation's phase."""
        return self.conversation.phase

    @property
    def awaiting(self) -> WorkerName | None:
        """The oldest request still waiting for its reply, if any."""
        return self.conversation.awaiting

    @property
    def error(self) -> ProtocolError | None:
        """What failed the session (the peer's error first), or None while it works."""
        return self._receive_error or self._send_error

    @property
    def unparsed(self) -> bytes:
        """Bytes received but not yet framed (the peer's "last words" after an error)."""
        return self._decoder.unparsed

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the peer; ``b""`` means its stream has ended."""
        self._decoder.receive_data(data)

    def _next_frame(self) -> Frame | Sentinel:
        if self._receive_error is not None:
            raise self._receive_error
        try:
            return self._decoder.next_frame()
        except RemoteProtocolError as exc:
            self._receive_error = exc
            raise

    def _received_badly(self, exc: LocalProtocolError) -> RemoteProtocolError:
        """The receive boundary: the one place a local error becomes the peer's."""
        self._receive_error = exc.as_remote()
        return self._receive_error

    def _encode(self, message: Message, role: Role, record: Callable[[str], None]) -> bytes:
        if self._send_error is not None:
            raise LocalProtocolError(
                f"Nothing more can be sent: the session failed ({self._send_error}).",
                ErrorKind.ILLEGAL_SEQUENCE,
            )
        try:
            if getattr(message, "SENDER", None) != role:  # a typed caller cannot get here
                raise LocalProtocolError(
                    f"{message!r} is not a message a {role} sends.", ErrorKind.UNKNOWN_MESSAGE
                )
            data = encode_message(message)
            record(message.NAME)
        except LocalProtocolError as exc:
            self._send_error = exc
            raise
        return data


class WorkerSession(_Session):
    """The worker's side: send requests, receive the master's replies."""

    def __init__(self) -> None:
        super().__init__(Profile.SPEC)
        #: The task, once the master has sent it.
        self.task: TaskInfo | None = None

    def send(self, message: WorkerMessage) -> bytes:
        """The bytes to write for ``message``; raises if it may not be sent now."""
        return self._encode(message, "worker", self.conversation.worker_sends)

    def next_event(self) -> MasterMessage | Sentinel:
        """The master's next reply, or NEED_DATA, or END_OF_STREAM."""
        frame = self._next_frame()
        if isinstance(frame, Sentinel):
            return frame
        try:
            message = decode_frame(frame, "master")
            self.conversation.master_sends(message.NAME)
        except LocalProtocolError as exc:
            raise self._received_badly(exc) from None
        if isinstance(message, TaskReply):
            self.task = message.task
        return message


class MasterSession(_Session):
    """The master's side: receive the worker's messages, send replies.

    The worker's pid is recorded from WORKER before its version is checked,
    as Disco does, so that a worker with the wrong version can still be
    killed.
    """

    def __init__(self, profile: Profile = Profile.DISCO_054) -> None:
        super().__init__(profile)
        #: The pid the worker announced, once it has.
        self.worker_pid: int | None = None

    def next_event(self) -> WorkerMessage | Sentinel:
        """The worker's next message, or NEED_DATA, or END_OF_STREAM."""
        frame = self._next_frame()
        if isinstance(frame, Sentinel):
            return frame
        try:
            message = decode_frame(frame, "worker")
            self._accept(message)
        except LocalProtocolError as exc:
            raise self._received_badly(exc) from None
        return message

    def send(self, reply: MasterMessage) -> bytes:
        """The bytes to write for ``reply``; raises if it does not answer the oldest request."""
        return self._encode(reply, "master", self.conversation.master_sends)

    def _accept(self, message: WorkerMessage) -> None:
        if isinstance(message, Worker):
            self.worker_pid = message.pid
            if message.version != PROTOCOL_VERSION:
                raise LocalProtocolError(
                    f"The worker speaks protocol version {message.version!r}; "
                    f"only {PROTOCOL_VERSION!r} is supported.",
                    ErrorKind.INVALID_VERSION,
                    name="WORKER",
                )
        self.conversation.worker_sends(message.NAME)
