"""``discotool run``: run a job on a throw-away reference master in this process.

The job is a job pack file, or a Python job (:mod:`pydisco.job`) named as
``module:name``, ``path/to/file.py:name`` or ``path/to/file.py`` (holding
one job). A reference master starts on a free loopback port with a
temporary data directory and the fail-fast policy of ``runner="local"``;
the job is submitted (a job pack with its inputs replaced by the ones
given, if any; a Python job packed with its code over the inputs given),
watched with progress (each task failure printed as it happens), its
results printed, and the master stopped. Nothing needs to be set up
beforehand. With ``--master URL`` the job goes to that master instead.

Which kind of job is meant is decided without guessing: an existing file is
a job pack when its first bytes say so (binary ``D5 C0`` or zip ``PK``);
``X:Y`` is a Python job when ``X`` is a ``.py`` file or an importable module;
anything else is a usage error.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import attrs
import click

from pydisco.cli._output import (
    EXIT_USAGE,
    CommandError,
    client_options,
    emit_json,
    exit_status,
    handle_errors,
    note,
    options,
    result_modes,
)
from pydisco.dataurls import file_url
from pydisco.errors import PydiscoError

if TYPE_CHECKING:
    from pydisco.client import JobResults, Master
    from pydisco.localmaster import LocalMaster

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


def ddfs_master() -> str:
    """The master whose DDFS holds ``tag://`` inputs: ``--master``, else the environment's."""
    from pydisco.client import resolve_master_url

    return resolve_master_url(options().master)


def expand_tag_inputs(urls: Sequence[str]) -> list[str | list[str]]:
    """Each ``tag://`` input as one input per blob, read over HTTP from :func:`ddfs_master`."""
    if not any(url.startswith("tag://") for url in urls):
        return list(urls)
    from pydisco.job.sources import Source
    from pydisco.job.tags import expand_tags

    sources = expand_tags([Source((url,)) for url in urls], ddfs_master(), keep_disco=False)
    return [list(source.urls) for source in sources]


def replace_inputs(
    source: str | os.PathLike[str], inputs: Sequence[str | Sequence[str]], out: IO[bytes]
) -> None:
    """Write to ``out`` the job pack ``source`` (either form) with ``inputs`` as its inputs
    (each a URL, or a list of replica URLs)."""
    from pydisco.jobpack import JobInput, JobPack, open_binary, write_jobpack

    with open_binary(source) as fileobj, JobPack(fileobj) as pack:
        jobdict: dict[str, Any] = dict(pack.raw_jobdict)
        version = pack.header.version
        replicas = [(url,) if isinstance(url, str) else tuple(url) for url in inputs]
        if version == 1:
            jobdict["input"] = [r[0] if len(r) == 1 else list(r) for r in replicas]
        else:
            jobdict["inputs"] = [JobInput(0, 0, r).to_json() for r in replicas]
        write_jobpack(
            out,
            jobdict=jobdict,
            jobenvs=pack.raw_jobenvs,
            jobhome=cast(IO[bytes], pack.open_jobhome()),
            jobdata=cast(IO[bytes], pack.open_jobdata()),
            version=version,
        )


@contextlib.contextmanager
def local_master(data_dir: str | None = None, *, retries: int = 0) -> Iterator[LocalMaster]:
    """A reference master on a free loopback port, in a child process, stopped on exit.

    It fails fast: the failure policy of ``runner="local"``
    (:func:`pydisco.localmaster.local_master_settings`), ``retries`` failures per task.
    Its :attr:`~pydisco.localmaster.LocalMaster.url` waits until it listens, so the
    caller goes on with its own work while it starts.
    """
    from pydisco.localmaster import LocalMaster

    with contextlib.ExitStack() as stack:
        ddfs_data = nodes = None
        if data_dir is None:
            # Data and DDFS data in one temporary directory (apart: the data directory is
            # served to anyone), removed together when the command ends.
            base = stack.enter_context(tempfile.TemporaryDirectory(prefix="pydisco-run-"))
            data_dir = os.path.join(base, "data")
            ddfs_data = os.path.join(base, "ddfs")
            nodes = f"localhost={FRESH_SLOTS}"  # a saved table in a given data dir stays
        master = LocalMaster(
            os.path.abspath(data_dir), ddfs_data=ddfs_data, nodes=nodes, retries=retries
        )
        yield stack.enter_context(master)


