"""Write binary job packs, streaming: no section is ever held whole in memory.

A job home given as a directory (or re-zipped from a zip-form pack) is zipped
straight into the output when the output can seek (the header is written
last); otherwise it is zipped to a temporary file first. Offsets are unsigned
32-bit, so a job pack cannot exceed 4 GiB up to the job data, and the master
refuses request bodies over 1 GiB.
"""

from __future__ import annotations

import getpass
import io
import os
import re
import socket
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import attrs

from pydisco import jsoncodec
from pydisco.jobpack.errors import BuildError, JobPackTooLarge
from pydisco.jobpack.jobhome import worker_problem, zip_directory
from pydisco.jobpack.parts import MAX_OFFSET, Grouping, Header, JobInput, PipelineStage
from pydisco.jobpack.sections import OffsetWriter, copy_stream, is_seekable
from pydisco.jobpack.validation import check_jobdict

JobHomeSource = str | os.PathLike[str] | IO[bytes] | bytes | bytearray | memoryview
JobDataSource = bytes | bytearray | memoryview | IO[bytes]
StageSpec = PipelineStage | str | Sequence[Any]
InputSpec = JobInput | str | Sequence[str]

_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")


@attrs.frozen
class HomeSource:
    """How to produce the job home section.

    ``write`` writes the zip to a file object whose position 0 is the section's
    start; ``size`` is the section's length, or ``None`` when it is only known
    after writing.
    """

    size: int | None
    write: Callable[[IO[bytes]], object]


def _bytes_home(data: bytes) -> HomeSource:
    return HomeSource(len(data), lambda fp: fp.write(data))


def _check_zip_head(head: bytes, what: str) -> None:
    if head and head[:4] not in _ZIP_SIGNATURES:
        raise BuildError(f"{what} is not a zip archive; give a directory or a .zip job home.")


def _home_source(
    jobhome: JobHomeSource,
    executable: str | None,
    compression: int,
    stack: ExitStack,
    exclude: frozenset[tuple[int, int]] = frozenset(),
) -> HomeSource:
    if isinstance(jobhome, (bytes, bytearray, memoryview)):
        data = bytes(jobhome)
        _check_zip_head(data[:4], "The job home bytes")
        return _bytes_home(data)
    if isinstance(jobhome, (str, os.PathLike)):
        path = Path(jobhome)
        if path.is_dir():
            return HomeSource(
                None,
                lambda fp: zip_directory(
                    path, fp, executable=executable, compression=compression, exclude=exclude
                ),
            )
        if not path.is_file():
            raise BuildError(f"The job home {path} is neither a directory nor a zip file.")
        with path.open("rb") as probe:
            _check_zip_head(probe.read(4), f"The job home {path}")

        def copy_file(fp: IO[bytes]) -> None:
            with path.open("rb") as src:
                copy_stream(src, fp)

        return HomeSource(path.stat().st_size, copy_file)
    source = jobhome
    if not is_seekable(source):
        tmp = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
        copy_stream(source, tmp)
        tmp.seek(0)
        source = tmp
    start = source.tell()
    size = source.seek(0, os.SEEK_END) - start
    source.seek(start)
    _check_zip_head(source.read(4), "The job home stream")
    source.seek(start)
    return HomeSource(size, lambda fp: copy_stream(source, fp, size))


def _write_data(out: IO[bytes], jobdata: JobDataSource) -> None:
    if isinstance(jobdata, (bytes, bytearray, memoryview)):
        out.write(jobdata)
    else:
        copy_stream(jobdata, out)


def _pack_header(version: int, dict_len: int, envs_len: int, home_len: int) -> bytes:
    header = Header.for_sections(version, dict_len, envs_len, home_len)
    if header.jobdata_offset > MAX_OFFSET:
        raise JobPackTooLarge(
            f"The job pack would need a job data offset of {header.jobdata_offset}, past the "
            "4 GiB that the header's 32-bit offsets can hold; make the job home smaller."
        )
    return header.pack()


def encode_dicts(
    version: int, jobdict: Mapping[str, Any], jobenvs: Mapping[str, Any], *, check: bool
) -> tuple[bytes, bytes]:
    """The job dict and job envs as a pack stores them; with ``check`` validated as the
    master would first (:class:`InvalidJobPack`)."""
    dict_bytes = jsoncodec.dumps(dict(jobdict))
    envs_bytes = jsoncodec.dumps(dict(jobenvs))
    if check:
        check_jobdict(version, dict_bytes, envs_bytes)
    return dict_bytes, envs_bytes


