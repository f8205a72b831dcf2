"""``discotool run``: run a job on a throw-away reference master in this process.

The job is a job pack file, or a Python job (:mod:`pydisco.job`) named as
``module:name`` or ``path/to/file.py:name``. A reference master starts on a
free loopback port with a temporary data directory; the job is submitted
(a job pack with its inputs replaced by the ones given, if any; a Python job
packed with its code over the inputs given), watched with progress, its
results printed, and the master stopped. Nothing needs to be set up
beforehand.

Which kind of job is meant is decided without guessing: an existing file is
a job pack when its first bytes say so (binary ``D5 C0`` or zip ``PK``);
``X:Y`` is a Python job when ``X`` is a ``.py`` file or an importable module;
anything else is a usage error.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import click

from pydisco.cli._output import (
    EXIT_USAGE,
    CommandError,
    client_options,
    emit_json,
    handle_errors,
    note,
    options,
)
from pydisco.cli.jobs import _result_modes, print_results, watch
from pydisco.dataurls import file_url

if TYPE_CHECKING:
    from pydisco.client import JobResults, Master

__all__ = ["classify_target", "local_master", "replace_inputs", "run"]


def input_url(spec: str) -> str:
    """A job input from the command line: a URL as is, an existing local path as file://."""
    if "://" in spec:
        return spec
    path = Path(spec)
    if not path.exists():
        raise CommandError(
            f"The input {spec!r} is neither a URL nor an existing file; give a URL such as "
            "http://host/data or raw://text, or a path to a local file.",
            2,
        )
    return file_url(str(path.resolve()))  # verbatim: workers do not percent-decode


def replace_inputs(source: str | os.PathLike[str], inputs: Sequence[str], out: IO[bytes]) -> None:
    """Write to ``out`` the job pack ``source`` (either form) with ``inputs`` as its inputs."""
    from pydisco.jobpack import JobInput, JobPack, open_binary, write_jobpack

    with open_binary(source) as fileobj, JobPack(fileobj) as pack:
        jobdict: dict[str, Any] = dict(pack.raw_jobdict)
        version = pack.header.version
        if version == 1:
            jobdict["input"] = list(inputs)
        else:
            jobdict["inputs"] = [JobInput(0, 0, (url,)).to_json() for url in inputs]
        write_jobpack(
            out,
            jobdict=jobdict,
            jobenvs=pack.raw_jobenvs,
            jobhome=cast(IO[bytes], pack.open_jobhome()),
            jobdata=cast(IO[bytes], pack.open_jobdata()),
            version=version,
        )


@contextlib.contextmanager
def local_master(data_dir: str | None = None) -> Iterator[Any]:
    """A reference master on a free loopback port, stopped on exit; yields its handle."""
    try:
        reference_master: Any = importlib.import_module("pydisco.master").ReferenceMaster
    except (ImportError, AttributeError) as exc:  # pragma: no cover - master missing
        raise CommandError(f"The reference master is not available: {exc}.") from None
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="pydisco-run-"))
        handle = stack.enter_context(
            reference_master.start_in_thread(data_dir, host="127.0.0.1", port=0)
        )
        yield handle


JobKind = Literal["pack", "python"]


def _importable(module: str) -> bool:
    """Whether ``module`` can be imported (the current directory counts, as for ``python -m``)."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package, or an empty name part
        return False


def classify_target(target: str) -> JobKind:
    """``"pack"`` or ``"python"`` for the JOB argument; a usage error for anything else."""
    if os.path.isfile(target):
        from pydisco.jobpack.zipform import form_of

        with open(target, "rb") as handle:
            head = handle.read(4)
        if form_of(head) is not None:
            return "pack"
        raise CommandError(
            f"{target} is not a job pack (it starts with {head.hex(' ') or 'nothing'}, not "
            "D5 C0 or PK); name a Python job as MODULE:NAME or FILE.py:NAME.",
            EXIT_USAGE,
        )
    module, colon, name = target.partition(":")
    if colon and module and name:
        if module.endswith(".py"):
            if os.path.isfile(module):
                return "python"
            raise CommandError(f"The job file {module} does not exist.", EXIT_USAGE)
        if _importable(module):
            return "python"
        raise CommandError(
            f"{target!r}: no module {module!r} can be imported (from here or the Python path).",
            EXIT_USAGE,
        )
    raise CommandError(
        f"{target!r} is neither a job pack file nor a Python job; give a job pack, "
        "MODULE:NAME or FILE.py:NAME.",
        EXIT_USAGE,
    )


def _load_python_job(spec: str) -> Any:
    """The :class:`pydisco.job.Job` named by ``spec``; the user's traceback if importing fails."""
    from pydisco.job import JobDefinitionError, load_job

    try:
        return load_job(spec)
    except JobDefinitionError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    except Exception as exc:
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        raise CommandError(f"Loading the job {spec!r} failed:\n{trace.rstrip()}") from None


