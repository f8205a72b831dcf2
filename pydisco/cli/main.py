"""The ``discotool`` entry point.

Subcommands live in their own modules and are imported only when run, so
``discotool --help`` and quick commands stay fast. To add one, add a line to
:data:`COMMANDS`: ``"name": "module:attribute"`` naming a :class:`click.Command`.
"""

from __future__ import annotations

import importlib
import sys

import click

from pydisco import __version__
from pydisco.cli._output import client_options

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


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
