"""``discotool --help`` imports no subcommand; every help text reads as plain text."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from pydisco.cli.main import COMMANDS, SUMMARIES, cli

HEAVY = ("aiohttp", "httpx", "pydisco.master", "pydisco.client", "rich")


def _commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    found = []
    for name in sorted(COMMANDS):
        command = cli.get_command(ctx, name)
        assert command is not None
        found.append((name, command))
        if isinstance(command, click.Group):
            found.extend((f"{name} {sub}", command.commands[sub]) for sub in command.commands)
    return found


def test_top_level_help_imports_no_subcommand() -> None:
    code = (
        "import sys\n"
        "from pydisco.cli.main import main\n"
        "main(['--help'])\n"
        f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "run" in done.stdout and "Run JOB on a temporary local master" in done.stdout
    assert done.stdout.splitlines()[-1] == "[]"


def test_summaries_are_the_commands_own_first_lines() -> None:
    assert set(SUMMARIES) == set(COMMANDS)
    for name, command in _commands():
        if " " not in name:
            assert command.get_short_help_str(limit=500) == SUMMARIES[name], name


@pytest.mark.parametrize("name", [name for name, _ in _commands()])
def test_help_is_plain_text_with_whole_summaries(name: str) -> None:
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "``" not in result.output


def test_no_summary_is_cut_at_an_abbreviation() -> None:
    for name, command in _commands():
        assert not command.get_short_help_str(limit=500).endswith(("e.g.", "e.g")), name
