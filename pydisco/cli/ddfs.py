"""``discotool ddfs``: move data in and out of DDFS, as Disco's ``ddfs`` tool does.

Tags are named bare (``data:book``) or as ``tag://`` URLs (``tag://user:TOKEN@/name``
carries a token). ``--ddfs-token`` (or ``DDFS_READ_TOKEN``/``DDFS_WRITE_TOKEN``)
gives the tag token for every request. Output is plain text as Disco's tool
prints it; ``--json`` prints one JSON document instead. Exit codes are those of
:mod:`pydisco.cli._output`; ``exists`` exits 1 when the tag does not exist.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

from pydisco.cli._output import (
    EXIT_FAILED,
    EXIT_USAGE,
    CommandError,
    client_options,
    emit_json,
    exit_status,
    handle_errors,
    options,
)
from pydisco.client import DDFS
from pydisco.client._ddfs_api import is_tag

_TAG = click.argument("tag", metavar="TAG")
_REPLICAS = click.option(
    "-n",
    "--replicas",
    type=click.IntRange(min=1),
    default=None,
    help="Copies of each blob, on distinct nodes (default: the master's, 1).",
)
_TAGS = click.argument("tags", metavar="TAG...", nargs=-1, required=True)
_FILES = click.argument(
    "files",
    metavar="FILE...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
)
_UPDATE = click.option(
    "--update", is_flag=True, help="Skip blobs whose name the tag already holds."
)


def _connect() -> DDFS:
    try:
        return DDFS(options().master)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


def _token() -> str | None:
    value = click.get_current_context().find_root().meta.get("pydisco.ddfs_token")
    return value if isinstance(value, str) else None


def _remember_token(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        ctx.find_root().meta["pydisco.ddfs_token"] = value
    return value


@click.group()
@click.option(
    "--ddfs-token",
    metavar="TOKEN",
    expose_value=False,
    callback=_remember_token,
    help="Tag token for every request (default: $DDFS_READ_TOKEN / $DDFS_WRITE_TOKEN).",
)
@client_options
def ddfs() -> None:
    """DDFS tags and blobs: ls, cat, xcat, push, chunk, blobs, tag, put, attributes, rm, ..."""


def _command(name: str | None = None) -> Callable[[Callable[..., None]], click.Command]:
    """A ``ddfs`` subcommand with the client options and error handling."""

    def wrap(func: Callable[..., None]) -> click.Command:
        return ddfs.command(name)(client_options(handle_errors(func)))

    return wrap


@_command("ls")
@click.option("-r", "--recursive", is_flag=True, help="Also list each tag's blobs.")
@click.argument("prefixes", metavar="[PREFIX...]", nargs=-1)
def ls(recursive: bool, prefixes: tuple[str, ...]) -> None:
    """List tags whose names start with PREFIX (all tags without one)."""
    with _connect() as client:
        names = [n for prefix in (prefixes or ("",)) for n in client.list(prefix)]
        if options().json:
            if recursive:
                emit_json({n: client.blobs(n, token=_token()) for n in names})
            else:
                emit_json(names)
            return
        for name in names:
            click.echo(name)
            if recursive:
                for replicas in client.blobs(name, token=_token()):
                    click.echo("\t".join(replicas))
                click.echo("")


def _blob_sets(client: DDFS, items: Sequence[str]) -> Iterator[list[str]]:
    for item in items:
        if is_tag(item):
            yield from client.blobs(item, ignore_missing=False, token=_token())
        else:
            yield [item]


@_command()
@click.argument("items", metavar="TAG|URL...", nargs=-1, required=True)
def cat(items: tuple[str, ...]) -> None:
    """Write the bytes of every blob of the tags (or blob URLs) to stdout."""
    out = sys.stdout.buffer
    with _connect() as client:
        for replicas in _blob_sets(client, items):
            for chunk in client.cat(replicas):
                out.write(chunk)
    out.flush()


@_command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "pickle", "lines", "disco"]),
    default="json",
    show_default=True,
    help="The blobs' record format (disco: Disco's classic output; unpickles, trusted only).",
)
@click.argument("items", metavar="TAG|URL...", nargs=-1, required=True)
def xcat(fmt: str, items: tuple[str, ...]) -> None:
    """Print the records of every blob: key and value joined by a tab (one JSON line each
    with --json)."""
    import json

    from pydisco.job.records import get_format

    reader = get_format(fmt)
    with _connect() as client:
        for replicas in _blob_sets(client, items):
            for record in reader.records(client.cat(replicas)):
                if options().json:
                    click.echo(json.dumps(record, default=repr))
                elif isinstance(record, tuple):
                    click.echo("\t".join(str(part) for part in record))
                else:
                    click.echo(str(record))


@_command()
@_UPDATE
@click.option("--delayed", is_flag=True, help="Let the master batch the tag update.")
@_REPLICAS
@_TAG
@_FILES
def push(
    update: bool, delayed: bool, replicas: int | None, tag: str, files: tuple[str, ...]
) -> None:
    """Upload each FILE as a blob (named after the file) and add them to TAG."""
    with _connect() as client:
        _, sets = client.push(
            tag, files, replicas=replicas, update=update, delayed=delayed, token=_token()
        )
    if options().json:
        emit_json(sets)
    else:
        for blob in sets:
            click.echo("pushed: " + "\t".join(blob))


@_command()
@click.option(
    "--chunk-size", type=int, default=64 << 20, show_default=True, help="Bytes per blob (about)."
)
@_UPDATE
@_REPLICAS
@_TAG
@_FILES
def chunk(
    chunk_size: int, update: bool, replicas: int | None, tag: str, files: tuple[str, ...]
) -> None:
    """Cut each local FILE into line-aligned blobs and add them to TAG, in file order."""
    if chunk_size < 1:
        raise CommandError("--chunk-size must be at least 1 byte.", EXIT_USAGE)
    created: list[list[str]] = []
    with _connect() as client:
        for path in files:
            created.extend(
                client.chunk(
                    tag,
                    path,
                    replicas=replicas,
                    chunk_size=chunk_size,
                    update=update,
                    token=_token(),
                )
            )
    if options().json:
        emit_json(created)
    else:
        for blob in created:
            click.echo("created: " + "\t".join(blob))


@_command()
@_TAG
def get(tag: str) -> None:
    """Print the tag object (JSON)."""
    with _connect() as client:
        emit_json(client.get(tag, _token()).to_json())


@_command()
@_TAGS
def blobs(tags: tuple[str, ...]) -> None:
    """Print every blob reachable from the tags: one line per blob, replicas tab-separated."""
    with _connect() as client:
        sets = [s for tag in tags for s in client.blobs(tag, token=_token())]
    _print_sets(sets)


@_command()
@_TAGS
def urls(tags: tuple[str, ...]) -> None:
    """Print each tag's replica sets as stored (tag links included), one per line."""
    with _connect() as client:
        sets = [s for tag in tags for s in client.urls(tag, _token())]
    _print_sets(sets)