def emit_sections(
    out: IO[bytes],
    version: int,
    *,
    dict_bytes: bytes,
    envs_bytes: bytes,
    home: HomeSource,
    jobdata: JobDataSource,
) -> Header:
    """Write header and sections; the header goes last when the job home size is unknown."""
    if home.size is None and not is_seekable(out):
        with tempfile.TemporaryFile() as tmp:
            home.write(tmp)
            size = tmp.tell()
            tmp.seek(0)
            spooled = HomeSource(size, lambda fp: copy_stream(tmp, fp))
            return emit_sections(
                out,
                version,
                dict_bytes=dict_bytes,
                envs_bytes=envs_bytes,
                home=spooled,
                jobdata=jobdata,
            )
    if home.size is not None:
        out.write(_pack_header(version, len(dict_bytes), len(envs_bytes), home.size))
        out.write(dict_bytes)
        out.write(envs_bytes)
        home.write(out)
        _write_data(out, jobdata)
        return Header.for_sections(version, len(dict_bytes), len(envs_bytes), home.size)
    start = out.tell()
    out.write(b"\0" * 128)
    out.write(dict_bytes)
    out.write(envs_bytes)
    home_start = out.tell()
    view = OffsetWriter(out, home_start)
    home.write(view)  # type: ignore[arg-type]
    home_size = out.tell() - home_start
    header_bytes = _pack_header(version, len(dict_bytes), len(envs_bytes), home_size)
    _write_data(out, jobdata)
    end = out.tell()
    out.seek(start)
    out.write(header_bytes)
    out.seek(end)
    return Header.for_sections(version, len(dict_bytes), len(envs_bytes), home_size)


