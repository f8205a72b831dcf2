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
from typing import IO, Any, NoReturn

import click

from pydisco.jobpack import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_RATIO,
    HomeLimits,
    InvalidJobPack,
    JobPack,
    JobPackError,
    detect_form,
    lint,
    make_jobdict_v1,
    make_jobdict_v2,
    parse_pipeline,
    write_jobpack,
    zip_form_to_binary,
)
from pydisco.jobpack.submit import check_submit
from pydisco.jobpack.writer import check_worker_file, default_prefix
from pydisco.protocol import jsoncodec

#: Exit status for a job pack that is invalid or cannot be built or read.
EXIT_INVALID = 1
#: Exit status for bad command line usage.
EXIT_USAGE = 2


def _die(command: str, message: str, code: int = EXIT_INVALID) -> NoReturn:
    click.echo(f"discotool {command}: error: {message}", err=True)
    sys.exit(code)


class _UsageError(click.ClickException):
    """A command line mistake, shown as one line like every other error."""

    exit_code = EXIT_USAGE

    def __init__(self, command: str, message: str) -> None:
        super().__init__(message)
        self.command = command

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"discotool {self.command}: error: {self.message}", err=True)


class OneLineCommand(click.Command):
    """A click command whose usage errors are a single line on stderr (exit status 2)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _UsageError(self.name or "", exc.format_message()) from None


@contextlib.contextmanager
def _errors(command: str) -> Iterator[None]:
    try:
        yield
    except JobPackError as exc:
        _die(command, str(exc))
    except BrokenPipeError:  # output piped into head: the reader has all it wanted
        sys.exit(0)
    except OSError as exc:
        _die(command, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    except (click.exceptions.Exit, click.ClickException):
        raise
    except Exception as exc:  # a bug, but still one line and no traceback
        _die(command, f"internal error: {type(exc).__name__}: {exc}")


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
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--env")
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


def worker_warnings(name: str, head: bytes, mode: int | None) -> list[str]:
    """What will make a master fail to start the worker ``name``, from its first bytes and mode.

    A master runs the worker file directly (real Disco through ``sh -c``), so
    it needs a ``#!`` line; without one every task fails with "Exec format
    error" (or a shell error). The reference master sets the execute bit
    when it extracts the job home; other tools may not.
    """
    found = []
    if not head.startswith(b"#!"):
        found.append(
            f"the worker {name!r} has no '#!' line (such as '#!/usr/bin/env python3'): a master "
            "runs the worker file directly, so every task would fail with 'Exec format error'"
        )
    if mode is not None and not mode & 0o100:
        found.append(
            f"the worker {name!r} is not executable (chmod +x it): the reference master sets "
            "the execute bit, other tools may not"
        )
    return found


def _warn(command: str, messages: list[str]) -> None:
    for message in messages:
        click.echo(f"discotool {command}: warning: {message}", err=True)


@click.command(cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
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
def pack(**opts: Any) -> None:
    """Write a binary job pack from a job home directory or convert a zip-form job pack.

    SOURCE is either a directory (the job home; give --worker) or a zip-form job
    pack: a .zip with jobdict.json at its root, optional jobenvs.json and jobdata,
    everything else being the job home. Files are told apart by content, not name.
    """
    source: str = opts["source"]
    with _errors("pack"):
        if os.path.isdir(source):
            _pack_directory(source, opts)
        else:
            used = [name for name in _DIR_ONLY if opts[name]]
            if used:
                _die(
                    "pack",
                    f"--{used[0].strip('_').replace('_', '-')} applies only when SOURCE is a "
                    "directory; a zip-form pack carries its own jobdict.json",
                    EXIT_USAGE,
                )
            if detect_form(source) == "binary":
                _die("pack", f"{source} is already a binary job pack; use 'discotool inspect'")
            version = int(opts["version"]) if opts["version"] else None
            with _atomic_output(opts["output"]) as out:
                zip_form_to_binary(source, out, version=version)


def _pack_directory(source: str, opts: dict[str, Any]) -> None:
    if not opts["worker"]:
        _die("pack", "--worker is required when SOURCE is a directory", EXIT_USAGE)
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
    try:
        envs = _parse_envs(opts["env"])
    except click.BadParameter as exc:
        _die("pack", exc.format_message(), EXIT_USAGE)
    prefix = opts["prefix"] if opts["prefix"] is not None else default_prefix(source)
    version = int(opts["version"] or 2)
    if version == 1:
        if opts["pipeline"]:
            _die("pack", "--pipeline needs version 2; version 1 uses --map/--reduce", EXIT_USAGE)
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
    _warn("pack", warnings)


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


def _describe(pack: JobPack, form: str, limits: HomeLimits) -> dict[str, Any]:
    info: dict[str, Any] = {"form": form, "size": pack.size}
    try:
        h = pack.header
    except InvalidJobPack:
        info["header"] = None
    else:
        info["header"] = {
            "magic": f"0x{h.magic:04X}",
            "version": h.version,
            "jobdict_offset": h.jobdict_offset,
            "jobenvs_offset": h.jobenvs_offset,
            "jobhome_offset": h.jobhome_offset,
            "jobdata_offset": h.jobdata_offset,
        }
        info["jobhome_size"] = pack.jobhome_size
        info["jobdata_size"] = pack.jobdata_size
        for key, attr in (("jobdict", "raw_jobdict"), ("jobenvs", "raw_jobenvs")):
            try:
                info[key] = getattr(pack, attr)
            except JobPackError as exc:
                info[key] = None
                info[f"{key}_error"] = str(exc)
        try:
            info["jobhome"] = [e.to_json() for e in pack.jobhome_entries()]
        except JobPackError as exc:
            info["jobhome"] = None
            info["jobhome_error"] = str(exc)
    error = pack.error
    info["valid"] = error is None
    if error is not None:
        info["error"] = {
            "message": error.message,
            "reason": error.reason,
            "field": error.field,
            "check": error.check,
        }
        return info
    try:
        # pydisco's master also makes these checks at submit, so it refuses the pack.
        check_submit(pack.jobdict.raw, pack.jobenvs)
        pack.verify_jobhome(worker=pack.jobdict.worker, **limits)
    except InvalidJobPack as exc:
        info["valid"] = False
        info["error"] = {
            "message": exc.message,
            "reason": exc.reason,
            "field": exc.field,
            "check": exc.check,
        }
    except JobPackError as exc:
        info["valid"] = False
        info["error"] = {
            "message": str(exc),
            "reason": jsoncodec.dumps_text(str(exc)),
            "field": "jobhome",
            "check": "jobhome",
        }
    else:
        jd = pack.jobdict
        info["pipeline"] = [s.to_json() for s in jd.pipeline]
        info["inputs"] = [
            {"label": i.label, "size_hint": i.size_hint, "urls": list(i.urls), "is_dir": i.is_dir}
            for i in jd.inputs
        ]
        info["warnings"] = [
            {"code": w.code, "field": w.field, "message": w.message} for w in lint(pack)
        ]
    return info


def _print_text(info: dict[str, Any]) -> None:
    echo = click.echo
    echo(f"form: {info['form']}")
    echo(f"size: {info['size']} bytes")
    header = info["header"]
    if header is None:
        echo("header: (too short)")
        _print_status(info)
        return
    echo(f"header: magic {header['magic']}, version {header['version']}")
    for name in ("jobdict", "jobenvs", "jobhome", "jobdata"):
        echo(f"  {name:8} offset {header[name + '_offset']}")
    echo("job dict:")
    if info.get("jobdict_error"):
        echo(f"  (unreadable: {info['jobdict_error']})")
    else:
        echo("  " + jsoncodec.dumps_text(info["jobdict"]))
    if "pipeline" in info:
        stages = [f"{n}:{g}" + (":concurrent" if c else "") for n, g, c in info["pipeline"]]
        echo(f"pipeline: {', '.join(stages) or '(empty)'}")
        echo(f"inputs: {len(info['inputs'])}")
        for i in info["inputs"]:
            echo(
                f"  label {i['label']} size {i['size_hint']}{' dir' if i['is_dir'] else ''}: "
                + " ".join(i["urls"])
            )
    echo("job envs:")
    envs = info.get("jobenvs")
    if isinstance(envs, dict):
        for name, value in envs.items():
            echo(f"  {name}={value}")
    else:
        echo(f"  (unreadable: {info.get('jobenvs_error', envs)})")
    echo(f"job home: {info['jobhome_size']} bytes")
    if info["jobhome"] is None:
        echo(f"  (unreadable: {info['jobhome_error']})")
    else:
        for e in info["jobhome"]:
            echo(f"  {e['mode']} {e['kind']:<12} {e['size']:>12} {e['name']}")
    echo(f"job data: {info['jobdata_size']} bytes")
    _print_status(info)


def _worker_head_warnings(pack: JobPack) -> list[str]:
    """The missing ``#!`` warning for the worker in ``pack``'s job home (mode: lint's job)."""
    worker = pack.jobdict.worker
    try:
        with zipfile.ZipFile(pack.open_jobhome()) as archive, archive.open(worker) as handle:
            head = handle.read(2)
    except (KeyError, OSError, zipfile.BadZipFile):
        return []  # lint reports a missing worker or a broken job home
    return worker_warnings(worker, head, None)


def _print_status(info: dict[str, Any]) -> None:
    echo = click.echo
    if info["valid"]:
        echo("status: valid")
    else:
        echo(f"status: invalid: {info['error']['message']}")
        echo(f"  master would answer: Job failed to start: {info['error']['reason']}")


@click.command(cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
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
    with _errors("inspect"), contextlib.ExitStack() as stack:
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
        info = _describe(pack, form, limits)
        if as_json:
            click.echo(jsoncodec.dumps_text(info))
        else:
            _print_text(info)
        if check:
            for w in info.get("warnings", []):
                click.echo(f"warning: {w['code']} ({w['field']}): {w['message']}", err=True)
            if info["valid"]:
                for message in _worker_head_warnings(pack):
                    click.echo(f"warning: worker-no-shebang (worker): {message}", err=True)
            if not info["valid"]:
                _die(
                    "inspect",
                    f"{info['error']['message']} (master: Job failed to start: "
                    f"{info['error']['reason']})",
                )
        if extract:
            names = pack.extract_jobhome(extract, **limits)
            if not as_json:
                click.echo(f"extracted {len(names)} entries into {extract}")
        if not info["valid"]:
            sys.exit(EXIT_INVALID)  # shown in full above; scripts can test the status
