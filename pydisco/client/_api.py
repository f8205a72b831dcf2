"""Every master endpoint as data: how to build its request and parse its reply.

This module does no I/O. Each endpoint function returns a :class:`Call`: the
method, path, query, body and a ``parse`` function from a :class:`Reply` to a
typed value. :class:`~pydisco.client.master.Master` and
:class:`~pydisco.client.master.AsyncMaster` execute the same calls, one with a
blocking and one with an asynchronous transport, so the endpoint logic exists
once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, Generic, TypeVar

import attrs

from pydisco import jsoncodec
from pydisco.client import models
from pydisco.client.errors import (
    BadReply,
    HTTPStatusError,
    JobSubmitError,
    JobUnknown,
)
from pydisco.identity import is_reference_master
from pydisco.integers import parse_decimal

T = TypeVar("T")

UPLOAD_CHUNK = 1 << 20


@attrs.frozen
class Reply:
    """A finished HTTP answer (its body already read, unless it went to a sink)."""

    status: int
    body: bytes
    url: str
    headers: dict[str, str] = attrs.field(factory=dict)

    def json(self) -> Any:
        try:
            return jsoncodec.loads(self.body)
        except jsoncodec.JSONError as exc:
            raise BadReply(self.url, "a JSON body", self.body[:200]) from exc


@attrs.frozen
class Upload:
    """A request body streamed from a seekable binary file, from ``start`` for ``size`` bytes."""

    fileobj: IO[bytes]
    start: int
    size: int

    @classmethod
    def of(cls, fileobj: IO[bytes]) -> Upload:
        start = fileobj.tell()
        size = os.fstat(fileobj.fileno()).st_size - start if _has_fileno(fileobj) else None
        if size is None:
            fileobj.seek(0, os.SEEK_END)
            size = fileobj.tell() - start
        fileobj.seek(start)
        return cls(fileobj, start, size)

    def chunks(self) -> Iterator[bytes]:
        """The body from its start (each attempt of a retried request starts over)."""
        self.fileobj.seek(self.start)
        left = self.size
        while left > 0:
            chunk = self.fileobj.read(min(UPLOAD_CHUNK, left))
            if not chunk:
                raise OSError("the job pack file got shorter while it was being sent")
            left -= len(chunk)
            yield chunk


def _has_fileno(fileobj: IO[bytes]) -> bool:
    try:
        fileobj.fileno()
    except (OSError, AttributeError, ValueError):
        return False
    return True


@attrs.frozen
class Call(Generic[T]):
    """One request to the master and the parser of its reply."""

    method: str
    path: str
    parse: Callable[[Reply], T]
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    upload: Upload | None = None
    headers: tuple[tuple[str, str], ...] = ()
    #: Extra seconds the master may legitimately take before answering (long polls).
    extra_timeout: float = 0.0
    #: Write a successful body here instead of keeping it in memory.
    sink: IO[bytes] | None = None
    #: The job this call is about: a 404 then means :class:`JobUnknown`.
    job: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.upload is not None:
            headers["Content-Length"] = str(self.upload.size)
            headers["Content-Type"] = "application/octet-stream"
        elif self.body is not None:
            headers["Content-Type"] = "application/json"
        return headers


def check(call: Call[Any], reply: Reply) -> Reply:
    """Raise the client error that a non-2xx reply to ``call`` stands for."""
    if 200 <= reply.status < 300:
        return reply
    if reply.status == 404 and call.job is not None:
        raise JobUnknown(call.job, reply.url, reference_master=is_reference_master(reply.headers))
    raise HTTPStatusError(reply.url, reply.status, reply.body.decode("utf-8", "replace"))


def _json_body(value: Any) -> bytes:
    return jsoncodec.dumps(value)


def _expect_string(reply: Reply) -> str:
    value = reply.json()
    if not isinstance(value, str):
        raise BadReply(reply.url, "a JSON string", value)
    return value


def _expect_exact(expected: str) -> Callable[[Reply], None]:
    def parse(reply: Reply) -> None:
        value = _expect_string(reply)
        if value != expected:
            raise BadReply(reply.url, f"the JSON string {expected!r}", value)

    return parse


def _name_param(name: str) -> tuple[tuple[str, str], ...]:
    return (("name", name),)


# -- endpoints, in the order of facts §9.2 ---------------------------------------------


def version() -> Call[str]:
    """The master's version string, e.g. ``"0.5.4"``."""
    return Call("GET", "/disco/version", _expect_string)


def _parse_submit(reply: Reply) -> str:
    value = reply.json()
    if (
        not isinstance(value, list)
        or len(value) != 2
        or value[0] not in ("ok", "error")
        or not isinstance(value[1], str)
    ):
        raise BadReply(reply.url, '["ok", "<jobname>"] or ["error", "<reason>"]', value)
    status, text = value
    if status != "ok":
        raise JobSubmitError(text, reply.url)
    return str(text)