#: The slots of a local master started without ``--data-dir``: one per CPU, as Disco's default.
FRESH_SLOTS = os.cpu_count() or 1


@attrs.frozen
class Where:
    """Where ``run`` submits: the master's URL and token, and whether it is ours to stop."""

    #: The URL, or the local master starting in a child process (its URL when it listens).
    _address: str | LocalMaster
    token: str | None = None
    #: A throw-away master started by this command (stopped when it ends).
    local: bool = True
    #: Its data directory, when the user asked to keep it.
    data_dir: str | None = None
    #: Keep the local master running after the job, until Ctrl-C or SIGTERM.
    keep: bool = False

    @property
    def url(self) -> str:
        """The master's URL (for a local master, waits until it listens)."""
        return self._address if isinstance(self._address, str) else self._address.url

    def gone(self, name: str) -> str | None:
        """The hint for a dead job, when its master (and its events) will be gone."""
        if not self.local:
            return None
        if self.keep:
            return (
                f"See all its events with 'discotool --master {self.url} events {name}' while "
                "the local master keeps running."
            )
        if self.data_dir is not None:
            return (
                f"The local master is stopped; its data, events included, stay in "
                f"{self.data_dir} (discotool master --data {self.data_dir} serves them again)."
            )
        return (
            "The local master is stopped and its data removed; to keep them, run again with "
            "--data-dir DIR."
        )


@contextlib.contextmanager
def target_master(
    data_dir: str | None, retries: int | None, *, keep: bool = False
) -> Iterator[Where]:
    """The master given with ``--master`` (and ``--token``), else a throw-away local one.

    With ``keep`` the local master outlives the job (ready or dead) until
    Ctrl-C or SIGTERM, so that its events and results can be looked at.
    """
    opts = options()
    if opts.master is not None:
        given = [
            name
            for name, value in (
                ("--data-dir", data_dir),
                ("--retries", retries),
                ("--keep-master", keep or None),
            )
            if value is not None
        ]
        if given:
            raise CommandError(
                f"{given[0]} applies to the local master that run starts, not to --master "
                f"{opts.master} (which keeps its own data and failure policy).",
                EXIT_USAGE,
            )
        yield Where(opts.master, opts.token, local=False)
        return
    with local_master(data_dir, retries=retries or 0) as handle:
        where = Where(handle, data_dir=data_dir, keep=keep)
        try:
            yield where
        except (click.ClickException, PydiscoError) as exc:
            if not keep:
                raise
            error = exc if isinstance(exc, click.ClickException) else CommandError(str(exc))
            error.show()  # the failure first, then the master stays up to look into it
            _hold(where)
            exit_status(error.exit_code)
        if keep:
            _hold(where)