def _text(value: Any) -> str:
    """A key or value for a line of output: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)


def _print_records(results: Any) -> None:
    if options().json:
        emit_json({"name": results.job_name, "status": "ready", "records": list(results)})
        return
    out = sys.stdout
    for key, value in results:
        out.write(f"{_text(key)}\t{_text(value)}\n")
    out.flush()


def _run_python_job(
    spec: str,
    inputs: Sequence[str],
    *,
    timeout: float | None,
    data_dir: str | None,
    mode: str | None,
    labels: tuple[int, ...],
) -> None:
    from pydisco.client import Master
    from pydisco.job.remote import MasterRunner

    if not inputs:
        raise CommandError(
            f"The Python job {spec} needs INPUTS (files, URLs or raw://text).", EXIT_USAGE
        )
    for text in inputs:
        input_url(text)  # a clear error for a path that does not exist
    job = _load_python_job(spec)
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(local_master(data_dir))
        staging = stack.enter_context(tempfile.TemporaryDirectory(prefix="pydisco-run-inputs-"))
        runner = MasterRunner(handle.url, local_files=True, staging=staging)
        pack = stack.enter_context(tempfile.TemporaryFile(prefix="pydisco-run-"))
        runner.write_pack(pack, job, list(inputs))
        pack.seek(0)
        master = stack.enter_context(Master(handle.url))
        result = _submit_and_watch(master, pack, handle.url, timeout)
        if mode is not None:
            print_results(master, result, mode=mode, labels=labels or None)
            return
        results = runner.results_of(master, result, job)
        _print_records(results.only(labels) if labels else results)


@click.command()
@click.argument("job", metavar="JOB")
@click.argument("inputs", nargs=-1)
@click.option("--timeout", type=float, default=None, help="Give up after SECONDS (exit 1).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the master's data here instead of a temporary directory.",
)
@_result_modes
@client_options
@handle_errors
def run(
    *,
    job: str,
    inputs: tuple[str, ...],
    timeout: float | None,
    data_dir: str | None,
    mode: str | None,
    labels: tuple[int, ...],
) -> None:
    """Run JOB on a temporary local master and print its results.

    JOB is a job pack file, or a Python job: MODULE:NAME or FILE.py:NAME
    naming a pydisco.job Job. INPUTS are URLs (raw://text too) or local
    files; for a job pack they replace its inputs. A job pack's results are
    printed as data (--cat) by default; a Python job's as decoded records,
    one "key<TAB>value" line each (--json: one JSON document), or as data
    (--cat) or URLs (--urls).
    """
    if classify_target(job) == "python":
        _run_python_job(job, inputs, timeout=timeout, data_dir=data_dir, mode=mode, labels=labels)
        return
    _run_pack(job, inputs, timeout=timeout, data_dir=data_dir, mode=mode, labels=labels)


def _submit_and_watch(
    master: Master, pack: str | IO[bytes], url: str, timeout: float | None
) -> JobResults:
    """Submit ``pack`` to the local master at ``url`` and watch the job to its end."""
    name = master.submit(pack)
    note(f"Submitted {name} to a local master at {url}")
    return watch(
        master,
        name,
        timeout=timeout,
        interrupted=f"\nInterrupted: job {name} and the local master are stopped.",
    )


def _run_pack(
    file: str,
    inputs: Sequence[str],
    *,
    timeout: float | None,
    data_dir: str | None,
    mode: str | None,
    labels: tuple[int, ...],
) -> None:
    from pydisco.client import Master

    urls = [input_url(spec) for spec in inputs]
    with contextlib.ExitStack() as stack:
        pack: str | IO[bytes] = file
        if urls:
            temp = stack.enter_context(tempfile.TemporaryFile(prefix="pydisco-run-"))
            replace_inputs(file, urls, temp)
            temp.seek(0)
            pack = temp
        handle = stack.enter_context(local_master(data_dir))
        master = stack.enter_context(Master(handle.url))
        result = _submit_and_watch(master, pack, handle.url, timeout)
        if options().json and mode is None:
            emit_json(
                {
                    "name": result.name,
                    "status": str(result.status),
                    "results": master.result_urls(result, labels or None),
                }
            )
            return
        print_results(master, result, mode=mode or "cat", labels=labels or None)
