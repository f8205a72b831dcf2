"""``discotool`` help, usage errors and a missing master (no master needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pydisco.cli.main import COMMANDS, cli

from .conftest import Discotool, InProcess

CLIENT_COMMANDS = [
    "submit", "jobs", "info", "wait", "events", "results", "stageresults", "kill", "clean",
    "purge", "jobdict", "jobpack", "nodeinfo", "config", "blacklist", "whitelist", "settings",
    "version", "run",
]  # fmt: skip


@pytest.mark.parametrize("command", CLIENT_COMMANDS)
def test_every_client_command_is_registered_and_has_help(command: str) -> None:
    assert command in COMMANDS
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output and command in result.output


@pytest.mark.parametrize(
    "group", [("config", "show"), ("config", "set"), ("settings", "show"), ("settings", "set")]
)
def test_subgroup_help(group: tuple[str, str]) -> None:
    result = CliRunner().invoke(cli, [*group, "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["kill"],
        ["info"],
        ["jobpack", "J@1"],
        ["stageresults", "J@1"],
        ["settings", "set", "bogus=1"],
        ["config", "set", "nonsense"],
        ["submit", "/no/such/file.pack"],
        ["wait", "J@1", "--timeout", "soon"],
    ],
)
def test_usage_errors_exit_2(dt_offline: InProcess, args: list[str]) -> None:
    result = dt_offline(*args)
    assert result.exit_code == 2, result.output
    assert "Error" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["jobs"],
        ["info", "J@1"],
        ["wait", "J@1"],
        ["events", "J@1"],
        ["results", "J@1"],
        ["kill", "J@1"],
        ["nodeinfo"],
        ["settings", "show"],
        ["config", "show"],
        ["blacklist"],
        ["version"],
    ],
)
def test_master_down_exits_3_with_one_clear_line(dt_offline: InProcess, args: list[str]) -> None:
    result = dt_offline(*args)
    assert result.exit_code == 3, result.output
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "Cannot reach the Disco master" in error[0]
    assert "127.0.0.1" in error[0] and "DISCO_MASTER" in error[0]


def test_master_down_in_a_real_process(offline: Discotool) -> None:
    result = offline("jobs")
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: Cannot reach the Disco master at http://127.0.0.1:")


def test_master_option_before_and_after_the_subcommand(dt_offline: InProcess) -> None:
    before = dt_offline("--master", "http://127.0.0.1:1", "jobs")
    after = dt_offline("jobs", "--master", "http://127.0.0.1:1")
    for result in (before, after):
        assert result.exit_code == 3 and "127.0.0.1:1/" in result.stderr


def test_bad_master_url_is_a_usage_error(dt_offline: InProcess) -> None:
    result = dt_offline("jobs", "--master", "ftp://x")
    assert result.exit_code == 2 and "http" in result.stderr


def _only_error_line(stderr: str) -> str:
    """The single ``Error: ...`` line stderr must be (the one error convention)."""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bogus"], "No such command 'bogus'"),
        (["jobs", "--bogus"], "See 'discotool jobs --help'"),
        (["config", "set"], "Missing argument"),
        (["pack", "--no-such-flag"], "No such option"),
        (["inspect"], "Missing argument 'FILE'"),
        (["ddfs", "ls", "--bogus"], "See 'discotool ddfs ls --help'"),
        (["ddfs", "chunk", "--chunk-size", "0", "t", __file__], "--chunk-size"),
        (["master", "--port", "x"], "'--port'"),
        (["master", "--task-timeout", "0"], "'--task-timeout'"),
        (["conform"], "after --"),
        (["conform", "--only", "nosuch", "--", "true"], "nosuch"),
        (["run"], "Missing argument"),
    ],
)
def test_every_subcommand_shows_usage_errors_as_one_error_line(
    dt_offline: InProcess, tmp_path: Path, args: list[str], needle: str
) -> None:
    if args[0] == "master":
        args = [*args, "--data", str(tmp_path / "data")]
    result = dt_offline(*args)
    assert result.exit_code == 2, result.output
    assert needle in _only_error_line(result.stderr)


def test_operation_failures_are_one_error_line_exit_1(
    dt_offline: InProcess, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.pack"
    garbage.write_bytes(b"not a job pack")
    inspected = dt_offline("inspect", "--validate", str(garbage))
    assert inspected.exit_code == 1
    assert "first bytes" in _only_error_line(inspected.stderr) or inspected.stderr
    packed = dt_offline("pack", str(garbage), "-o", str(tmp_path / "out.pack"))
    assert packed.exit_code == 1, packed.output
    _only_error_line(packed.stderr)
    assert not (tmp_path / "out.pack").exists()


def test_a_master_that_cannot_start_is_one_error_line_exit_1(
    offline: Discotool, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = offline(
            "master", "--port", str(port), "--put-port", "0", "--data", str(tmp_path / "d")
        )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Cannot start the master" in errors[0], result.stderr
