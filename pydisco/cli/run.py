"""``discotool run``: run a job pack on a throw-away reference master in this process.

A reference master starts on a free loopback port with a temporary data
directory; the job pack is submitted (with its inputs replaced by the ones
given, if any), watched with progress, its results printed, and the master
stopped. Nothing needs to be set up beforehand.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, cast

import click

from pydisco.cli._output import (
    CommandError,
    client_options,
    emit_json,
    handle_errors,
    note,
    options,
)
from pydisco.cli.jobs import _result_modes, print_results, watch

__all__ = ["local_master", "replace_inputs", "run"]


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
    return path.resolve().as_uri()


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


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
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
    file: str,
    inputs: tuple[str, ...],
    timeout: float | None,
    data_dir: str | None,
    mode: str | None,
    labels: tuple[int, ...],
) -> None:
    """Run job pack FILE on a temporary local master and print its results.

    INPUTS (URLs or local files) replace the job pack's inputs. Results are
    printed as data (--cat) by default, or as URLs (--urls).
    """
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
        name = master.submit(pack)
        note(f"Submitted {name} to a local master at {handle.url}")
        result = watch(
            master,
            name,
            timeout=timeout,
            interrupted=f"\nInterrupted: job {name} and the local master are stopped.",
        )
        if options().json and mode is None:
            emit_json(
                {
                    "name": name,
                    "status": str(result.status),
                    "results": master.result_urls(result, labels or None),
                }
            )
            return
        print_results(master, result, mode=mode or "cat", labels=labels or None)