def submit(upload: Upload) -> Call[str]:
    """POST a binary job pack; the reply is the new job's name."""
    return Call("POST", "/disco/job/new", _parse_submit, upload=upload)


def joblist() -> Call[tuple[models.JobSummary, ...]]:
    """The jobs the master holds, newest first."""
    return Call("GET", "/disco/ctrl/joblist", lambda r: models.parse_joblist(r.json(), r.url))


def jobinfo(name: str) -> Call[models.JobInfo]:
    """What the master knows of the job: status, stages, inputs, results (a JobInfo)."""
    return Call(
        "GET",
        "/disco/ctrl/jobinfo",
        lambda r: models.parse_jobinfo(r.json(), r.url, name),
        params=_name_param(name),
        job=name,
    )


def jobpack_bytes(name: str) -> Call[bytes]:
    """The job pack as submitted, in memory."""
    return jobpack(name)


def jobpack(name: str, sink: IO[bytes] | None = None) -> Call[bytes]:
    """The job pack as submitted: its bytes, or written to ``sink`` (then ``b""``)."""
    return Call(
        "GET",
        "/disco/ctrl/parameters",
        lambda r: r.body,
        params=_name_param(name),
        sink=sink,
        job=name,
    )


def rawevents_body(reply: Reply, offset: int) -> bytes:
    """The events file's bytes from ``offset`` in a :func:`rawevents` reply (206, 200 or 416)."""
    if reply.status == 200 and offset > 0:
        return reply.body[offset:]
    return b"" if reply.status == 416 else reply.body


def rawevents(name: str, offset: int = 0) -> Call[Reply]:
    """The events file from byte ``offset``: see :class:`EventCursor` for reading it."""
    headers = (("Range", f"bytes={offset}-"),) if offset > 0 else ()
    return Call(
        "GET",
        "/disco/ctrl/rawevents",
        lambda r: r,
        params=_name_param(name),
        headers=headers,
        job=name,
    )


def _parse_jobevents(reply: Reply) -> tuple[models.Event, ...]:
    if not reply.body.strip():
        return ()
    value = reply.json()
    if not isinstance(value, list):
        raise BadReply(reply.url, "a JSON list of events", value)
    events = []
    for item in value:
        # Some masters send each line as a string holding one JSON event.
        line = jsoncodec.loads(item) if isinstance(item, str) and item.startswith("[") else item
        events.append(models.event_from_json(line, reply.url))
    return tuple(events)


def jobevents(name: str, num: int = 10, filter: str = "") -> Call[tuple[models.Event, ...]]:
    """Up to ``num`` (at most 1000) events, newest first, optionally matching ``filter``."""
    params: list[tuple[str, str]] = [("name", name), ("num", str(num))]
    if filter:
        params.append(("filter", filter))
    return Call("GET", "/disco/ctrl/jobevents", _parse_jobevents, params=tuple(params), job=name)


def nodeinfo() -> Call[tuple[models.NodeInfo, ...]]:
    """Every node: its slots, running tasks, failure counts and whether it is usable."""
    return Call("GET", "/disco/ctrl/nodeinfo", lambda r: models.parse_nodeinfo(r.json(), r.url))


def _parse_hosts(reply: Reply) -> tuple[str, ...]:
    value = reply.json()
    if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
        raise BadReply(reply.url, "a JSON list of host names", value)
    return tuple(value)


def get_blacklist() -> Call[tuple[str, ...]]:
    """Nodes taken out of scheduling by hand."""
    return Call("GET", "/disco/ctrl/get_blacklist", _parse_hosts)


def get_gc_blacklist() -> Call[tuple[str, ...]]:
    """Nodes whose data the garbage collector leaves alone."""
    return Call("GET", "/disco/ctrl/get_gc_blacklist", _parse_hosts)


def get_settings() -> Call[models.Settings]:
    """The master's settings (``max_failure_rate``, ``accept_new_jobs``)."""
    return Call("GET", "/disco/ctrl/get_settings", lambda r: models.parse_settings(r.json(), r.url))


def _parse_stageresults(reply: Reply) -> tuple[tuple[str, ...], ...]:
    value = reply.json()
    if not isinstance(value, list) or not all(
        isinstance(e, list) and all(isinstance(u, str) for u in e) for e in value
    ):
        raise BadReply(reply.url, "a list of replica URL lists", value)
    return tuple(tuple(entry) for entry in value)


def stageresults(name: str, stage: str) -> Call[tuple[tuple[str, ...], ...]]:
    """Each output of a finished stage as its replica URLs (:class:`JobUnknown` on a 404)."""
    return Call(
        "GET",
        "/disco/ctrl/get_stageresults",
        _parse_stageresults,
        params=(("name", name), ("stage", stage)),
        job=name,
    )


