"""``discotool`` commands about jobs: submit, jobs, info, wait, events, results, ...

Each command talks to one master (``--master``, else the environment) through
:class:`pydisco.client.Master`. Exit codes are listed in
:mod:`pydisco.cli._output`.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from typing import IO, Any, Final

import attrs
import click

from pydisco.cli._output import (
    EXIT_FAILED,
    EXIT_USAGE,
    CommandError,
    client_options,
    connect,
    emit_json,
    emit_json_line,
    handle_errors,
    interrupt_message,
    note,
    options,
    result_modes,
    table,
)
from pydisco.cli._progress import Progress
from pydisco.client import ClientError, Event, JobFailed, JobInfo, JobResults, JobStatus, Master
from pydisco.client.models import parse_time

_JOB = click.argument("job", metavar="JOB")


def job_name(master: Master, job: str) -> str:
    """``job``, or the job Disco's shortcuts stand for: ``@`` the newest, ``@?TEXT`` the
    newest whose name contains ``TEXT``. Any other name is taken as it is."""
    if not job.startswith("@"):
        return job
    if job != "@" and not job.startswith("@?"):
        return job
    text = job[2:]
    for summary in master.joblist():  # newest first
        if text in summary.name:
            return summary.name
    wanted = f"whose name contains {text!r}" if text else "at all"
    raise CommandError(f"The master at {master.url} has no job {wanted} (for {job!r}).")


def _known(master: Master, name: str) -> None:
    """Raise ``JobUnknown`` unless the master holds ``name`` (kill/clean/purge answer ok)."""
    if master.results(name).status is JobStatus.UNKNOWN:
        from pydisco.client import JobUnknown

        raise JobUnknown(name, master.url, reference_master=master.reference_master)


def _json_value(value: Any) -> Any:
    return attrs.asdict(value, value_serializer=lambda _i, _a, v: str(v) if _enum(v) else v)


def _enum(value: object) -> bool:
    return isinstance(value, JobStatus)


def _shown(url: str) -> str:
    """A URL on one line: ``raw://`` data may hold newlines and other control characters."""
    return url if url.isprintable() else repr(url)[1:-1]


def iso_time(moment: datetime.datetime | None) -> str | None:
    """The one time form of ``--json`` output: ISO 8601, the master's local time.

    Disco gives job start times as epoch seconds (``joblist``) and as
    ``YYYY/MM/DD HH:MM:SS`` (``jobinfo``, events); both become this, and the
    raw value is kept beside it.
    """
    return None if moment is None else moment.isoformat(timespec="seconds")


def _event_json(event: Event) -> dict[str, Any]:
    return {
        "time": iso_time(event.time) or event.timestamp,
        "time_disco": event.timestamp,
        "host": event.host,
        "message": event.message,
        "kind": event.kind,
        "stage": event.stage,
        "task": event.task,
        "offset": event.offset,
    }


# -- waiting and printing results, shared with ``run`` ----------------------------------


class _FailureReporter:
    """Prints the newest error event of each task whose failure raised the failed count."""

    def __init__(self, master: Master, name: str, progress: Progress) -> None:
        self.master = master
        self.name = name
        self.progress = progress
        self.failed = 0
        self.offset = 0
        #: Offsets of the error events already shown.
        self.shown: set[int | None] = set()

    def __call__(self, info: JobInfo) -> None:
        self.progress(info)
        failed = sum(row.failed for row in info.stages)
        if failed <= self.failed:
            return
        self.failed = failed
        try:
            found, self.offset = self.master.events(self.name, self.offset)
        except ClientError:
            return
        newest: dict[tuple[str | None, int | None], Event] = {}
        for event in found:
            if event.kind in _FAILURE_KINDS:
                newest[(event.stage, event.task)] = event
        for event in newest.values():
            self.shown.add(event.offset)
            self.progress.say(_failure_text(event))


#: Event kinds that carry a task's failure (WARNING: retried; ERROR, FATAL: the job ends).
_FAILURE_KINDS: Final = frozenset({"WARNING", "ERROR", "FATAL"})


def _failure_text(event: Event) -> str:
    task = f"task {event.stage}:{event.task}" if event.stage is not None else "the job"
    return f"{event.kind}: {task} failed on {event.host}:\n{event.text.rstrip()}"


