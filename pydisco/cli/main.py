"""The ``discotool`` entry point.

Subcommands live in their own modules and are imported only when run, so
``discotool --help`` and quick commands stay fast. To add one, add a line to
:data:`COMMANDS`: ``"name": "module:attribute"`` naming a :class:`click.Command`.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from pydisco import __version__
from pydisco.cli._output import client_options, usage_error

#: Subcommand name -> "module:attribute" of its click command.
COMMANDS: dict[str, str] = {
    "master": "pydisco.cli.master:master",
    "inspect": "pydisco.cli.pack:inspect",
    "pack": "pydisco.cli.pack:pack",
    "conform": "pydisco.cli.conform:conform",
    # HTTP client commands (pydisco.cli.jobs, .cluster, .run)
    "submit": "pydisco.cli.jobs:submit",
    "jobs": "pydisco.cli.jobs:jobs",
    "info": "pydisco.cli.jobs:info",
    "wait": "pydisco.cli.jobs:wait",
    "events": "pydisco.cli.jobs:events",
    "results": "pydisco.cli.jobs:results",
    "stageresults": "pydisco.cli.jobs:stageresults",
    "kill": "pydisco.cli.jobs:kill",
    "clean": "pydisco.cli.jobs:clean",
    "purge": "pydisco.cli.jobs:purge",
    "jobdict": "pydisco.cli.jobs:jobdict",
    "jobpack": "pydisco.cli.jobs:jobpack",
    "nodeinfo": "pydisco.cli.cluster:nodeinfo",
    "config": "pydisco.cli.cluster:config",
    "blacklist": "pydisco.cli.cluster:blacklist",
    "whitelist": "pydisco.cli.cluster:whitelist",
    "settings": "pydisco.cli.cluster:settings",
    "version": "pydisco.cli.cluster:version",
    "run": "pydisco.cli.run:run",
    "ddfs": "pydisco.cli.ddfs:ddfs",
}


#: Each subcommand's one-line summary, for ``discotool --help`` without importing it (the
#: client, the master and aiohttp take most of a second to import). A test keeps these equal
#: to the commands' own first docstring lines.
SUMMARIES: dict[str, str] = {
    "blacklist": "Stop scheduling new tasks on NODEs; with no NODE, list the blacklisted nodes.",
    "clean": "Kill jobs and delete their master-side files (events, job pack).",
    "config": "Show or replace the master's node table.",
    "conform": "Run the worker CMD the way a Disco master does and report every rule it breaks.",
    "ddfs": "DDFS tags and blobs: ls, cat, xcat, push, chunk, blobs, tag, put, attributes, rm, ...",
    "events": "Print a job's events, oldest first.",
    "info": "Show a job's status, stages, inputs, results, worker and owner.",
    "inspect": "Show a job pack (binary or zip form): header, job dict, envs, job home and "
    "job data.",
    "jobdict": "Print the job dict of a submitted job, as JSON.",
    "jobpack": "Download the job pack of a submitted job, as it was submitted.",
    "jobs": "List the master's jobs, newest first.",
    "kill": "Kill jobs: their tasks stop, their files stay.",
    "master": "Run the reference master until SIGINT or SIGTERM.",
    "nodeinfo": "Show each node: slots, connection, blacklisting, task counters, running tasks.",
    "pack": "Write a binary job pack from a job home directory or convert a zip-form job pack.",
    "purge": "Clean jobs and delete their data on every node.",
    "results": "Print a ready job's results (as listed, as data URLs with --urls, or the data "
    "with --cat).",
    "run": "Run JOB on a temporary local master (or --master URL) and print its results.",
    "settings": "Show or change the master's run-time settings.",
    "stageresults": "Print the outputs of a finished STAGE of JOB, one replica list per line.",
    "submit": "Submit a job pack FILE (binary or zip form; '-': standard input) and print its "
    "name.",
    "version": "Print the client's version and the master's.",
    "wait": "Watch a job until it ends: exit 0 if it is ready, 1 if it failed.",
    "whitelist": "Schedule tasks on blacklisted NODEs again.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (``--help`` imports none).

    Usage errors, of the group or of any subcommand, become one ``Error: ...``
    line (exit 2) like every other error (see :mod:`pydisco.cli._output`).
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise usage_error(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise usage_error(exc) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUMMARIES.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group("discotool", cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="discotool")
@client_options  # global --master/--token/--json, also accepted after a subcommand
def cli() -> None:
    """Build, run, submit and check Disco jobs and workers."""


def main(argv: list[str] | None = None) -> int:
    """Run ``discotool``; returns the exit status."""
    try:
        cli.main(args=argv, prog_name="discotool", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