def load_config_table() -> Call[tuple[models.ConfigEntry, ...]]:
    """The node table (the master re-reads and re-applies its config file)."""
    return Call(
        "GET",
        "/disco/ctrl/load_config_table",
        lambda r: models.parse_config_table(r.json(), r.url),
    )


def _post(path: str, value: Any, parse: Callable[[Reply], T], job: str | None = None) -> Call[T]:
    return Call("POST", path, parse, body=_json_body(value), job=job)


def _ignore(reply: Reply) -> None:
    reply.json()


def kill_job(name: str) -> Call[None]:
    """Kill the job: its workers stop and it ends dead."""
    return _post("/disco/ctrl/kill_job", name, _ignore)


def clean_job(name: str) -> Call[None]:
    """Kill the job and forget it (its data on the nodes stays)."""
    return _post("/disco/ctrl/clean_job", name, _ignore)


def purge_job(name: str) -> Call[None]:
    """Kill the job, forget it and delete its data on every node."""
    return _post("/disco/ctrl/purge_job", name, _ignore)


def get_results(names: Sequence[str], timeout_ms: int = 0) -> Call[tuple[models.JobResults, ...]]:
    """Each job's status and results, after waiting up to ``timeout_ms`` for any active one."""
    return attrs.evolve(
        _post(
            "/disco/ctrl/get_results",
            [int(timeout_ms), list(names)],
            lambda r: models.parse_results(r.json(), r.url),
        ),
        extra_timeout=max(timeout_ms, 0) / 1000,
    )


def blacklist(host: str) -> Call[None]:
    """Take ``host`` out of scheduling."""
    return _post("/disco/ctrl/blacklist", host, _ignore)


def whitelist(host: str) -> Call[None]:
    """Put ``host`` back into scheduling."""
    return _post("/disco/ctrl/whitelist", host, _ignore)


def gc_blacklist(host: str) -> Call[None]:
    """Keep the garbage collector away from ``host``'s data."""
    return _post("/disco/ctrl/gc_blacklist", host, _ignore)


def gc_whitelist(host: str) -> Call[None]:
    """Let the garbage collector clean ``host``'s data again."""
    return _post("/disco/ctrl/gc_whitelist", host, _ignore)


def save_config_table(entries: Sequence[models.ConfigEntry]) -> Call[None]:
    """Replace the node table with ``entries``."""
    return _post(
        "/disco/ctrl/save_config_table",
        [entry.to_json() for entry in entries],
        _expect_exact("table saved!"),
    )


def save_settings(**values: int) -> Call[None]:
    """Set ``max_failure_rate`` and/or ``accept_new_jobs`` (sent as strings holding integers)."""
    return _post(
        "/disco/ctrl/save_settings",
        {key: str(int(value)) for key, value in values.items()},
        _expect_exact("Settings saved"),
    )


# -- reading the events file incrementally ---------------------------------------------


class EventCursor:
    """Reads a job's ``events`` file piece by piece, each line exactly once.

    Ask :meth:`call` for the next request, execute it, and hand the reply to
    :meth:`feed`, which returns the new events. The cursor keeps the byte
    offset of the first line it has not returned yet, and only returns
    complete lines (a line still being written is read next time).

    Disco's master answers a range that starts at or past the end of the file
    with 200 and the *whole* file (facts §6.3, §14.13); a 200 to a ranged
    request is therefore cut at the offset here, so no event is repeated.
    """

    def __init__(self, name: str, offset: int = 0) -> None:
        self.name = name
        self.offset = offset

    def call(self) -> Call[Reply]:
        return rawevents(self.name, self.offset)

    def feed(self, reply: Reply) -> list[models.Event]:
        if reply.status == 416:  # another server's answer to a range past the end
            return []
        data = reply.body
        if reply.status == 200 and self.offset > 0:
            data = data[self.offset :]
        elif reply.status == 206:
            start = _content_range_start(reply.headers.get("content-range", ""))
            if start is not None and start != self.offset:
                data = data[self.offset - start :] if start < self.offset else b""
        events = []
        position = 0
        while True:
            end = data.find(b"\n", position)
            if end < 0:
                break
            line = data[position:end]
            if line.strip():
                try:
                    item = jsoncodec.loads(line)
                except jsoncodec.JSONError as exc:
                    raise BadReply(reply.url, "one JSON event per line", line[:200]) from exc
                events.append(models.event_from_json(item, reply.url, self.offset + position))
            position = end + 1
        self.offset += position
        return events


def _content_range_start(value: str) -> int | None:
    # "bytes 100-199/200"
    fields = value.split()
    return parse_decimal(fields[1].split("-", maxsplit=1)[0]) if len(fields) > 1 else None


ERROR_EVENT_LIMIT = 5


def last_error_events(
    events: Sequence[models.Event], limit: int = ERROR_EVENT_LIMIT
) -> tuple[models.Event, ...]:
    """The events that explain a failure: the last ``limit`` error events, oldest first."""
    errors = [event for event in events if event.is_error]
    return tuple(errors[-limit:])