def probable_cause(events: Sequence[Event]) -> Event | None:
    """The event that most probably ended a dead job: the last FATAL or ERROR naming a task,
    else the last FATAL or ERROR, else the last warning."""
    serious = [e for e in events if e.kind in ("FATAL", "ERROR")]
    with_task = [e for e in serious if e.task is not None]
    for group in (with_task, serious, [e for e in events if e.is_error]):
        if group:
            return group[-1]
    return None


def cause_text(event: Event, events: Sequence[Event]) -> str:
    """The text of the probable cause ``event``; when it only says that its task failed too
    often (Disco's ERROR after the last retry), the task's last failure (its traceback) too."""
    text = event.text.rstrip() or event.message.rstrip()
    if event.kind != "ERROR" or event.task is None:
        return text
    earlier = [
        e for e in events if e.kind == "WARNING" and (e.stage, e.task) == (event.stage, event.task)
    ]
    if not earlier:
        return text
    return f"{text}\nIts last failure:\n{earlier[-1].text.rstrip()}"


def cause_json(event: Event | None, events: Sequence[Event] = ()) -> dict[str, Any] | None:
    """The ``cause`` field of ``--json`` output for a dead job."""
    if event is None:
        return None
    return {
        "kind": event.kind,
        "stage": event.stage,
        "task": event.task,
        "host": event.host,
        "time": iso_time(event.time) or event.timestamp,
        "message": cause_text(event, events),
    }


def watch(
    master: Master,
    name: str,
    *,
    timeout: float | None = None,
    poll: float = 0.5,
    interrupted: str | None = None,
    gone: str | None = None,
) -> JobResults:
    """Wait for ``name`` with progress on stderr; Ctrl-C leaves it running and says so.

    Each time the failed count rises, the failing task's newest error event
    is printed. If the job ends dead, the probable cause is printed (and with
    ``--json`` given as ``cause`` on stdout) and the command fails (exit 1);
    ``gone`` replaces the hint to look at the job's events (its master is gone).
    """
    message = interrupted or (
        f"\nStopped waiting. Job {name} is still running on the master at {master.url}; "
        f"check it with 'discotool info {name}' or stop it with 'discotool kill {name}'."
    )
    with interrupt_message(message), Progress(name) as progress:
        reporter = _FailureReporter(master, name, progress)
        try:
            return master.wait(name, timeout=timeout, poll_interval=poll, on_progress=reporter)
        except JobFailed as exc:
            events = exc.events
            cause = probable_cause(events)
            failure = _dead_job_message(name, cause, events, reporter.shown, gone)
    if options().json:
        emit_json({"name": name, "status": "dead", "cause": cause_json(cause, events)})
    raise CommandError(failure)


def _dead_job_message(
    name: str,
    cause: Event | None,
    events: Sequence[Event],
    shown: set[int | None],
    gone: str | None,
) -> str:
    hint = gone or f"See all its events with 'discotool events {name}'."
    if cause is None:
        return f"Job {name} failed (status dead) without an error event. {hint}"
    task = f"task {cause.stage}:{cause.task}" if cause.stage is not None else "the job"
    where = f"{task} on {cause.host}"
    if cause.offset is not None and cause.offset in shown:
        return (
            f"Job {name} failed (status dead). Probable cause of failure: the {cause.kind} of "
            f"{where}, shown above. {hint}"
        )
    return (
        f"Job {name} failed (status dead). Probable cause of failure ({cause.kind} of "
        f"{where}):\n{cause_text(cause, events)}\n{hint}"
    )


def print_results(
    master: Master,
    result: JobResults,
    *,
    mode: str = "entries",
    labels: Sequence[int] | None = None,
) -> None:
    """Print a ready job's results: entries (as the master lists them), data URLs, or data."""
    if mode == "cat":
        out: IO[bytes] = sys.stdout.buffer
        for chunk in master.iter_results(result, labels):
            out.write(chunk)
        out.flush()
        return
    if mode == "urls":
        urls = master.result_urls(result, labels)
        if options().json:
            emit_json(urls)
        else:
            for replicas in urls:
                click.echo(" ".join(_shown(url) for url in replicas))
        return
    if options().json:
        emit_json({"name": result.name, "status": str(result.status), "results": result.results})
        return
    for entry in result.results:
        click.echo(" ".join(_shown(url) for url in entry))


