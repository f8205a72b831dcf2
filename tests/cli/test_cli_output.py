"""Output for people and for scripts: ``--help`` everywhere, ``--json`` everywhere, colour
only on a terminal (real subprocesses on a pseudo-terminal)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pydisco.cli.main import COMMANDS, cli
from tests.processes import discotool_argv, run

from .conftest import Discotool, InProcess, support

#: Commands that are groups: their subcommands are listed here.
SUBCOMMANDS = {"config": ("show", "set"), "settings": ("show", "set")}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command: str) -> None:
    for args in [[command]] + [[command, sub] for sub in SUBCOMMANDS.get(command, ())]:
        result = CliRunner().invoke(cli, [*args, "--help"])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("Usage: ") and " ".join(args) in result.output
        # Every option is explained.
        assert "Options:" in result.output and "--help" in result.output


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_every_client_command_prints_json(dt: InProcess, tmp_path: Path) -> None:
    pack = str(support.write_pack(tmp_path, inputs=["raw://one", "raw://two"]))
    name = _json(dt("--json", "submit", pack))["name"]
    assert name.startswith("ClientTest@")
    assert _json(dt("--json", "wait", name)) == {"name": name, "status": "ready"}
    waited = _json(dt("--json", "submit", pack, "--wait"))
    assert waited["status"] == "ready" and waited["name"] != name
    with_results = _json(dt("--json", "submit", pack, "--results"))
    assert with_results["status"] == "ready" and len(with_results["results"]) == 2

    assert [job["name"] for job in _json(dt("jobs", "--json"))][-1] == name
    assert _json(dt("info", name, "--json"))["name"] == name
    entries = _json(dt("results", name, "--json"))
    assert entries["status"] == "ready" and entries["results"][0][0].startswith("dir://")
    urls = _json(dt("results", name, "--urls", "--json"))
    assert len(urls) == 2 and all(u[0].startswith("http://") for u in urls)
    assert _json(dt("stageresults", name, "map", "--json"))[0][0].startswith("dir://")
    assert _json(dt("jobdict", name, "--json"))["prefix"] == "ClientTest"
    target = tmp_path / "copy.pack"
    assert _json(dt("jobpack", name, "-o", str(target), "--json")) == {
        "name": name,
        "output": str(target),
        "size": target.stat().st_size,
    }
    events = dt("events", name, "--json")
    assert events.exit_code == 0
    parsed = [json.loads(line) for line in events.stdout.splitlines()]
    assert parsed and parsed[-1]["kind"] == "READY"

    host = next(iter(_json(dt("nodeinfo", "--json"))))
    assert _json(dt("blacklist", host, "--json")) == {"blacklisted": [host]}
    assert _json(dt("blacklist", "--json")) == [host]
    assert _json(dt("whitelist", host, "--json")) == {"whitelisted": [host]}
    assert _json(dt("config", "set", f"{host}=2", "--json")) == [[host, 2]]
    assert _json(dt("config", "show", "--json")) == [[host, 2]]
    assert _json(dt("settings", "set", "max_failure_rate=7", "--json")) == {"max_failure_rate": 7}
    assert _json(dt("settings", "show", "--json"))["max_failure_rate"] == 7
    assert _json(dt("version", "--json"))["master"] == "0.5.4"

    assert _json(dt("kill", name, "--json")) == {"killed": [name]}
    assert _json(dt("clean", name, "--json")) == {"cleaned": [name]}
    assert _json(dt("purge", waited["name"], "--json")) == {"purged": [waited["name"]]}


def test_json_errors_stay_on_stderr(dt: InProcess) -> None:
    result = dt("--json", "info", "No@1")
    assert result.exit_code == 1 and result.stdout == ""
    assert "does not know the job 'No@1'" in result.stderr


# -- terminals -----------------------------------------------------------------------------


def _on_terminal(discotool: Discotool, *args: str, timeout: float = 60) -> tuple[int, str]:
    """Run ``discotool`` with stdin, stdout and stderr on a pseudo-terminal; its output."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    env = {k: v for k, v in discotool.env.items() if k not in ("NO_COLOR", "COLUMNS")}
    env["TERM"] = "xterm-256color"
    process = subprocess.Popen(
        discotool_argv(*args),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: every process holding the terminal has gone
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=5)
    finally:
        process.kill()
        os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def _piped(discotool: Discotool, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(discotool.env, TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    return run(discotool_argv(*args), env=env, timeout=60)


ESCAPE = "\x1b["
#: Tests that start a dozen or more interpreters: 71 s under two CPU burners (bench/README.md,
#: "Test suite"), too close to the suite's 120 s hang guard; this limit still catches a hang.
SUBPROCESSES = pytest.mark.timeout(600)


@SUBPROCESSES
def test_colour_and_tables_only_on_a_terminal(
    discotool: Discotool, live_master: Any, tmp_path: Path
) -> None:
    from pydisco.client import Master

    with Master(live_master.url) as master:
        name = master.submit(support.write_pack(tmp_path))
        # On a terminal: a rich table with styled headers, and live progress bars.
        code, shown = _on_terminal(discotool, "wait", name)
        assert code == 0, shown
        assert ESCAPE in shown and "done" in shown and f"{name}: ready" in shown
        code, shown = _on_terminal(discotool, "jobs")
        assert code == 0 and ESCAPE in shown and name in shown
        assert "name\tstatus" not in shown
        code, shown = _on_terminal(discotool, "info", name)
        assert code == 0 and ESCAPE in shown and "stages" in shown

        # Piped: the same commands print plain lines, not one escape sequence.
        for args in (["wait", name], ["jobs"], ["info", name]):
            result = _piped(discotool, *args)
            assert result.returncode == 0, result.stderr
            assert ESCAPE not in result.stdout + result.stderr, args
        assert _piped(discotool, "jobs").stdout.startswith("name\tstatus\tstart time\n")
        # --json on a terminal is still plain JSON.
        code, shown = _on_terminal(discotool, "jobs", "--json")
        assert code == 0 and ESCAPE not in shown
        assert json.loads(shown)[0]["name"] == name
        # A binary job pack is never written to a terminal, --json or not.
        for extra in ([], ["--json"]):
            code, shown = _on_terminal(discotool, *extra, "jobpack", name, "-o", "-")
            assert code == 2 and "Refusing to write a binary job pack" in shown


@SUBPROCESSES
def test_every_client_subcommand_as_a_real_process(
    discotool: Discotool, live_master: Any, tmp_path: Path
) -> None:
    """Each subcommand once, as a user's shell runs it: a new interpreter per command."""
    pack = str(support.write_pack(tmp_path, inputs=["raw://alpha", "raw://beta"]))
    zipped = str(support.write_zip_pack(tmp_path))

    def ok(*args: str) -> str:
        result = discotool(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout

    name = ok("submit", pack).strip()
    assert ok("wait", name).strip() == f"{name}: ready"
    assert ok("submit", zipped, "--wait", "--results").splitlines() == ["zipped"]
    assert name in ok("jobs")
    assert f"job:     {name}" in ok("info", name)
    assert "READY" in ok("events", name, "--follow")
    assert sorted(ok("results", name, "--cat").split()) == ["alpha", "beta"]
    assert ok("stageresults", name, "map").startswith("dir://")
    assert json.loads(ok("jobdict", name))["prefix"] == "ClientTest"
    ok("jobpack", name, "-o", str(tmp_path / "copy.pack"))
    assert (tmp_path / "copy.pack").read_bytes() == Path(pack).read_bytes()
    host = ok("nodeinfo").splitlines()[1].split("\t")[0]
    assert ok("config", "show").splitlines()[0] == "nodes\tslots"
    assert ok("config", "set", f"{host}=2") == "Node table saved.\n"
    assert ok("blacklist", host) == f"Blacklisted {host}\n"
    assert ok("whitelist", host) == f"Whitelisted {host}\n"
    assert ok("settings", "set", "max_failure_rate=9") == "Settings saved.\n"
    assert "max_failure_rate\t9" in ok("settings", "show")
    assert ok("version").splitlines()[1].startswith("master: 0.5.4")
    assert ok("kill", name) == f"Killed {name}\n"
    assert ok("clean", name) == f"Cleaned {name}\n"
    other = ok("submit", pack).strip()
    ok("wait", other)
    assert ok("purge", other) == f"Purged {other}\n"
