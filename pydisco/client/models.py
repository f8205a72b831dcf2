"""Typed values returned by the client, and the parsers that build them from replies.

Each ``parse_*`` function takes the decoded JSON of one endpoint's reply and the
URL it came from, and either returns frozen attrs instances or raises
:class:`~pydisco.client.errors.BadReply` naming what was expected.
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
from collections.abc import Mapping
from typing import Any

import attrs

from pydisco.client.errors import BadReply
from pydisco.integers import parse_decimal

__all__ = [
    "ConfigEntry",
    "Event",
    "JobInfo",
    "JobResults",
    "JobStatus",
    "JobSummary",
    "NodeInfo",
    "Settings",
    "StageCounts",
]

#: The master's time format in ``jobinfo.timestamp`` and event lines (local time).
TIME_FORMAT = "%Y/%m/%d %H:%M:%S"


class JobStatus(str, enum.Enum):
    """A job's state as the master reports it (facts §10.6)."""

    ACTIVE = "active"
    READY = "ready"
    DEAD = "dead"
    UNKNOWN = "unknown job"
    INITIALIZING = "initializing"

    def __str__(self) -> str:
        return self.value


def _status(value: object, url: str) -> JobStatus:
    try:
        return JobStatus(value)
    except ValueError:
        raise BadReply(url, "a job status (active, ready, dead, unknown job)", value) from None