def write_jobpack(
    out: IO[bytes],
    *,
    jobdict: Mapping[str, Any],
    jobenvs: Mapping[str, str] | None = None,
    jobhome: JobHomeSource = b"",
    jobdata: JobDataSource = b"",
    version: int = 2,
    check: bool = True,
    compression: int = zipfile.ZIP_DEFLATED,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> Header:
    """Write a binary job pack to ``out``; returns its header.

    ``jobhome`` is a directory (zipped, entry by entry), a path to a zip file,
    a binary file object holding a zip (read from its position to its end), or
    zip bytes. ``jobdata`` is bytes or a binary file object. With ``check``
    the job dict and job envs are validated as the master would first, raising
    :class:`InvalidJobPack`. Memory stays bounded whatever the sizes.
    Files in ``exclude`` (and the file ``out`` writes to) are left out of a
    directory job home.
    """
    dict_bytes, envs_bytes = encode_dicts(version, jobdict, jobenvs or {}, check=check)
    worker = jobdict.get("worker")
    with ExitStack() as stack:
        executable = worker if isinstance(worker, str) else None
        skip = frozenset(
            (st.st_dev, st.st_ino) for st in (os.stat(p) for p in exclude if os.path.exists(p))
        )
        home = _home_source(jobhome, executable, compression, stack, skip)
        return emit_sections(
            out,
            version,
            dict_bytes=dict_bytes,
            envs_bytes=envs_bytes,
            home=home,
            jobdata=jobdata,
        )


def jobpack_bytes(**kwargs: Any) -> bytes:
    """A whole job pack as bytes, for small packs and tests.

    Takes the keywords of :func:`write_jobpack`.
    """
    buffer = io.BytesIO()
    write_jobpack(buffer, **kwargs)
    return buffer.getvalue()


# Job dict construction.


def default_owner() -> str:
    """``user@host``, as Disco's ``DISCO_JOB_OWNER`` defaults."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def default_prefix(directory: str | os.PathLike[str]) -> str:
    """A safe prefix from a directory name: characters outside ``[A-Za-z0-9_-]`` become ``_``."""
    name = Path(directory).resolve().name
    return re.sub(r"[^A-Za-z0-9_-]", "_", name) or "job"


def parse_stage(spec: StageSpec) -> PipelineStage:
    """A :class:`PipelineStage` from a PipelineStage, ``"name:grouping[:concurrent]"`` or a tuple.

    The tuple form is ``(name, grouping)`` or ``(name, grouping, concurrent)``.
    """
    if isinstance(spec, PipelineStage):
        return spec
    parts: Sequence[Any]
    if isinstance(spec, str):
        parts = spec.split(":")
        if len(parts) == 3 and parts[2] == "concurrent":
            parts = [parts[0], parts[1], True]
        elif len(parts) != 2:
            raise BuildError(
                f"The stage {spec!r} is not 'name:grouping' or 'name:grouping:concurrent'."
            )
    else:
        parts = spec
    if len(parts) not in (2, 3) or not isinstance(parts[0], str):
        raise BuildError(f"The stage {spec!r} is not (name, grouping[, concurrent]).")
    try:
        grouping = Grouping(parts[1])
    except ValueError:
        raise BuildError(
            f"The stage {spec!r} has the unknown grouping {parts[1]!r}; use one of "
            f"{', '.join(g.value for g in Grouping)}."
        ) from None
    return PipelineStage(parts[0], grouping, bool(parts[2]) if len(parts) == 3 else False)


def parse_pipeline(spec: str) -> tuple[PipelineStage, ...]:
    """Stages from ``"map:split,reduce:group_label:concurrent"`` (empty string: no stages)."""
    return tuple(parse_stage(part.strip()) for part in spec.split(",") if part.strip())


def parse_input(spec: InputSpec) -> JobInput:
    """A :class:`JobInput` from a JobInput, one URL, or a sequence of replica URLs."""
    if isinstance(spec, JobInput):
        return spec
    if isinstance(spec, str):
        return JobInput(0, 0, (spec,))
    return JobInput(0, 0, tuple(spec))


def make_jobdict_v2(
    *,
    prefix: str,
    worker: str,
    owner: str | None = None,
    inputs: Iterable[InputSpec] = (),
    pipeline: Iterable[StageSpec] = ("map:split",),
    max_cores: int | None = None,
    save_results: bool = False,
    save_info: str | None = None,
    scheduler: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A version 2 job dict with every key the master requires."""
    sched = dict(scheduler or {})
    if max_cores is not None:
        sched["max_cores"] = max_cores
    jobdict: dict[str, Any] = {
        "prefix": prefix,
        "owner": owner if owner is not None else default_owner(),
        "worker": worker,
        "pipeline": [parse_stage(s).to_json() for s in pipeline],
        "inputs": [parse_input(i).to_json() for i in inputs],
        "scheduler": sched,
        "save_results": save_results,
    }
    if save_info is not None:
        jobdict["save_info"] = save_info
    return jobdict


def make_jobdict_v1(
    *,
    prefix: str,
    worker: str,
    owner: str | None = None,
    inputs: Iterable[str | Sequence[str]] = (),
    map: bool = True,
    reduce: bool = False,
    reduce_shuffle: bool = False,
    nr_reduces: int = 1,
    max_cores: int | None = None,
    save_results: bool = False,
    save_info: str | None = None,
) -> dict[str, Any]:
    """A version 1 (classic map/reduce) job dict."""
    jobdict: dict[str, Any] = {
        "prefix": prefix,
        "owner": owner if owner is not None else default_owner(),
        "worker": worker,
        "input": [i if isinstance(i, str) else list(i) for i in inputs],
        "map?": map,
        "reduce?": reduce,
        "reduce_shuffle?": reduce_shuffle,
        "nr_reduces": nr_reduces,
        "scheduler": {} if max_cores is None else {"max_cores": max_cores},
        "save_results": save_results,
    }
    if save_info is not None:
        jobdict["save_info"] = save_info
    return jobdict


def check_worker_file(directory: str | os.PathLike[str], worker: str) -> None:
    """Raise :class:`BuildError` unless ``worker`` is a regular file inside ``directory``."""
    problem = worker_problem(worker)
    if problem:
        raise BuildError(
            f"The worker path {worker!r} {problem}; give a path relative to the job home."
        )
    path = Path(directory, *worker.split("/"))
    if not path.is_file():
        raise BuildError(
            f"The worker {worker!r} is not a file in {directory}; the worker must be inside "
            "the job home."
        )


def build_jobpack(
    out: IO[bytes],
    directory: str | os.PathLike[str],
    *,
    worker: str,
    inputs: Iterable[InputSpec] = (),
    pipeline: Iterable[StageSpec] = ("map:split",),
    prefix: str | None = None,
    owner: str | None = None,
    jobenvs: Mapping[str, str] | None = None,
    jobdata: JobDataSource = b"",
    max_cores: int | None = None,
    save_results: bool = False,
    save_info: str | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Header:
    """Write a version 2 job pack whose job home is ``directory``.

    ``worker`` is the worker's path relative to ``directory``; it is stored
    with mode 0755. ``prefix`` defaults to the directory's name made safe,
    ``owner`` to ``user@host``.
    """
    check_worker_file(directory, worker)
    jobdict = make_jobdict_v2(
        prefix=prefix if prefix is not None else default_prefix(directory),
        worker=worker,
        owner=owner,
        inputs=inputs,
        pipeline=pipeline,
        max_cores=max_cores,
        save_results=save_results,
        save_info=save_info,
    )
    return write_jobpack(
        out,
        jobdict=jobdict,
        jobenvs=jobenvs,
        jobhome=directory,
        jobdata=jobdata,
        compression=compression,
    )
