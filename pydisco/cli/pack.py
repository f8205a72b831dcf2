"""``discotool pack`` and ``discotool inspect``: build, convert, check and unpack job packs."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

from pydisco import jsoncodec
from pydisco.cli._output import EXIT_FAILED, EXIT_USAGE, CommandError, exit_status, handle_errors
from pydisco.jobpack import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_RATIO,
    HomeLimits,
    JobPack,
    detect_form,
    make_jobdict_v1,
    make_jobdict_v2,
    parse_pipeline,
    write_jobpack,
    zip_form_to_binary,
)
from pydisco.jobpack.description import (
    describe,
    describe_text,
    worker_head_warnings,
    worker_warnings,
)
from pydisco.jobpack.writer import check_worker_file, default_prefix


@contextlib.contextmanager
def _atomic_output(path: str) -> Iterator[IO[bytes]]:
    """Write to a temporary file beside ``path`` and rename it into place on success."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_inputs_file(path: str) -> list[list[str]]:
    inputs = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            inputs.append(line.split())
    return inputs


def _parse_envs(pairs: tuple[str, ...]) -> dict[str, str]:
    envs = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CommandError(f"--env {pair!r} is not NAME=VALUE.", EXIT_USAGE)
        envs[name] = value
    return envs


_DIR_ONLY = (
    "worker",
    "input_",
    "replicas",
    "inputs_file",
    "pipeline",
    "prefix",
    "owner",
    "env",
    "jobdata",
    "with_runtime",
)


def _warn(messages: list[str]) -> None:
    for message in messages:
        click.echo(f"warning: {message}", err=True)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", type=click.Path(exists=True, path_type=str))
@click.option(
    "-o", "--output", required=True, help="Where to write the binary job pack ('-' for stdout)."
)
@click.option(
    "--worker", help="Worker path relative to SOURCE (required when SOURCE is a directory)."
)
@click.option(
    "--input",
    "input_",
    multiple=True,
    help="An input URL, taken whole (raw://text may hold spaces). Repeatable.",
)
@click.option(
    "--replicas",
    multiple=True,
    help="One input given as replica URLs separated by spaces. Repeatable.",
)
@click.option(
    "--inputs-file",
    type=click.Path(exists=True, dir_okay=False),
    help="One input per line (replicas separated by spaces, '#' comments).",
)
@click.option(
    "--pipeline", help="Stages as name:grouping[:concurrent], comma separated. Default map:split."
)
@click.option("--prefix", help="Job name prefix. Default: SOURCE's directory name, made safe.")
@click.option("--owner", help="Job owner. Default: user@host.")
@click.option("--env", multiple=True, help="A job env NAME=VALUE. Repeatable.")
@click.option(
    "--jobdata",
    type=click.Path(exists=True, dir_okay=False),
    help="File whose bytes become the job data.",
)
@click.option(
    "--version",
    "version",
    type=click.Choice(["1", "2"]),
    help="Job pack version. Default 2 (zip form: inferred).",
)
@click.option(
    "--map/--no-map", "map_", default=True, help="Version 1: run a map stage (default yes)."
)
@click.option(
    "--reduce/--no-reduce", "reduce_", default=False, help="Version 1: run a reduce stage."
)
@click.option(
    "--reduce-shuffle",
    is_flag=True,
    help="Version 1: add a reduce_shuffle stage (nr_reduces != 1).",
)
@click.option(
    "--nr-reduces", type=int, default=1, show_default=True, help="Version 1: number of reduces."
)
@click.option("--max-cores", type=click.IntRange(min=1), help="Scheduler max_cores.")
@click.option("--save-results", is_flag=True, help="Set save_results (results saved to DDFS).")
@click.option("--stored", is_flag=True, help="Store job home files uncompressed (faster, larger).")
@click.option(
    "--with-runtime",
    is_flag=True,
    help="Also put pydisco's worker runtime (and attrs) into the job home, so that a pydisco "
    "worker runs on a node that has only Python 3.",
)
@handle_errors
def pack(**opts: Any) -> None:
    """Write a binary job pack from a job home directory or convert a zip-form job pack.

    SOURCE is either a directory (the job home; give --worker) or a zip-form job
    pack: a .zip with jobdict.json at its root, optional jobenvs.json and jobdata,
    everything else being the job home. Files are told apart by content, not name.
    """
    source: str = opts["source"]
    if os.path.isdir(source):
        _pack_directory(source, opts)
        return
    used = [name for name in _DIR_ONLY if opts[name]]
    if used:
        raise CommandError(
            f"--{used[0].strip('_').replace('_', '-')} applies only when SOURCE is a "
            "directory; a zip-form pack carries its own jobdict.json.",
            EXIT_USAGE,
        )
    if detect_form(source) == "binary":
        raise CommandError(f"{source} is already a binary job pack; use 'discotool inspect'.")
    version = int(opts["version"]) if opts["version"] else None
    with _atomic_output(opts["output"]) as out:
        zip_form_to_binary(source, out, version=version)


