"""Running a job on a master: any master by URL, or the bundled one started for the occasion.

The job is packed (:mod:`pydisco.job.packing`), submitted, waited for, and its
results come back as a :class:`~pydisco.job.results.Results` whose sources
are the result files' HTTP URLs (so they chain into another job's inputs).

Local inputs: a node must be able to read every input. Local text files are
cut into line-aligned byte ranges, one map task each, as many as
:func:`~pydisco.job.sources.plan_map_tasks` plans for the master's slots.
For the bundled master (``byte_ranges``) each task reads its range of the
file itself: nothing is copied before the job starts (the range travels as a
``file://...#bytes=START-END`` URL that the job data maps back to the file).
Any other master on a loopback address could be a real Disco, whose workers
only understand whole ``file://`` files, so each range is first written to a
chunk file; raw data is written to a file too, in a directory kept while the
process runs. For a master elsewhere, local data goes as ``raw://`` when
small (under :data:`MAX_RAW_BYTES`); larger local files must be put
somewhere the nodes can read (HTTP) and given by URL.

One HTTP client per master URL serves every run of the process (submit,
wait, result indexes and result data): see :func:`master_client`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, Final, Protocol

import attrs

from pydisco.dataurls import file_url
from pydisco.job.errors import JobError
from pydisco.job.location import locate_job
from pydisco.job.packing import write_job_pack
from pydisco.job.results import Results
from pydisco.job.sources import (
    Source,
    as_sources,
    plan_map_tasks,
    range_url,
    read_source,
    splittable,
)
from pydisco.job.tags import expand_tags, is_tag_input
from pydisco.loopback import is_loopback_url

if TYPE_CHECKING:
    from pydisco.job.api import Job

__all__ = [
    "MAX_RAW_BYTES",
    "LocalMasterRunner",
    "MasterAddress",
    "MasterRunner",
    "bundled_master",
    "master_client",
]

#: The largest local input sent inline as ``raw://`` to a master on another machine.
MAX_RAW_BYTES: Final = 64 * 1024
_COPY: Final = 1 << 20


def _write_range(source: Source, path: str) -> None:
    with open(path, "wb") as out:
        for block in read_source(source):
            out.write(block)


def _raw_url(source: Source) -> str:
    data = b"".join(read_source(source))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"The input {source.describe()} is not UTF-8 text; give a URL.") from None
    return "raw://" + text


class MasterAddress(Protocol):
    """A master that may still be starting: its :attr:`url` waits until it listens."""

    @property
    def url(self) -> str: ...


class MasterRunner:
    """Runs jobs on the master at ``url``; ``local_files``: whether its nodes share this disk.

    ``url`` may be a :class:`MasterAddress` (a local master still starting, on
    this machine): the job is then packed while it starts, and its URL is
    waited for when the job is submitted.
    """

    def __init__(
        self,
        url: str | MasterAddress,
        *,
        local_files: bool | None = None,
        byte_ranges: bool = False,
        slots: int | None = None,
        staging: str | None = None,
        poll_interval: float = 0.2,
        timeout: float | None = None,
        jobenvs: dict[str, str] | None = None,
        ddfs: str | None = None,
        save_results: bool | None = None,
        ship_runtime: bool = True,
    ) -> None:
        self._address = url.rstrip("/") if isinstance(url, str) else url
        #: Whether job homes carry pydisco's worker runtime; only this machine's own workers
        #: (the bundled master's) can do without it (see :mod:`pydisco.job.packing`).
        self.ship_runtime = ship_runtime
        #: Overrides the job's ``save_results`` (results saved to DDFS) when not None.
        self.save_results = save_results
        self._ddfs = ddfs.rstrip("/") if ddfs else None
        # A master address that is not a URL yet is a local master on this machine.
        loopback = is_loopback_url(url) if isinstance(url, str) else True
        #: Whether the nodes share this machine's files (default: the master is on loopback).
        self.local_files = loopback if local_files is None else local_files
        #: Whether map tasks read ranges of local files in place (a pydisco master only).
        self.byte_ranges = byte_ranges and self.local_files
        #: The master's slots, for planning map tasks (``None``: asked when needed).
        self.slots = slots
        self.staging = staging
        self.poll_interval = poll_interval
        #: Environment variables for the workers (the job pack's job envs). On loopback the
        #: workers' "#!/usr/bin/env python3" is made this interpreter (not whatever comes
        #: first on PATH: a slow shim, or a Python without this one's packages).
        if jobenvs is None and loopback:
            jobenvs = {"PATH": _interpreter_path()}
        self.jobenvs = dict(jobenvs or {})
        self.timeout = timeout

    @property
    def url(self) -> str:
        """The master's URL (a starting local master's once it listens)."""
        address = self._address
        return address if isinstance(address, str) else address.url.rstrip("/")

    @property
    def ddfs(self) -> str:
        """The master whose DDFS holds the ``tag://`` inputs (default: this one)."""
        return self._ddfs or self.url

    @property
    def client(self) -> Any:
        """The process's HTTP client for this master (:func:`master_client`)."""
        return master_client(self.url)

    def slots_for(self, job: Job) -> int:
        """The slots jobs get: given, else the master's non-blacklisted workers; ``max_cores``."""
        slots = self.slots
        if slots is None:
            nodes = self.client.nodeinfo()
            slots = sum(n.max_workers for n in nodes if not n.blacklisted)
        if job.max_cores is not None:
            slots = min(slots, job.max_cores)
        return max(1, slots)

    def _plan(self, job: Job, inputs: Any) -> list[Source]:
        sources = as_sources(inputs, job.input_format)
        if any(is_tag_input(s) for s in sources):
            sources = expand_tags(sources, self.ddfs, keep_disco=self.ddfs == self.url)
        needs_slots = job.chunk_size is None and job.map_tasks is None
        if not any(splittable(s) for s in sources):
            return sources
        slots = self.slots_for(job) if needs_slots else 1
        return plan_map_tasks(
            sources, slots=slots, chunk_size=job.chunk_size, map_tasks=job.map_tasks
        )

    def _prepare(self, job: Job, inputs: Any) -> list[Source]:
        prepared: list[Source] = []
        for piece in self._plan(job, inputs):
            ranged = piece.path is not None and (piece.start or piece.end is not None)
            if piece.path is None and piece.data is None:
                prepared.append(piece)  # a URL the nodes read themselves
            elif piece.data is not None and self.local_files:
                # Not raw://: Disco takes a raw URL's text as the task's group host, and a
                # long one makes the worker's output path too long for the file system.
                prepared.append(self._stage_file(piece))
            elif not self.local_files:
                size = len(piece.data) if piece.data is not None else _size(piece)
                if size > MAX_RAW_BYTES:
                    raise ValueError(
                        f"The local input {piece.describe()} ({size} bytes) cannot reach the "
                        f"nodes of {self.url}; serve it over HTTP and give its URL (only inputs "
                        f"under {MAX_RAW_BYTES} bytes are sent as raw://)."
                    )
                prepared.append(Source((_raw_url(piece),), piece.format, piece.label))
            elif piece.path is not None and not ranged:
                prepared.append(Source((file_url(piece.path),), piece.format, piece.label))
            elif self.byte_ranges and piece.path is not None:
                url = range_url(piece.path, piece.start, _size(piece) + piece.start)
                prepared.append(attrs.evolve(piece, urls=(url,)))
            else:
                prepared.append(self._stage_file(piece))
        return prepared

    def _stage_file(self, piece: Source) -> Source:
        if self.staging is None:
            self.staging = tempfile.mkdtemp(prefix="pydisco-inputs-")
            atexit.register(shutil.rmtree, self.staging, True)
        handle, path = tempfile.mkstemp(dir=self.staging, prefix="chunk-")
        os.close(handle)
        _write_range(piece, path)
        return Source((file_url(path),), piece.format, piece.label)

    def write_pack(
        self, out: IO[bytes], job: Job, inputs: Any, *, original: Job | None = None
    ) -> None:
        """Write to ``out`` the job pack that runs ``job`` over ``inputs`` on this master.

        Local inputs are staged as :meth:`run` does; ``original`` is the
        module-level job that ``job`` derives from (what a worker imports).
        """
        target = locate_job(original or job)
        if self.save_results is not None:
            job = attrs.evolve(job, save_results=self.save_results)
        sources = self._prepare(job, inputs)
        write_job_pack(
            out, job, sources, target=target, jobenvs=self.jobenvs, runtime=self.ship_runtime
        )

    def results_of(self, master: Any, result: Any, job: Job) -> Results:
        """The :class:`Results` of ``result`` (a ready job's ``JobResults`` from ``master``)."""
        files = self._result_sources(master, result.results, job.records)
        return Results(files, job.records, result.name, reader=self._reader, master=self.url)

    def run(self, job: Job, inputs: Any, *, original: Job | None = None) -> Results:
        """Pack, submit and wait; raises the client's ``JobFailed`` with the job's errors."""
        with tempfile.TemporaryFile(prefix="pydisco-pack-") as pack:
            self.write_pack(pack, job, inputs, original=original)
            pack.seek(0)
            master = self.client
            name = master.submit(pack)
            result = master.wait(name, timeout=self.timeout, poll_interval=self.poll_interval)
            return self.results_of(master, result, job)

    def _result_sources(self, master: Any, entries: Any, fmt: str) -> list[Source]:
        # The client's reading of results: every replica of an index is tried, and a
        # failure is the client's ResultsError. Results saved to DDFS are a tag's blobs.
        sources: list[Source] = []
        for entry in entries:
            replicas = [entry] if isinstance(entry, str) else list(entry)
            if replicas and replicas[0].startswith("tag://"):
                sources.extend(Source(tuple(blob), fmt) for blob in master.result_urls([replicas]))
                continue
            sources.extend(
                Source(tuple(file.urls), fmt)
                if file.label is None
                else Source(tuple(file.urls), fmt, file.label)
                for file in master.result_files([entry])
            )
        return sources

    def _reader(self, source: Source) -> Iterator[bytes]:
        yield from self.client.iter_results([list(source.urls)])


