"""``discotool`` commands about the master and its nodes.

``nodeinfo``, ``config show|set``, ``blacklist``/``whitelist``,
``settings show|set`` and ``version``. Exit codes are listed in
:mod:`pydisco.cli._output`.
"""

from __future__ import annotations

import click

from pydisco import __version__
from pydisco.cli._output import (
    EXIT_USAGE,
    CommandError,
    client_options,
    connect,
    emit_json,
    exit_code_for,
    handle_errors,
    options,
    table,
)
from pydisco.client import ClientError, ConfigEntry
from pydisco.integers import parse_decimal

__all__ = ["blacklist", "config", "nodeinfo", "settings", "version", "whitelist"]


@click.command()
@client_options
@handle_errors
def nodeinfo() -> None:
    """Show each node: slots, connection, blacklisting, task counters, running tasks."""
    with connect() as master:
        nodes = master.nodeinfo()
    if options().json:
        emit_json(
            {
                n.host: {
                    "max_workers": n.max_workers,
                    "connected": n.connected,
                    "blacklisted": n.blacklisted,
                    "job_ok": n.job_ok,
                    "data_error": n.data_error,
                    "error": n.error,
                    "tasks": list(n.tasks),
                    "diskfree": n.diskfree,
                    "diskused": n.diskused,
                }
                for n in nodes
            }
        )
        return
    table(
        None,
        ["host", "slots", "connected", "blacklisted", "ok", "data errors", "errors", "running"],
        [
            (
                n.host,
                n.max_workers,
                "yes" if n.connected else "no",
                "yes" if n.blacklisted else "no",
                n.job_ok,
                n.data_error,
                n.error,
                len(n.tasks),
            )
            for n in nodes
        ],
    )


@click.group()
def config() -> None:
    """Show or replace the master's node table."""


@config.command("show")
@client_options
@handle_errors
def config_show() -> None:
    """Show the node table (the master re-reads its config file)."""
    with connect() as master:
        rows = master.config_table()
    if options().json:
        emit_json([[row.nodespec, row.max_workers] for row in rows])  # slots as integers
        return
    table(None, ["nodes", "slots"], [(r.nodespec, r.max_workers) for r in rows])


def _entry(spec: str) -> ConfigEntry:
    nodes, sep, text = spec.rpartition("=")
    slots = parse_decimal(text)
    if not sep or not nodes or slots is None:
        raise CommandError(
            f"{spec!r} is not NODESPEC=SLOTS; write e.g. localhost=8 or node01:10=4.", EXIT_USAGE
        )
    return ConfigEntry(nodes, slots)


@config.command("set")
@click.argument("entries", metavar="NODESPEC=SLOTS...", nargs=-1, required=True)
@client_options
@handle_errors
def config_set(entries: tuple[str, ...]) -> None:
    """Replace the node table with NODESPEC=SLOTS entries (localhost=8, node01:10=4).

    A NODESPEC names one host, or a range: node01:10 is node01 to node10.
    """
    rows = [_entry(spec) for spec in entries]
    with connect() as master:
        master.save_config_table(rows)
    if options().json:
        emit_json([[row.nodespec, row.max_workers] for row in rows])
    else:
        click.echo("Node table saved.")


def _listing(gc: bool) -> None:
    with connect() as master:
        hosts = master.gc_blacklisted() if gc else master.blacklisted()
    if options().json:
        emit_json(list(hosts))
    else:
        for host in hosts:
            click.echo(host)


@click.command()
@click.argument("nodes", metavar="[NODE]...", nargs=-1)
@click.option("--gc", is_flag=True, help="The DDFS garbage collection blacklist instead.")
@client_options
@handle_errors
def blacklist(nodes: tuple[str, ...], gc: bool) -> None:
    """Stop scheduling new tasks on NODEs; with no NODE, list the blacklisted nodes."""
    if not nodes:
        _listing(gc)
        return
    with connect() as master:
        for node in nodes:
            (master.gc_blacklist if gc else master.blacklist)(node)
            if not options().json:
                click.echo(f"Blacklisted {node}")
    if options().json:
        emit_json({"blacklisted": list(nodes)})


@click.command()
@click.argument("nodes", metavar="NODE...", nargs=-1, required=True)
@click.option("--gc", is_flag=True, help="The DDFS garbage collection blacklist instead.")
@client_options
@handle_errors
def whitelist(nodes: tuple[str, ...], gc: bool) -> None:
    """Schedule tasks on blacklisted NODEs again."""
    with connect() as master:
        for node in nodes:
            (master.gc_whitelist if gc else master.whitelist)(node)
            if not options().json:
                click.echo(f"Whitelisted {node}")
    if options().json:
        emit_json({"whitelisted": list(nodes)})


@click.group()
def settings() -> None:
    """Show or change the master's run-time settings."""


@settings.command("show")
@client_options
@handle_errors
def settings_show() -> None:
    """Show max_failure_rate and accept_new_jobs."""
    with connect() as master:
        values = master.settings()
    if options().json:
        emit_json(values.to_json())
        return
    for key, value in values.to_json().items():
        click.echo(f"{key}\t{value}")


_SETTING_NAMES = ("max_failure_rate", "accept_new_jobs")


def _setting(spec: str) -> tuple[str, int]:
    key, sep, text = spec.partition("=")
    value = parse_decimal(text, signed=True)
    if not sep or key not in _SETTING_NAMES or value is None:
        raise CommandError(
            f"{spec!r} is not NAME=INTEGER with NAME one of {', '.join(_SETTING_NAMES)}; "
            "write e.g. max_failure_rate=10.",
            EXIT_USAGE,
        )
    return key, value


@settings.command("set")
@click.argument("values", metavar="NAME=VALUE...", nargs=-1, required=True)
@client_options
@handle_errors
def settings_set(values: tuple[str, ...]) -> None:
    """Change settings given as NAME=VALUE (max_failure_rate=10 accept_new_jobs=0)."""
    pairs = dict(_setting(spec) for spec in values)
    with connect() as master:
        master.save_settings(**pairs)
    if options().json:
        emit_json(pairs)
    else:
        click.echo("Settings saved.")


@click.command()
@client_options
def version() -> None:
    """Print the client's version and the master's."""
    with connect() as master:
        try:
            master_version = master.version()
        except ClientError as exc:
            if options().json:
                emit_json({"client": __version__, "master": None, "error": str(exc)})
            else:
                click.echo(f"client: pydisco {__version__}")
            raise CommandError(str(exc), exit_code_for(exc)) from None
    reference = bool(master.reference_master)
    if options().json:
        emit_json({"client": __version__, "master": master_version, "reference_master": reference})
    else:
        kind = "pydisco's reference master" if reference else "a Disco master"
        click.echo(f"client: pydisco {__version__}")
        click.echo(f"master: {master_version} ({master.url}, {kind})")