def _int(value: object, url: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        parsed = parse_decimal(value, signed=True) if isinstance(value, str) else None
        if parsed is None:
            raise BadReply(url, f"an integer {what}", value)
        return parsed
    return value


def _str(value: object, url: str, what: str) -> str:
    if not isinstance(value, str):
        raise BadReply(url, f"a string {what}", value)
    return value


def _list(value: object, url: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadReply(url, f"a list of {what}", value)
    return value


def _strings(value: object, url: str, what: str) -> tuple[str, ...]:
    return tuple(_str(item, url, what) for item in _list(value, url, what))


def parse_time(text: str) -> _dt.datetime | None:
    """The master's ``YYYY/MM/DD HH:MM:SS`` local time, or ``None`` if it is not one."""
    try:
        return _dt.datetime.strptime(text, TIME_FORMAT)
    except ValueError:
        return None


@attrs.frozen
class JobSummary:
    """One row of ``joblist``: a job the master holds in memory."""

    name: str
    status: JobStatus
    #: Start time, seconds since the epoch as the master reports it.
    start_time: int

    @property
    def started(self) -> _dt.datetime:
        """The start time as a local :class:`datetime.datetime`."""
        return _dt.datetime.fromtimestamp(self.start_time)


def parse_joblist(data: object, url: str) -> tuple[JobSummary, ...]:
    rows = []
    for row in _list(data, url, "[start_secs, status, name] rows"):
        if not isinstance(row, list) or len(row) != 3:
            raise BadReply(url, "a [start_secs, status, name] row", row)
        start, status, name = row
        rows.append(
            JobSummary(
                name=_str(name, url, "job name"),
                status=_status(status, url),
                start_time=_int(start, url, "start time"),
            )
        )
    return tuple(rows)


@attrs.frozen
class StageCounts:
    """One stage row of ``jobinfo.pipeline``: its tasks by state."""

    stage: str
    pending: int
    waiting: int
    running: int
    done: int
    failed: int

    @property
    def total(self) -> int:
        """Tasks known for the stage (``waiting`` can be negative, see facts §9.2)."""
        return max(self.pending + self.waiting + self.running + self.done, 0)

    def describe(self) -> str:
        """The line Disco's client prints: ``[stage] P pending, W waiting, ...``."""
        return (
            f"[{self.stage}] {self.pending} pending, {self.waiting} waiting, "
            f"{self.running} running, {self.done} done, {self.failed} failed"
        )


@attrs.frozen
class JobInfo:
    """The reply of ``jobinfo``: a job's state, stages, inputs and results."""

    name: str
    #: Start time as the master printed it (its local time).
    timestamp: str
    status: JobStatus
    stages: tuple[StageCounts, ...]
    #: Result URLs, flattened (replica lists are merged, facts §14.16).
    results: tuple[str, ...]
    inputs: tuple[str, ...]
    worker: str
    #: One host per running task.
    hosts: tuple[str, ...]
    owner: str

    @property
    def start(self) -> _dt.datetime | None:
        return parse_time(self.timestamp)

    def current_stage(self) -> StageCounts | None:
        """The row Disco's client shows: the last stage with any count, else the first."""
        for row in reversed(self.stages):
            if row.pending or row.waiting or row.running or row.done or row.failed:
                return row
        return self.stages[0] if self.stages else None


def parse_jobinfo(data: object, url: str, name: str) -> JobInfo:
    if not isinstance(data, dict):
        raise BadReply(url, "a jobinfo object", data)
    stages = []
    for row in _list(data.get("pipeline", []), url, "pipeline rows"):
        if not isinstance(row, list) or len(row) != 6:
            raise BadReply(url, "a [stage, pending, waiting, running, done, failed] row", row)
        stage, *counts = row
        p, w, r, d, f = (_int(c, url, "task count") for c in counts)
        stages.append(StageCounts(_str(stage, url, "stage name"), p, w, r, d, f))
    results: list[str] = []
    for item in _list(data.get("results", []), url, "result URLs"):
        # Flattened in 0.5.4; accept nested replica lists too.
        results.extend(_strings(item, url, "result URLs") if isinstance(item, list) else [item])
    return JobInfo(
        name=name,
        timestamp=_str(data.get("timestamp", ""), url, "timestamp"),
        status=_status(data.get("active"), url),
        stages=tuple(stages),
        results=tuple(_str(u, url, "result URL") for u in results),
        inputs=_strings(data.get("inputs", []), url, "input URLs"),
        worker=_str(data.get("worker", ""), url, "worker"),
        hosts=_strings(data.get("hosts", []), url, "hosts"),
        owner=_str(data.get("owner", ""), url, "owner"),
    )


@attrs.frozen
class NodeInfo:
    """One host of ``nodeinfo``."""

    host: str
    job_ok: int
    data_error: int
    error: int
    max_workers: int
    connected: bool
    blacklisted: bool
    #: Job names, one per task running on the host.
    tasks: tuple[str, ...] = ()
    diskfree: int | None = None
    diskused: int | None = None


def parse_nodeinfo(data: object, url: str) -> tuple[NodeInfo, ...]:
    if not isinstance(data, dict):
        raise BadReply(url, "an object of host -> node info", data)
    nodes = []
    for host, info in sorted(data.items()):
        if not isinstance(info, dict):
            raise BadReply(url, "a node info object", info)
        free, used = info.get("diskfree"), info.get("diskused")
        nodes.append(
            NodeInfo(
                host=host,
                job_ok=_int(info.get("job_ok", 0), url, "job_ok"),
                data_error=_int(info.get("data_error", 0), url, "data_error"),
                error=_int(info.get("error", 0), url, "error"),
                max_workers=_int(info.get("max_workers", 0), url, "max_workers"),
                connected=bool(info.get("connected", False)),
                blacklisted=bool(info.get("blacklisted", False)),
                tasks=_strings(info.get("tasks", []), url, "task job names"),
                diskfree=None if free is None else _int(free, url, "diskfree"),
                diskused=None if used is None else _int(used, url, "diskused"),
            )
        )
    return tuple(nodes)


@attrs.frozen
class Settings:
    """The master's run-time settings (``get_settings``)."""

    max_failure_rate: int = 100
    accept_new_jobs: int = 1
    #: Any other keys the master returned, as it returned them.
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.extra,
            "max_failure_rate": self.max_failure_rate,
            "accept_new_jobs": self.accept_new_jobs,
        }


def parse_settings(data: object, url: str) -> Settings:
    if not isinstance(data, dict):
        raise BadReply(url, "a settings object", data)
    known = {"max_failure_rate", "accept_new_jobs"}
    return Settings(
        max_failure_rate=_int(data.get("max_failure_rate", 100), url, "max_failure_rate"),
        accept_new_jobs=_int(data.get("accept_new_jobs", 1), url, "accept_new_jobs"),
        extra={k: v for k, v in data.items() if k not in known},
    )


@attrs.frozen
class ConfigEntry:
    """One row of the master's node table: a node spec (``node01:10`` allowed) and its slots."""

    nodespec: str
    max_workers: int

    def to_json(self) -> list[str]:
        return [self.nodespec, str(self.max_workers)]


def parse_config_table(data: object, url: str) -> tuple[ConfigEntry, ...]:
    rows = []
    for row in _list(data, url, "[nodespec, max_workers] rows"):
        if not isinstance(row, list) or len(row) != 2:
            raise BadReply(url, "a [nodespec, max_workers] row", row)
        rows.append(ConfigEntry(_str(row[0], url, "nodespec"), _int(row[1], url, "max_workers")))
    return tuple(rows)


#: A result entry: a list of replica URLs, or a single ``tag://`` string (save_results).
ResultEntry = tuple[str, ...]


@attrs.frozen
class JobResults:
    """One job's entry of ``get_results``."""

    name: str
    status: JobStatus
    #: One entry per output of the last stage: its replica URLs, in order.
    results: tuple[ResultEntry, ...]

    @property
    def finished(self) -> bool:
        return self.status is not JobStatus.ACTIVE


def parse_results(data: object, url: str) -> tuple[JobResults, ...]:
    out = []
    for row in _list(data, url, "[name, [status, results]] rows"):
        if (
            not isinstance(row, list)
            or len(row) != 2
            or not isinstance(row[1], list)
            or len(row[1]) != 2
        ):
            raise BadReply(url, "a [name, [status, results]] row", row)
        name, (status, results) = row
        entries: list[ResultEntry] = []
        if isinstance(results, str):
            entries.append((results,))
        else:
            for entry in _list(results, url, "result entries"):
                entries.append(
                    (entry,) if isinstance(entry, str) else _strings(entry, url, "replica URLs")
                )
        out.append(JobResults(_str(name, url, "job name"), _status(status, url), tuple(entries)))
    return tuple(out)


_MESSAGE = re.compile(r"([A-Z]+): (?:\[([^\]]*):(\d+)\] )?(.*)", re.DOTALL)

#: Event kinds that say something went wrong.
ERROR_KINDS = frozenset({"FATAL", "ERROR", "WARNING", "WARN"})


@attrs.frozen
class Event:
    """One line of a job's events: ``["YYYY/MM/DD HH:MM:SS", "host", "message"]``.

    ``kind``, ``stage`` and ``task`` are filled in when the message has the
    ``KIND: [stage:id] text`` form (``kind`` alone for ``READY: ...``); ``text``
    is then the rest of the message, else the whole message.
    """

    timestamp: str
    host: str
    message: str
    kind: str | None = None
    stage: str | None = None
    task: int | None = None
    text: str = ""
    #: Byte offset of the line in the events file, when read through ``rawevents``.
    offset: int | None = None

    @property
    def time(self) -> _dt.datetime | None:
        """The time as a naive local :class:`datetime.datetime` (the master's local time)."""
        return parse_time(self.timestamp)

    @property
    def is_error(self) -> bool:
        return self.kind in ERROR_KINDS

    def line(self) -> str:
        """The event as one human-readable line."""
        return f"{self.timestamp} {self.host}: {self.message.rstrip()}"

    def to_json(self) -> list[str]:
        return [self.timestamp, self.host, self.message]


def make_event(timestamp: str, host: str, message: str, offset: int | None = None) -> Event:
    """Build an :class:`Event`, parsing ``KIND: [stage:id] text`` when it is there."""
    match = _MESSAGE.fullmatch(message.rstrip("\n"))
    if match is None:
        return Event(timestamp, host, message, text=message, offset=offset)
    kind, stage, task, text = match.groups()
    return Event(
        timestamp,
        host,
        message,
        kind=kind,
        stage=stage,
        task=None if task is None else int(task),
        text=text,
        offset=offset,
    )


def event_from_json(item: object, url: str, offset: int | None = None) -> Event:
    if (
        not isinstance(item, list)
        or len(item) != 3
        or not all(isinstance(part, str) for part in item)
    ):
        raise BadReply(url, 'an event ["YYYY/MM/DD HH:MM:SS", "host", "message"]', item)
    return make_event(item[0], item[1], item[2], offset)