_clients: dict[str, Any] = {}


def master_client(url: str) -> Any:
    """The one :class:`pydisco.client.Master` of this process for ``url``, closed at exit.

    Making a client costs more than most requests (for ``https://`` a TLS
    context with the trust store), so submit, wait and every result read of
    every run share it; ``httpx`` clients are safe to share between threads.
    """
    with _lock:
        client = _clients.get(url)
        if client is None:
            from pydisco.client import Master

            if not _clients:
                atexit.register(_close_clients)
            client = _clients[url] = Master(url)
        return client


def _close_clients() -> None:
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def _size(source: Source) -> int:
    assert source.path is not None
    end = os.path.getsize(source.path) if source.end is None else source.end
    return end - source.start


_lock = threading.Lock()
_bundled: Any = None
_bundled_slots = 1


def bundled_master(slots: int | None = None) -> Any:
    """The bundled reference master of this process, started on first use, stopped at exit.

    It runs in a child process (:class:`pydisco.localmaster.LocalMaster`), so this
    process never imports the master; its ``url`` waits until it listens.
    """
    global _bundled, _bundled_slots
    with _lock:
        if _bundled is None:
            from pydisco.localmaster import LocalMaster

            # One temporary directory holds both the data and the DDFS data (kept apart: the
            # data directory is served to anyone), so that one removal at exit takes both.
            base = tempfile.mkdtemp(prefix="pydisco-master-")
            _bundled_slots = slots or os.cpu_count() or 1
            _bundled = LocalMaster(
                os.path.join(base, "data"),
                ddfs_data=os.path.join(base, "ddfs"),
                nodes=f"localhost={_bundled_slots}",
            )
            _at_exit_before_executors(_stop_bundled, base)
        return _bundled


