"""The local master of ``discotool run`` in its own process: ready, stopped, never left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pydisco.errors import PydiscoError
from pydisco.localmaster import LocalMaster, LocalMasterError
from tests.processes import environment, run


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_it_serves_until_stopped_and_its_process_ends(tmp_path: Path) -> None:
    with LocalMaster(str(tmp_path / "data"), ddfs_data=str(tmp_path / "ddfs")) as master:
        assert master.url.startswith("http://127.0.0.1:")
        reply = httpx.get(master.url + "/disco/ctrl/get_settings")
        assert reply.status_code == 200
        settings = reply.json()
        assert settings["max_failure_rate"] == 0  # the fail-fast policy of runner="local"
        process = master._process
    assert process.returncode == 0
    assert (tmp_path / "ddfs").is_dir()


def test_a_master_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    occupied = tmp_path / "data"
    occupied.write_text("a file where the data directory should be")
    master = LocalMaster(str(occupied))
    with pytest.raises(LocalMasterError) as info:
        _ = master.url
    assert isinstance(info.value, PydiscoError)
    assert "The local master did not start" in str(info.value)
    assert str(occupied) in str(info.value)
    assert master._process.returncode == 1


DRIVER = """
import json, sys, time
from pydisco.localmaster import LocalMaster
master = LocalMaster(sys.argv[1])
print(json.dumps({"url": master.url, "pid": master._process.pid}), flush=True)
time.sleep(600)
"""


def test_it_stops_when_its_driver_is_killed(tmp_path: Path) -> None:
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert driver.stdout is not None
        child = json.loads(driver.stdout.readline())["pid"]
        assert not _gone(child)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    deadline = time.monotonic() + 60
    while not _gone(child):  # its standard input ended: it stops by itself
        assert time.monotonic() < deadline, "the local master outlived its driver"
        time.sleep(0.05)


def test_importing_the_server_leaves_the_tls_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydisco.localmaster import _import_server

    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/users-own.pem")
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    _import_server()
    assert os.environ["SSL_CERT_FILE"] == "/etc/ssl/users-own.pem"
    assert "SSL_CERT_DIR" not in os.environ  # workers inherit exactly what the driver had


def test_the_master_process_starts_without_the_job_api() -> None:
    # The master's process imports what serving needs; the job API (54 ms) is the workers'.
    probe = (
        "import sys, pydisco.localmaster as m; m._import_server(); "
        "from pydisco.master import ReferenceMaster; "
        "print(sorted(n for n in sys.modules"
        " if n == 'pydisco.job' or n.startswith('pydisco.job.')))"
    )
    done = run([sys.executable, "-c", probe], env=environment(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
