"""Errors raised by the HTTP client and result readers.

::

    PydiscoError
    └── ClientError                   anything the client could not do
        ├── InvalidMasterURL          the master URL is not an http(s) URL with a host
        ├── MasterUnreachable         no HTTP answer at all (after the retries)
        ├── HTTPStatusError           the master or a data node answered non-2xx
        ├── BadReply                  a 2xx answer that is not what the endpoint returns
        ├── JobUnknown                the master does not know the job (404 / "unknown job")
        ├── JobSubmitError            the master refused a job pack ("Job failed to start")
        ├── JobFailed                 the job ended dead; carries its last error events
        ├── WaitTimeout               the job was still active when the wait ran out
        ├── ResultsError              a result URL could not be read from any replica
        ├── InvalidTag                a DDFS tag name DDFS cannot hold
        └── (HTTPStatusError)
            └── DdfsRequestError      DDFS refused a request (404 no tag, 401 token, 403 name)

Every exception carries the URL it came from (``url``) when there is one, and
its message is a full sentence that says what to do next.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydisco.errors import PydiscoError

if TYPE_CHECKING:
    from pydisco.client.models import Event

__all__ = [
    "BadReply",
    "ClientError",
    "DdfsRequestError",
    "HTTPStatusError",
    "InvalidMasterURL",
    "InvalidTag",
    "JobFailed",
    "JobSubmitError",
    "JobUnknown",
    "MasterUnreachable",
    "ResultsError",
    "WaitTimeout",
]


class ClientError(PydiscoError):
    """Base class of every client error."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class InvalidMasterURL(ClientError, ValueError):
    """The master URL given (or found in the environment) cannot be used."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"The master URL {url!r} is not an http(s) URL with a host (and a valid port); "
            "give one like http://127.0.0.1:8989.",
            url=url,
        )


class MasterUnreachable(ClientError):
    """Nothing answered at the master's URL, even after retrying."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"Cannot reach the Disco master at {url} ({reason}). Check that the master is "
            "running and that the client's URL, DISCO_MASTER or DISCO_MASTER_HOST/DISCO_PORT "
            "point at it (start a local one with 'discotool master').",
            url=url,
        )
        self.reason = reason


class HTTPStatusError(ClientError):
    """The server answered with a status outside 2xx."""

    def __init__(self, url: str, status: int, body: str) -> None:
        shown = body.strip() or "(empty body)"
        if len(shown) > 500:
            shown = shown[:500] + "..."
        if status == 401:
            hint = "Give the client the master's token (token=..., or DISCO_TOKEN)."
        elif status == 503:
            hint = "The server is busy; try again later."
        else:
            hint = "Check the request, the job name and the server's log."
        super().__init__(f"{url} answered HTTP {status}: {shown}. {hint}", url=url)
        self.status = status
        self.body = body


class BadReply(ClientError):
    """A successful answer whose shape is not what the endpoint returns."""

    def __init__(self, url: str, expected: str, received: object) -> None:
        text = repr(received)
        if len(text) > 300:
            text = text[:300] + "..."
        super().__init__(
            f"{url} answered with something the client does not understand: expected "
            f"{expected}, received {text}. Check that the URL points at a Disco 0.5.4 "
            "compatible master.",
            url=url,
        )
        self.expected = expected
        self.received = received


class JobUnknown(ClientError):
    """The master does not know this job: never submitted, cleaned, or (on a real Disco
    master, which keeps jobs in memory only) from before the master's last restart.

    ``reference_master`` says which kind of master answered (see
    :mod:`pydisco.identity`): the restart is named as a cause only for a real Disco
    master, and both are named when the kind is not known.
    """

    def __init__(self, name: str, url: str = "", *, reference_master: bool | None = None) -> None:
        if reference_master is None:
            gone = (
                "cleaned jobs are gone (and, on a real Disco master, the jobs from before "
                "its last restart; pydisco's reference master keeps those)."
            )
        elif reference_master:
            gone = "cleaned and purged jobs are gone."
        else:
            gone = (
                "cleaned jobs are gone, and so are the jobs from before the master's last "
                "restart (a Disco master keeps its jobs in memory only)."
            )
        super().__init__(
            f"The master does not know the job {name!r}. Check the name with "
            f"'discotool jobs': {gone}",
            url=url,
        )
        self.name = name
        self.reference_master = reference_master


class JobSubmitError(ClientError):
    """The master refused the job pack; ``reason`` is its ``Job failed to start`` text."""

    def __init__(self, reason: str, url: str = "") -> None:
        super().__init__(
            f"The master refused the job pack: {reason}. Fix the job pack "
            "('discotool inspect FILE' shows what is wrong) and submit it again.",
            url=url,
        )
        self.reason = reason


class JobFailed(ClientError):
    """The job ended ``dead``; ``events`` holds its last error events, oldest first."""

    def __init__(self, name: str, events: Sequence[Event] = (), url: str = "") -> None:
        lines = "".join(f"\n  {event.line()}" for event in events)
        hint = f" Last error events:{lines}" if lines else ""
        super().__init__(
            f"Job {name} failed (status dead).{hint}\nSee all its events with "
            f"'discotool events {name}'.",
            url=url,
        )
        self.name = name
        self.events = tuple(events)


class WaitTimeout(ClientError):
    """The job was still active when the wait's time limit ran out."""

    def __init__(self, name: str, timeout: float, url: str = "") -> None:
        super().__init__(
            f"Job {name} is still active after waiting {timeout:g} s; it keeps running. "
            f"Wait longer with 'discotool wait {name}' or stop it with 'discotool kill {name}'.",
            url=url,
        )
        self.name = name
        self.timeout = timeout


class ResultsError(ClientError):
    """A result could not be read from any of its replicas."""

    def __init__(self, message: str, *, url: str = "", attempts: Sequence[str] = ()) -> None:
        super().__init__(message, url=url)
        self.attempts = tuple(attempts)


class DdfsRequestError(HTTPStatusError):
    """A DDFS request the server refused; the message says what to do about it."""

    def __init__(self, url: str, status: int, body: str) -> None:
        super().__init__(url, status, body)
        shown = body.strip() or "(empty body)"
        if status == 401:
            hint = (
                "The tag is protected by a token: give it with --ddfs-token, "
                "DDFS_READ_TOKEN/DDFS_WRITE_TOKEN, token= or tag://user:TOKEN@/name."
            )
        elif status == 404:
            hint = "List the tags with 'discotool ddfs ls'."
        elif status == 403:
            hint = "Tag names and blob names use 1-511 characters from A-Z a-z 0-9 : @ _ -."
        else:
            hint = "Check the request and the master's log."
        self.args = (f"{url} answered HTTP {status}: {shown} {hint}",)


class InvalidTag(ClientError):
    """A tag name that DDFS cannot hold."""

    def __init__(self, value: object) -> None:
        super().__init__(
            f"{value!r} is not a DDFS tag: give a name of 1-511 characters from "
            "A-Z a-z 0-9 : @ _ - (or a tag:// URL)."
        )
        self.value = value