def _print_sets(sets: list[list[str]]) -> None:
    if options().json:
        emit_json(sets)
        return
    for replicas in sets:
        click.echo("\t".join(replicas))


@_command("tag")
@click.option("--update", is_flag=True, help="Add only sets whose key the tag lacks.")
@_TAG
@click.argument("urls_", metavar="URL...", nargs=-1)
def tag_(update: bool, tag: str, urls_: tuple[str, ...]) -> None:
    """Add URLs to TAG, each a replica set (replicas separated by spaces in one argument);
    without URLs, one set per line of stdin."""
    lines = urls_ or tuple(line for line in sys.stdin.read().splitlines() if line.strip())
    sets = [line.split() for line in lines]
    with _connect() as client:
        versions = client.tag(tag, sets, update=update, token=_token())
    if options().json:
        emit_json(versions)


@_command("put")
@_TAG
@click.argument("urls_", metavar="URL...", nargs=-1)
def put_(tag: str, urls_: tuple[str, ...]) -> None:
    """Replace TAG's replica sets by URLs (each a set, replicas separated by spaces);
    without URLs, one set per line of stdin."""
    lines = urls_ or tuple(line for line in sys.stdin.read().splitlines() if line.strip())
    with _connect() as client:
        versions = client.put(tag, [line.split() for line in lines], token=_token())
    if options().json:
        emit_json(versions)


@_command()
@_TAGS
def touch(tags: tuple[str, ...]) -> None:
    """Create each tag that does not exist (an existing one is left as it is)."""
    with _connect() as client:
        for tag in tags:
            client.tag(tag, [], token=_token())


@_command()
@_TAG
def attrs(tag: str) -> None:
    """Print the tag's attributes: name and value, tab-separated."""
    with _connect() as client:
        values = client.attrs(tag, _token())
    if options().json:
        emit_json(values)
        return
    for name, value in values.items():
        click.echo(f"{name}\t{value}")


@_command("getattr")
@_TAG
@click.argument("attr")
def getattr_(tag: str, attr: str) -> None:
    """Print one attribute (ddfs:read-token and friends too)."""
    with _connect() as client:
        value = client.getattr(tag, attr, _token())
    if options().json:
        emit_json(value)
    else:
        click.echo("None" if value is None else str(value))


@_command("setattr")
@_TAG
@click.argument("attr")
@click.argument("value")
def setattr_(tag: str, attr: str, value: str) -> None:
    """Set an attribute to a string value."""
    with _connect() as client:
        client.setattr(tag, attr, value, _token())


@_command("delattr")
@_TAG
@click.argument("attr")
def delattr_(tag: str, attr: str) -> None:
    """Delete an attribute."""
    with _connect() as client:
        client.delattr(tag, attr, _token())


@_command()
@_TAG
def exists(tag: str) -> None:
    """Print True and exit 0 if the tag exists; print False on stderr and exit 1 if not."""
    with _connect() as client:
        found = client.exists(tag)
    if options().json:
        emit_json(found)
        if not found:
            exit_status(EXIT_FAILED)
        return
    if not found:
        click.echo("False", err=True)
        exit_status(EXIT_FAILED)
    click.echo("True")


@_command()
@_TAGS
def rm(tags: tuple[str, ...]) -> None:
    """Delete tags (their blobs stay)."""
    with _connect() as client:
        for tag in tags:
            client.delete(tag, _token())
            if not options().json:
                click.echo("deleted")
    if options().json:
        emit_json({"deleted": list(tags)})