def _ready_results(master: Master, name: str) -> JobResults:
    result = master.results(name)
    if result.status is JobStatus.UNKNOWN:
        from pydisco.client import JobUnknown

        raise JobUnknown(name, master.url, reference_master=master.reference_master)
    if result.status is not JobStatus.READY:
        raise CommandError(
            f"Job {name} has no results: its status is {result.status}. "
            + (
                f"Wait for it with 'discotool wait {name}'."
                if result.status is JobStatus.ACTIVE
                else f"See why with 'discotool events {name}'."
            )
        )
    return result


# -- commands ----------------------------------------------------------------------------


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--wait", "wait_", is_flag=True, help="Watch the job until it ends.")
@click.option(
    "--results",
    "show_results",
    is_flag=True,
    help="Wait, then print the result data (--urls: data URLs; --entries: as listed).",
)
@click.option(
    "--entries",
    "mode",
    flag_value="entries",
    help="With --results: print the result entries as the master lists them.",
)
@click.option("--timeout", type=float, default=None, help="With --wait: give up after SECONDS.")
@result_modes
@client_options
@handle_errors
def submit(
    *,
    file: str,
    wait_: bool,
    show_results: bool,
    timeout: float | None,
    mode: str | None,
    labels: tuple[int, ...],
) -> None:
    """Submit a job pack FILE (binary or zip form; '-': standard input) and print its name.

    With --results the job's name goes to stderr and its result data to stdout.
    """
    with connect() as master, contextlib.ExitStack() as stack:
        source: str | IO[bytes] = file
        if file == "-":
            source = stack.enter_context(tempfile.TemporaryFile(prefix="pydisco-submit-"))
            shutil.copyfileobj(sys.stdin.buffer, source, 1 << 20)
            source.seek(0)
        name = master.submit(source)
        if not (wait_ or show_results):
            if options().json:
                emit_json({"name": name})
            else:
                click.echo(name)
            return
        note(f"Submitted {name}")
        result = watch(master, name, timeout=timeout)
        if show_results:
            default = "entries" if options().json else "cat"  # --json: one JSON document
            print_results(master, result, mode=mode or default, labels=labels or None)
        elif options().json:
            emit_json({"name": name, "status": str(result.status)})
        else:
            click.echo(name)


@click.command()
@client_options
@handle_errors
def jobs() -> None:
    """List the master's jobs, newest first."""
    with connect() as master:
        rows = master.joblist()
    if options().json:
        emit_json(
            [
                {
                    "name": j.name,
                    "status": str(j.status),
                    "start_time": iso_time(j.started),
                    "start_time_epoch": j.start_time,
                }
                for j in rows
            ]
        )
        return
    table(
        None,
        ["name", "status", "start time"],
        [(j.name, j.status, j.started.strftime("%Y-%m-%d %H:%M:%S")) for j in rows],
    )


@click.command()
@_JOB
@client_options
@handle_errors
def info(job: str) -> None:
    """Show a job's status, stages, inputs, results, worker and owner."""
    with connect() as master:
        data = master.jobinfo(job_name(master, job))
    if options().json:
        document = _json_value(data)
        document["timestamp"] = iso_time(parse_time(data.timestamp)) or data.timestamp
        document["timestamp_disco"] = data.timestamp
        emit_json(document)
        return
    click.echo(f"job:     {data.name}")
    click.echo(f"status:  {data.status}")
    click.echo(f"started: {data.timestamp}")
    click.echo(f"worker:  {data.worker}")
    click.echo(f"owner:   {data.owner}")
    table(
        "stages",
        ["stage", "pending", "waiting", "running", "done", "failed"],
        [(s.stage, s.pending, s.waiting, s.running, s.done, s.failed) for s in data.stages],
    )
    click.echo(f"inputs ({len(data.inputs)}):")
    for url in data.inputs:
        click.echo(f"  {_shown(url)}")
    click.echo(f"results ({len(data.results)}):")
    for url in data.results:
        click.echo(f"  {_shown(url)}")
    if data.hosts:
        click.echo(f"running on: {' '.join(data.hosts)}")


@click.command()
@_JOB
@click.option("--timeout", type=float, default=None, help="Give up after SECONDS (exit 1).")
@click.option("--poll", type=float, default=0.5, show_default=True, help="Seconds between polls.")
@client_options
@handle_errors
def wait(job: str, timeout: float | None, poll: float) -> None:
    """Watch a job until it ends: exit 0 if it is ready, 1 if it failed.

    Ctrl-C stops watching; the job keeps running on the master.
    """
    with connect() as master:
        job = job_name(master, job)
        result = watch(master, job, timeout=timeout, poll=poll)
    if options().json:
        emit_json({"name": job, "status": str(result.status)})
    else:
        click.echo(f"{job}: {result.status}")