def _pack_directory(source: str, opts: dict[str, Any]) -> None:
    if not opts["worker"]:
        raise CommandError("--worker is required when SOURCE is a directory.", EXIT_USAGE)
    worker: str = opts["worker"]
    check_worker_file(source, worker)
    worker_path = Path(source, *worker.split("/"))
    with open(worker_path, "rb") as handle:
        head = handle.read(2)
    warnings = worker_warnings(worker, head, worker_path.stat().st_mode)
    inputs: list[list[str]] = [[url] for url in opts["input_"]]
    inputs.extend(spec.split() for spec in opts["replicas"])
    if opts["inputs_file"]:
        inputs.extend(_read_inputs_file(opts["inputs_file"]))
    envs = _parse_envs(opts["env"])
    prefix = opts["prefix"] if opts["prefix"] is not None else default_prefix(source)
    version = int(opts["version"] or 2)
    if version == 1:
        if opts["pipeline"]:
            raise CommandError(
                "--pipeline needs version 2; version 1 uses --map/--reduce.", EXIT_USAGE
            )
        jobdict = make_jobdict_v1(
            prefix=prefix,
            worker=worker,
            owner=opts["owner"],
            inputs=[i[0] if len(i) == 1 else i for i in inputs],
            map=opts["map_"],
            reduce=opts["reduce_"],
            reduce_shuffle=opts["reduce_shuffle"],
            nr_reduces=opts["nr_reduces"],
            max_cores=opts["max_cores"],
            save_results=opts["save_results"],
        )
    else:
        jobdict = make_jobdict_v2(
            prefix=prefix,
            worker=worker,
            owner=opts["owner"],
            inputs=inputs,
            pipeline=parse_pipeline(
                opts["pipeline"] if opts["pipeline"] is not None else "map:split"
            ),
            max_cores=opts["max_cores"],
            save_results=opts["save_results"],
        )
    compression = zipfile.ZIP_STORED if opts["stored"] else zipfile.ZIP_DEFLATED
    with contextlib.ExitStack() as stack:
        exclude = [opts["output"]] if opts["output"] != "-" else []
        if opts["with_runtime"]:
            source = _with_runtime(stack, source, exclude)
            exclude = []
        jobdata: Any = b""
        if opts["jobdata"]:
            jobdata = stack.enter_context(open(opts["jobdata"], "rb"))
        out = stack.enter_context(_atomic_output(opts["output"]))
        write_jobpack(
            out,
            jobdict=jobdict,
            jobenvs=envs,
            jobhome=source,
            jobdata=jobdata,
            version=version,
            compression=compression,
            exclude=exclude,
        )
    _warn(warnings)


def _with_runtime(stack: contextlib.ExitStack, source: str, exclude: list[str]) -> str:
    """A temporary copy of the job home ``source`` with pydisco's worker runtime added.

    The user's files win over the runtime's (a job home may ship its own
    pydisco); ``exclude`` (the output file, if inside) is left out.
    """
    from pydisco.worker.runtime import install_runtime

    home = stack.enter_context(tempfile.TemporaryDirectory(prefix="pydisco-pack-"))
    install_runtime(home)
    skip = {os.path.realpath(path) for path in exclude}

    def ignore(directory: str, names: list[str]) -> list[str]:
        return [n for n in names if os.path.realpath(os.path.join(directory, n)) in skip]

    shutil.copytree(source, home, dirs_exist_ok=True, symlinks=True, ignore=ignore)
    return home


# inspect


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option(
    "--validate",
    "check",
    is_flag=True,
    help="Exit 1 with the reasons if the master would refuse it (the whole job home is "
    "decompressed and every entry's CRC checked); print lint warnings.",
)
@click.option(
    "--extract",
    type=click.Path(file_okay=False, path_type=str),
    help="Safely extract the job home into this directory.",
)
@click.option(
    "--max-entries",
    type=int,
    default=DEFAULT_MAX_ENTRIES,
    show_default=True,
    help="Check and extraction: most job home entries allowed.",
)
@click.option(
    "--max-bytes",
    type=int,
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    help="Check and extraction: most decompressed bytes allowed.",
)
@click.option(
    "--max-ratio",
    type=int,
    default=DEFAULT_MAX_RATIO,
    show_default=True,
    help="Check and extraction: most an entry above 1 MiB may expand over its compressed size.",
)
@handle_errors
def inspect(
    file: str,
    *,
    as_json: bool,
    check: bool,
    extract: str | None,
    max_entries: int,
    max_bytes: int,
    max_ratio: int,
) -> None:
    """Show a job pack (binary or zip form): header, job dict, envs, job home and job data.

    Exits 1 when the master would refuse the pack (after showing it).
    """
    with contextlib.ExitStack() as stack:
        source: IO[bytes] = stack.enter_context(open(file, "rb"))
        if not os.path.isfile(file):
            # A pipe or device: keep a seekable copy (job packs are read out of order).
            spooled = stack.enter_context(tempfile.TemporaryFile())
            shutil.copyfileobj(source, spooled, 1 << 20)
            spooled.seek(0)
            source = spooled
        form = detect_form(source)
        fp = source
        if form == "zip":
            fp = stack.enter_context(tempfile.TemporaryFile())
            zip_form_to_binary(
                source, fp, check=False, max_entries=max_entries, max_bytes=max_bytes
            )
            fp.seek(0)
        pack = JobPack(fp, strict=False)
        limits = HomeLimits(max_entries=max_entries, max_bytes=max_bytes, max_ratio=max_ratio)
        info = describe(pack, form, limits)
        if as_json:
            click.echo(jsoncodec.dumps_text(info))
        else:
            click.echo("\n".join(describe_text(info)))
        if check:
            for w in info.get("warnings", []):
                click.echo(f"warning: {w['code']} ({w['field']}): {w['message']}", err=True)
            if info["valid"]:
                _warn([f"worker-no-shebang (worker): {m}" for m in worker_head_warnings(pack)])
            else:
                raise CommandError(
                    f"{info['error']['message']} (master: Job failed to start: "
                    f"{info['error']['reason']})"
                )
        if extract:
            names = pack.extract_jobhome(extract, **limits)
            if not as_json:
                click.echo(f"extracted {len(names)} entries into {extract}")
        if not info["valid"]:
            exit_status(EXIT_FAILED)  # shown in full above; scripts can test the status
