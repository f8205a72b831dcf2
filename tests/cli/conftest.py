"""Fixtures for ``discotool`` tests: a real reference master and a subprocess runner."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.client import support
from tests.processes import discotool_argv, environment, run, start

__all__ = ["Discotool", "InProcess", "support"]


@pytest.fixture
def live_master(reference_master: Any) -> Any:
    """The real reference master on loopback (``reference_master`` in ``tests/conftest.py``)."""
    return reference_master


class Discotool:
    """Runs ``python -m pydisco`` against one master, like a user at a shell would."""

    def __init__(self, master_url: str) -> None:
        self.env = environment(DISCO_MASTER=master_url, COLUMNS="200")

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run(discotool_argv(*args), env=self.env, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return start(discotool_argv(*args), env=self.env)


class InProcess:
    """Runs ``discotool`` in this process with click's runner (fast; no interpreter start)."""

    def __init__(self, master_url: str) -> None:
        self.env = {"DISCO_MASTER": master_url, "DISCO_TOKEN": None}

    def __call__(self, *args: str) -> Any:
        from click.testing import CliRunner

        from pydisco.cli.main import cli

        return CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)


@pytest.fixture
def dt(live_master: Any) -> InProcess:
    """``discotool`` in process, against :func:`live_master`."""
    return InProcess(live_master.url)


@pytest.fixture
def dt_offline(offline: Discotool) -> InProcess:
    return InProcess(offline.env["DISCO_MASTER"])


@pytest.fixture
def discotool(live_master: Any) -> Discotool:
    return Discotool(live_master.url)


@pytest.fixture
def offline() -> Discotool:
    """``discotool`` pointed at a port where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return Discotool(f"http://127.0.0.1:{port}")
