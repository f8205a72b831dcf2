"""``discotool master``: run the reference master in the foreground."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from pydisco.cli._output import EXIT_USAGE, CommandError, handle_errors
from pydisco.master import ConfigError, ReferenceMaster
from pydisco.master.config import DEFAULT_DISCO_PORT


def default_data_dir() -> Path:
    """``$DISCO_DATA``, else ``$XDG_DATA_HOME/pydisco``, else ``~/.local/share/pydisco``."""
    if os.environ.get("DISCO_DATA"):
        return Path(os.environ["DISCO_DATA"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pydisco"


@click.command()
@click.option(
    "--host",
    default=lambda: os.environ.get("DISCO_MASTER_HOST") or "127.0.0.1",
    show_default="$DISCO_MASTER_HOST or 127.0.0.1",
    help="Address to listen on. Anything but loopback needs --allow-remote and --token.",
)
@click.option(
    "--port",
    type=int,
    default=lambda: int(os.environ.get("DISCO_PORT") or DEFAULT_DISCO_PORT),
    show_default="$DISCO_PORT or 8989",
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (Disco's DISCO_DATA). [default: $DISCO_DATA or the user data dir]",
)
@click.option(
    "--nodes",
    default=None,
    help="Node table, e.g. '127.0.0.2=2,127.0.0.3=2' (host=slots). [default: the saved "
    "table, or localhost with one slot per CPU]",
)
@click.option(
    "--token",
    default=lambda: os.environ.get("PYDISCO_MASTER_TOKEN"),
    show_default="$PYDISCO_MASTER_TOKEN",
    help="Token required on every mutating request. A value given here is visible to "
    "every local user in ps: prefer --token-file or $PYDISCO_MASTER_TOKEN. Workers never "
    "see it (every PYDISCO_* variable but PYDISCO_WORKER_* is removed from their "
    "environment).",
)
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Read the token from the first line of this file (keep it mode 0600).",
)
@click.option(
    "--task-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Kill a task running longer than this many seconds and count a failure "
    "(default: no limit, as on Disco). A job's scheduler.task_timeout may be shorter.",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow listening on a non-loopback address (jobs run arbitrary code as you).",
)
@click.option(
    "--ddfs-data",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("DDFS_DATA") or None,
    help="DDFS directory (Disco's DDFS_DATA). [default: $DDFS_DATA or <data>-ddfs]",
)
@click.option(
    "--put-port",
    type=int,
    default=lambda: int(os.environ["DDFS_PUT_PORT"]) if os.environ.get("DDFS_PUT_PORT") else None,
    help="Port for DDFS blob uploads (0 picks a free one). "
    "[default: $DDFS_PUT_PORT, or 8990 with the default --port 8989, else a free one]",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@handle_errors
def master(  # noqa: PLR0917 - one parameter per click option
    host: str,
    port: int,
    data_dir: Path | None,
    nodes: str | None,
    token: str | None,
    token_file: Path | None,
    task_timeout: float | None,
    allow_remote: bool,
    ddfs_data: Path | None,
    put_port: int | None,
    verbose: bool,
) -> None:
    """Run the reference master until SIGINT or SIGTERM.

    It speaks Disco 0.5.4's HTTP API and worker protocol, so Disco's own
    clients and workers work against it. Stopping it kills all its workers.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if token_file is not None:
        lines = token_file.read_text().splitlines()
        token = lines[0].strip() if lines else ""
        if not token:
            raise CommandError(f"--token-file {token_file}: the first line is empty.", EXIT_USAGE)
    ddfs: dict[str, Any] = {"ddfs_data": Path(ddfs_data).absolute() if ddfs_data else None}
    if put_port is not None:
        ddfs["put_port"] = put_port
    try:
        server = ReferenceMaster(
            data_dir or default_data_dir(),
            host=host,
            port=port,
            nodes=nodes,
            token=token,
            allow_remote=allow_remote,
            **ddfs,
            task_timeout=task_timeout,
        )
    except ConfigError as exc:
        raise CommandError(_with_flags(exc), EXIT_USAGE) from None
    asyncio.run(_serve(server))


#: The flag that sets each master setting a ConfigError may name.
_FLAGS = {"allow_remote": "--allow-remote", "token": "--token", "nodes": "--nodes"}


def _with_flags(exc: ConfigError) -> str:
    flags = [_FLAGS[name] for name in exc.settings if name in _FLAGS]
    return f"{exc} (options: {', '.join(flags)})" if flags else str(exc)


async def _serve(server: ReferenceMaster) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except ConfigError as exc:
        raise CommandError(f"Cannot start the master: {_with_flags(exc)}") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(
                f"Cannot start the master: port {server.settings.port} of "
                f"{server.settings.host} is in use (another master, or another program, "
                "listens there). Stop that one, or choose another port with --port (0 picks "
                "a free one and prints the URL)."
            ) from None
        raise CommandError(f"Cannot start the master: {exc}") from None
    click.echo(server.url)
    extra = [a for a in server.addresses[1:]]
    if extra:
        click.echo(f"also serving node data on {', '.join(extra)}", err=True)
    click.echo(f"DDFS uploads on port {server.settings.put_port}", err=True)
    try:
        await stop.wait()
    finally:
        click.echo("stopping: killing workers", err=True)
        await server.stop()
