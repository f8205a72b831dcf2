"""Fixtures for ``discotool`` tests: a real reference master and a subprocess runner."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _load_support() -> ModuleType:
    path = Path(__file__).parent.parent / "client" / "support.py"
    spec = importlib.util.spec_from_file_location("client_test_support", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


support = _load_support()


@pytest.fixture
def live_master(reference_master: Any) -> Any:
    """The real reference master on loopback (``reference_master`` in ``tests/conftest.py``)."""
    return reference_master


class Discotool:
    """Runs ``python -m pydisco`` against one master, like a user at a shell would."""

    def __init__(self, master_url: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DISCO_")}
        self.env["DISCO_MASTER"] = master_url
        self.env["COLUMNS"] = "200"

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pydisco", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "pydisco", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )


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
