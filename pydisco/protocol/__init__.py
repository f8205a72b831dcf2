"""The Disco worker protocol as a sans-IO core.

Nothing in this package reads a pipe, opens a socket, looks at a clock or
starts a process: it turns bytes into typed messages and messages into bytes,
and tracks what each side may send next. The worker library, the reference
master and the conformance kit are thin shells around it.

* :mod:`~pydisco.protocol.framing` - ``<name> <length> <payload>\\n`` frames.
* :mod:`~pydisco.protocol.messages` - one class per message and direction.
* :mod:`~pydisco.protocol.session` - the order rules, for both roles.
* :mod:`~pydisco.protocol.throttle` - the MSG rate limit, both sides of it.
* :mod:`~pydisco.protocol.limits` - every number the protocol fixes.
"""

import importlib
import typing

if typing.TYPE_CHECKING:
    from pydisco.protocol.errors import (
        ErrorKind,
        LocalProtocolError,
        ProtocolError,
        RemoteProtocolError,
    )
    from pydisco.protocol.framing import END_OF_STREAM, NEED_DATA, Frame, FrameDecoder, encode_frame
    from pydisco.protocol.messages import (
        ALL_LABELS,
        GROUPINGS,
        MASTER_MESSAGES,
        MESSAGES_BY_ROLE,
        TASK_KEYS,
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
        MasterMessage,
        MasterName,
        Message,
        Msg,
        Ok,
        Output,
        Ping,
        Replica,
        Retry,
        Role,
        TaskInfo,
        TaskReply,
        TaskRequest,
        Wait,
        Worker,
        WorkerMessage,
        WorkerName,
        decode_frame,
        encode_message,
    )
    from pydisco.protocol.session import (
        Conversation,
        MasterSession,
        Phase,
        Profile,
        WorkerSession,
    )
    from pydisco.protocol.throttle import MsgPacer, MsgThrottle, ThrottleAction

__all__ = [
    "ALL_LABELS",
    "END_OF_STREAM",
    "GROUPINGS",
    "MASTER_MESSAGES",
    "MESSAGES_BY_ROLE",
    "NEED_DATA",
    "TASK_KEYS",
    "WORKER_MESSAGES",
    "Conversation",
    "Done",
    "Error",
    "ErrorKind",
    "Fail",
    "Fatal",
    "Frame",
    "FrameDecoder",
    "Input",
    "InputErr",
    "InputReply",
    "InputRequest",
    "InputStatus",
    "LocalProtocolError",
    "MasterMessage",
    "MasterName",
    "MasterSession",
    "Message",
    "Msg",
    "MsgPacer",
    "MsgThrottle",
    "Ok",
    "Output",
    "Phase",
    "Ping",
    "Profile",
    "ProtocolError",
    "RemoteProtocolError",
    "Replica",
    "Retry",
    "Role",
    "TaskInfo",
    "TaskReply",
    "TaskRequest",
    "ThrottleAction",
    "Wait",
    "Worker",
    "WorkerMessage",
    "WorkerName",
    "WorkerSession",
    "decode_frame",
    "encode_frame",
    "encode_message",
]

#: The modules the names above come from, searched in this order on first use. Nothing is
#: imported with the package: a client that only needs ``jsoncodec`` does not build the
#: message classes (most of the package's import time).
_PARTS = ("errors", "framing", "messages", "session", "throttle")


def __getattr__(name: str) -> typing.Any:
    if name in __all__:
        for part in _PARTS:
            module = importlib.import_module(f"{__name__}.{part}")
            if hasattr(module, name):
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