def _hold(where: Where) -> None:
    """Keep the local master serving until Ctrl-C or SIGTERM."""
    try:  # a Ctrl-C right after the note is the user's stop too
        note(
            f"The local master keeps running at {where.url}: look at its jobs with "
            f"'discotool --master {where.url} jobs' (or events, info, results). "
            "Ctrl-C stops it."
        )
        while True:
            signal.pause()
    except KeyboardInterrupt:
        note("Stopping the local master.")


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
    if target.endswith(".py") and os.path.isfile(target):
        return "python"  # a module holding exactly one Job (load_job says if it does not)
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
    if not colon and (os.sep in target or "." in os.path.basename(target)):
        raise CommandError(
            f"No such file: {target}. Give a job pack file, MODULE:NAME, FILE.py:NAME or FILE.py.",
            EXIT_USAGE,
        )
    raise CommandError(
        f"{target!r} is neither a job pack file nor a Python job; give a job pack, "
        "MODULE:NAME, FILE.py:NAME or FILE.py.",
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


#: One encoder for every record printed (``json.dumps`` with options builds one per call).
_TEXT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _text(value: Any) -> str:
    """A key or value for a line of output: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    if type(value) is int:  # its JSON (bool and int subclasses take the encoder)
        return str(value)
    try:
        return _TEXT_JSON.encode(value)
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
    retries: int | None,
    keep: bool,
    mode: str | None,
    labels: tuple[int, ...],
) -> None:
    if not inputs:
        raise CommandError(
            f"The Python job {spec} needs INPUTS (files, URLs or raw://text).", EXIT_USAGE
        )
    for text in inputs:
        input_url(text)  # a clear error for a path that does not exist
    try:
        with contextlib.ExitStack() as stack:
            # The local master starts first: the job loads (and is packed) while it does.
            where = stack.enter_context(target_master(data_dir, retries, keep=keep))
            try:
                job = _load_python_job(spec)
            except CommandError as exc:
                raise _NotLoaded(exc) from None  # stops the master, which --keep-master keeps
            _run_loaded(
                job, where, inputs, timeout=timeout, data_dir=data_dir, mode=mode, labels=labels
            )
    except _NotLoaded as failure:
        raise failure.error from None


class _NotLoaded(Exception):
    """The Python job could not be loaded: not a job failure the local master should outlive."""

    def __init__(self, error: CommandError) -> None:
        super().__init__(str(error))
        self.error = error


def _run_loaded(
    job: Any,
    where: Where,
    inputs: Sequence[str],
    *,
    timeout: float | None,
    data_dir: str | None,
    mode: str | None,
    labels: tuple[int, ...],
) -> None:
    """Pack ``job`` over ``inputs``, submit it to ``where``, watch it and print its results."""
    from pydisco.job.remote import MasterRunner
    from pydisco.loopback import is_loopback_url

    with contextlib.ExitStack() as stack:
        staging = stack.enter_context(tempfile.TemporaryDirectory(prefix="pydisco-run-inputs-"))
        ddfs = ddfs_master()  # imports the client while a local master starts
        runner = MasterRunner(
            # The local master's URL is waited for at the submit: the job is packed while
            # it starts (with its slots known when its data directory is fresh).
            where if where.local else where.url,
            # A --master on this machine reads this machine's files (copies of the map
            # tasks' ranges, kept until the job ends: a real Disco reads file:// whole).
            local_files=where.local or is_loopback_url(where.url),
            byte_ranges=where.local,
            slots=FRESH_SLOTS if where.local and data_dir is None else None,
            staging=staging,
            ddfs=ddfs,
            # Our own master's workers import the runtime from this machine's template.
            ship_runtime=not where.local,
        )
        pack = stack.enter_context(tempfile.TemporaryFile(prefix="pydisco-run-"))
        try:
            runner.write_pack(pack, job, list(inputs))
        except ValueError as exc:  # an input the master's nodes cannot read
            raise CommandError(str(exc)) from None
        pack.seek(0)
        master = stack.enter_context(_connect(where))
        result = _submit_and_watch(master, pack, where, timeout)
        if mode is not None:
            from pydisco.cli.jobs import print_results

            print_results(master, result, mode=mode, labels=labels or None)
            _urls_note(where, mode)
            return
        results = runner.results_of(master, result, job)
        _print_records(results.only(labels) if labels else results)


def _connect(where: Where) -> Master:
    from pydisco.client import Master

    try:
        return Master(where.url, token=where.token)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


@click.command()
@click.argument("job", metavar="JOB")
@click.argument("inputs", nargs=-1)
@click.option("--timeout", type=float, default=None, help="Give up after SECONDS (exit 1).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the local master's data here instead of a temporary directory.",
)
@click.option(
    "--keep-master",
    is_flag=True,
    help="Keep the local master running after the job, until Ctrl-C, to look at its events "
    "and results with --master URL.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=None,
    help="Let each task of the local master fail up to N times (retried at once), as Disco "
    "does. Default 0: the job stops at its first task failure.",
)
@result_modes
@client_options
@handle_errors
def run(
    *,
    job: str,
    inputs: tuple[str, ...],
    timeout: float | None,
    data_dir: str | None,
    retries: int | None,
    keep_master: bool,
    mode: str | None,
    labels: tuple[int, ...],
) -> None:
    """Run JOB on a temporary local master (or --master URL) and print its results.

    JOB is a job pack file, or a Python job: MODULE:NAME, FILE.py:NAME or
    FILE.py (a file holding exactly one pydisco.job Job). INPUTS are URLs
    (raw://text too) or local files; for a job pack they replace its
    inputs. tag://NAME inputs are read from the DDFS of --master (or the
    environment's master). A job pack's results are printed as data (--cat) by default; a
    Python job's as decoded records, one "key<TAB>value" line each (--json:
    one JSON document), or as data (--cat) or URLs (--urls).

    The local master fails fast: a failing task stops the job and its
    error is printed (--retries N retries each task up to N times); it
    stops with the command, unless --keep-master. With
    --master URL (and --token) the job goes to that master instead, under
    its own failure policy, and stays there.
    """
    start = _run_python_job if classify_target(job) == "python" else _run_pack
    with _terminate_as_interrupt():
        start(
            job,
            inputs,
            timeout=timeout,
            data_dir=data_dir,
            retries=retries,
            keep=keep_master,
            mode=mode,
            labels=labels,
        )


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While running, make SIGTERM unwind like Ctrl-C: the local master, its workers and the
    temporary directories are removed instead of left behind by a sudden exit."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _submit_and_watch(
    master: Master, pack: str | IO[bytes], where: Where, timeout: float | None
) -> JobResults:
    """Submit ``pack`` to the master ``where`` and watch the job to its end."""
    from pydisco.cli.jobs import watch

    name = master.submit(pack)
    if where.local:
        note(f"Submitted {name} to a local master at {where.url}")
        interrupted: str | None = f"\nInterrupted: job {name} and the local master are stopped."
    else:
        note(f"Submitted {name} to {where.url}")
        interrupted = None
    return watch(master, name, timeout=timeout, interrupted=interrupted, gone=where.gone(name))


def _run_pack(
    file: str,
    inputs: Sequence[str],
    *,
    timeout: float | None,
    data_dir: str | None,
    retries: int | None,
    keep: bool,
    mode: str | None,
    labels: tuple[int, ...],
) -> None:
    urls = expand_tag_inputs([input_url(spec) for spec in inputs])
    with contextlib.ExitStack() as stack:
        pack: str | IO[bytes] = file
        if urls:
            temp = stack.enter_context(tempfile.TemporaryFile(prefix="pydisco-run-"))
            replace_inputs(file, urls, temp)
            temp.seek(0)
            pack = temp
        where = stack.enter_context(target_master(data_dir, retries, keep=keep))
        master = stack.enter_context(_connect(where))
        result = _submit_and_watch(master, pack, where, timeout)
        if options().json and mode is None:
            emit_json(
                {
                    "name": result.name,
                    "status": str(result.status),
                    "results": master.result_urls(result, labels or None),
                }
            )
            _urls_note(where, "urls")
            return
        from pydisco.cli.jobs import print_results

        print_results(master, result, mode=mode or "cat", labels=labels or None)
        _urls_note(where, mode or "cat")


def _urls_note(where: Where, mode: str) -> None:
    """Say so when printed result URLs belong to a local master about to stop."""
    if mode in ("urls", "entries") and where.local and not where.keep:
        note(
            "These URLs are served by the local master, which stops now with its data; "
            "use --keep-master to keep it serving them (or --cat for the data itself)."
        )
