"""Running a job on a master: any master by URL, or the bundled one started for the occasion.

The job is packed (:mod:`pydisco.job.packing`), submitted, waited for, and its
results come back as a :class:`~pydisco.job.results.Results` whose sources
are the result files' HTTP URLs (so they chain into another job's inputs).

Local inputs: a node must be able to read every input. For the bundled master
(same machine), and any master on a loopback address, a local file is passed
as a ``file://`` URL; a large one is first cut into line-aligned chunk files
(one map task each), and raw data is written to a file too, in a directory
kept while the process runs. For another master, local data goes as
``raw://`` when small (under :data:`MAX_RAW_BYTES`); larger local files must
be put somewhere the nodes can read (HTTP) and given by URL.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, Final

from pydisco.dataurls import file_url
from pydisco.job.location import locate_job
from pydisco.job.packing import write_job_pack
from pydisco.job.results import Results
from pydisco.job.sources import Source, as_sources, read_source, split_source
from pydisco.loopback import is_loopback_url

if TYPE_CHECKING:
    from pydisco.job.api import Job

__all__ = ["MAX_RAW_BYTES", "LocalMasterRunner", "MasterRunner", "bundled_master"]

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


class MasterRunner:
    """Runs jobs on the master at ``url``; ``local_files``: whether its nodes share this disk."""

    def __init__(
        self,
        url: str,
        *,
        local_files: bool | None = None,
        staging: str | None = None,
        poll_interval: float = 0.2,
        timeout: float | None = None,
        jobenvs: dict[str, str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        #: Whether the nodes share this machine's files (default: the master is on loopback).
        self.local_files = is_loopback_url(self.url) if local_files is None else local_files
        self.staging = staging
        self.poll_interval = poll_interval
        #: Environment variables for the workers (the job pack's job envs). On loopback the
        #: workers' "#!/usr/bin/env python3" is made this interpreter (not whatever comes
        #: first on PATH: a slow shim, or a Python without this one's packages).
        if jobenvs is None and is_loopback_url(self.url):
            jobenvs = {"PATH": _interpreter_path()}
        self.jobenvs = dict(jobenvs or {})
        self.timeout = timeout

    def _prepare(self, job: Job, inputs: Any) -> list[Source]:
        prepared: list[Source] = []
        pieces = [
            piece
            for source in as_sources(inputs, job.input_format)
            for piece in split_source(source, job.chunk_size)
        ]
        for piece in pieces:
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
            elif piece.path is not None and not piece.start and piece.end is None:
                prepared.append(Source((file_url(piece.path),), piece.format, piece.label))
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
        sources = self._prepare(job, inputs)
        write_job_pack(out, job, sources, target=target, jobenvs=self.jobenvs)

    def results_of(self, master: Any, result: Any, job: Job) -> Results:
        """The :class:`Results` of ``result`` (a ready job's ``JobResults`` from ``master``)."""
        files = self._result_sources(master, result.results, job.records)
        return Results(files, job.records, result.name, reader=self._reader)

    def run(self, job: Job, inputs: Any, *, original: Job | None = None) -> Results:
        """Pack, submit and wait; raises the client's ``JobFailed`` with the job's errors."""
        from pydisco.client import Master

        with tempfile.TemporaryFile(prefix="pydisco-pack-") as pack:
            self.write_pack(pack, job, inputs, original=original)
            pack.seek(0)
            with Master(self.url) as master:
                name = master.submit(pack)
                result = master.wait(name, timeout=self.timeout, poll_interval=self.poll_interval)
                return self.results_of(master, result, job)

    def _result_sources(self, master: Any, entries: Any, fmt: str) -> list[Source]:
        # The client's reading of results: every replica of an index is tried, and a
        # failure is the client's ResultsError.
        return [
            Source(tuple(file.urls), fmt)
            if file.label is None
            else Source(tuple(file.urls), fmt, file.label)
            for file in master.result_files(entries)
        ]

    def _reader(self, source: Source) -> Iterator[bytes]:
        from pydisco.client import Master

        with Master(self.url) as master:
            yield from master.iter_results([list(source.urls)])


def _size(source: Source) -> int:
    assert source.path is not None
    end = os.path.getsize(source.path) if source.end is None else source.end
    return end - source.start


_lock = threading.Lock()
_bundled: Any = None


def bundled_master(slots: int | None = None) -> Any:
    """The bundled reference master of this process, started on first use, stopped at exit."""
    global _bundled
    with _lock:
        if _bundled is None:
            from pydisco.master import ReferenceMaster

            data_dir = tempfile.mkdtemp(prefix="pydisco-master-")
            nodes = f"localhost={slots or os.cpu_count() or 1}"
            _bundled = ReferenceMaster.start_in_thread(data_dir, nodes=nodes, retry_delay=0.0)
            atexit.register(_stop_bundled, data_dir)
        return _bundled


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
        url = handle if isinstance(handle, str) else handle.url
        options.setdefault("jobenvs", {"PATH": _interpreter_path()})
        super().__init__(url, local_files=True, **options)


def _interpreter_path() -> str:
    here = os.path.dirname(sys.executable)
    rest = os.environ.get("PATH", "")
    if os.path.exists(os.path.join(here, "python3")):
        return f"{here}{os.pathsep}{rest}" if rest else here
    return rest