@click.command()
@_JOB
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the job ends.")
@click.option("--offset", type=int, default=0, help="Start at this byte of the events file.")
@click.option("--poll", type=float, default=0.5, show_default=True, help="With --follow.")
@client_options
@handle_errors
def events(job: str, follow: bool, offset: int, poll: float) -> None:
    """Print a job's events, oldest first."""

    def show(event: Event) -> None:
        if options().json:
            emit_json_line(_event_json(event))
        else:
            click.echo(event.line())

    with connect() as master:
        job = job_name(master, job)
        if not follow:
            found, _ = master.events(job, offset)
            for event in found:
                show(event)
            return
        message = f"\nStopped following. Job {job} keeps running."
        with interrupt_message(message):
            for event in master.follow_events(job, poll_interval=poll, offset=offset):
                show(event)


@click.command()
@_JOB
@result_modes
@client_options
@handle_errors
def results(job: str, mode: str | None, labels: tuple[int, ...]) -> None:
    """Print a ready job's results (as listed, as data URLs with --urls, or the data with --cat)."""
    with connect() as master:
        result = _ready_results(master, job_name(master, job))
        print_results(master, result, mode=mode or "entries", labels=labels or None)


@click.command()
@_JOB
@click.argument("stage")
@client_options
@handle_errors
def stageresults(job: str, stage: str) -> None:
    """Print the outputs of a finished STAGE of JOB, one replica list per line."""
    with connect() as master:
        entries = master.stageresults(job_name(master, job), stage)
    if options().json:
        emit_json([list(e) for e in entries])
        return
    for entry in entries:
        click.echo(" ".join(entry))


def _each_job(verb: str, method: str, names: Sequence[str]) -> None:
    done = []
    with connect() as master:
        for given in names:
            name = job_name(master, given)
            _known(master, name)
            getattr(master, method)(name)
            done.append(name)
            if not options().json:
                click.echo(f"{verb} {name}")
    if options().json:
        emit_json({verb.lower(): done})


@click.command()
@click.argument("jobs_", metavar="JOB...", nargs=-1, required=True)
@client_options
@handle_errors
def kill(jobs_: tuple[str, ...]) -> None:
    """Kill jobs: their tasks stop, their files stay."""
    _each_job("Killed", "kill", jobs_)


@click.command()
@click.argument("jobs_", metavar="JOB...", nargs=-1, required=True)
@client_options
@handle_errors
def clean(jobs_: tuple[str, ...]) -> None:
    """Kill jobs and delete their master-side files (events, job pack)."""
    _each_job("Cleaned", "clean", jobs_)


@click.command()
@click.argument("jobs_", metavar="JOB...", nargs=-1, required=True)
@client_options
@handle_errors
def purge(jobs_: tuple[str, ...]) -> None:
    """Clean jobs and delete their data on every node."""
    _each_job("Purged", "purge", jobs_)


@click.command()
@_JOB
@client_options
@handle_errors
def jobdict(job: str) -> None:
    """Print the job dict of a submitted job, as JSON."""
    with connect() as master:
        emit_json(master.jobdict(job_name(master, job)))


@click.command()
@_JOB
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Where to write the job pack ('-' for stdout).",
)
@client_options
@handle_errors
def jobpack(job: str, output: str) -> None:
    """Download the job pack of a submitted job, as it was submitted.

    With --json (and a file as output) a JSON object names the job, the
    file and its size; with "-o -" stdout holds the job pack itself.
    """
    with connect() as master:
        job = job_name(master, job)
        if output == "-":
            if sys.stdout.isatty():
                raise CommandError("Refusing to write a binary job pack to a terminal.", EXIT_USAGE)
            master.download_jobpack(job, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        master.download_jobpack(job, output)
    if options().json:
        emit_json({"name": job, "output": output, "size": os.path.getsize(output)})
    else:
        note(f"Wrote the job pack of {job} to {output}")


__all__ = [
    "EXIT_FAILED",
    "clean",
    "events",
    "info",
    "job_name",
    "jobdict",
    "jobpack",
    "jobs",
    "kill",
    "print_results",
    "purge",
    "results",
    "stageresults",
    "submit",
    "wait",
    "watch",
]
