"""Protocol errors: one abstract class, two sides, and a kind for each rule.

Following h11, code inside the protocol core raises :class:`LocalProtocolError`
("this is not a legal thing to send") and the receive boundary converts it
into :class:`RemoteProtocolError` ("the peer sent something illegal"). The
:class:`ErrorKind` says which rule was broken; its values are the reason names
Disco's master uses where it has one (``invalid_type``, ``invalid_length``,
``message_too_big``, ``invalid_body``), so logs and events read the same.
"""

from __future__ import annotations

import enum

from pydisco.errors import PydiscoError


class ErrorKind(str, enum.Enum):
    """Which protocol rule a :class:`ProtocolError` reports."""

    INVALID_NAME = "invalid_type"
    INVALID_LENGTH = "invalid_length"
    TOO_BIG = "message_too_big"
    INVALID_BODY = "invalid_body"
    TRUNCATED = "truncated"
    INVALID_JSON = "invalid_json"
    UNKNOWN_MESSAGE = "unknown_message"
    INVALID_PAYLOAD = "invalid_payload"
    INVALID_VERSION = "invalid_version"
    ILLEGAL_SEQUENCE = "illegal_sequence"

    @property
    def is_framing(self) -> bool:
        """True for the errors Disco's framer detects (a task error, not fatal)."""
        return self in _FRAMING_KINDS


_FRAMING_KINDS = frozenset(
    {
        ErrorKind.INVALID_NAME,
        ErrorKind.INVALID_LENGTH,
        ErrorKind.TOO_BIG,
        ErrorKind.INVALID_BODY,
        ErrorKind.TRUNCATED,
    }
)


class ProtocolError(PydiscoError):
    """A frame or message broke the worker protocol.

    ``kind`` names the rule, ``name`` is the frame's name when known, and
    ``context`` holds (a bounded prefix of) the offending bytes for logging.
    """

    #: How many bytes of the offending input an error keeps for logging.
    CONTEXT_BYTES = 200

    def __init__(
        self,
        message: str,
        kind: ErrorKind,
        *,
        name: str | None = None,
        context: bytes = b"",
    ) -> None:
        if type(self) is ProtocolError:
            raise TypeError("raise LocalProtocolError or RemoteProtocolError, not ProtocolError")
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.name = name
        self.context = bytes(context[: self.CONTEXT_BYTES])

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, kind={self.kind.value!r})"


class LocalProtocolError(ProtocolError):
    """We tried to send (or build) something the protocol does not allow."""

    def as_remote(self) -> RemoteProtocolError:
        """The same error, seen as the peer's fault (used at receive boundaries)."""
        return RemoteProtocolError(self.message, self.kind, name=self.name, context=self.context)


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""