def _at_exit_before_executors(func: Any, *args: Any) -> None:
    """Call ``func(*args)`` at exit, before thread pools refuse new work.

    A script that dies while reading results (``python count.py | head``) leaves
    requests in flight; the master serves files through its loop's thread pool,
    which :mod:`concurrent.futures` shuts at interpreter exit before :mod:`atexit`
    runs. Stopping the master first (the hook ``concurrent.futures`` itself uses)
    ends those requests quietly instead of with an aiohttp traceback.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:
        atexit.register(func, *args)
        return
    register(func, *args)


def _stop_bundled(data_dir: str) -> None:
    global _bundled
    if _bundled is not None:
        _bundled.stop()
        _bundled = None
    shutil.rmtree(data_dir, ignore_errors=True)


class LocalMasterRunner(MasterRunner):
    """Runs jobs on the bundled master (or on ``master``, a running one on this machine)."""

    def __init__(self, *, slots: int | None = None, master: Any = None, **options: Any) -> None:
        handle = master if master is not None else bundled_master(slots)
        if master is None:
            if slots is not None and slots != _bundled_slots:
                raise JobError(
                    f"This process's bundled master was started with slots={_bundled_slots}; "
                    f"slots={slots} cannot change that. Give every "
                    '`runner="local"` run of a process the same slots (or none), or start a '
                    "master with `discotool master --nodes localhost=N` and pass its URL "
                    "as master=."
                )
            import pydisco.client  # noqa: F401 - imported while the bundled master starts
        options.setdefault("jobenvs", {"PATH": _interpreter_path()})
        if master is None:
            options.setdefault("slots", _bundled_slots)  # what the bundled master offers
            # Its workers run on this machine as this user: they import the runtime from the
            # cached template instead of a copy in every job home.
            options.setdefault("ship_runtime", False)
        elif slots is not None:
            options.setdefault("slots", slots)  # the given master's: plan map tasks for them
        # The handle's URL is waited for at the submit: the job is packed while it starts.
        super().__init__(handle, local_files=True, byte_ranges=True, **options)


def _interpreter_path() -> str:
    here = os.path.dirname(sys.executable)
    rest = os.environ.get("PATH", "")
    if os.path.exists(os.path.join(here, "python3")):
        return f"{here}{os.pathsep}{rest}" if rest else here
    return rest
