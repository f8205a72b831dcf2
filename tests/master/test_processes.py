"""Processes and restarts (issue 14, items 8-10, 12): real masters, real workers, real signals."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pydisco.master import ReferenceMaster
from pydisco.master.server import MasterHandle
from tests.master.helpers import events, make_pack, submit, wait
from tests.master.test_lifecycle import alive, wait_for

FAST = {"retry_delay": 0.0, "pid_timeout": 10.0, "max_failure_rate": 0}


def _pid_file(data: Path, name: str, file: str) -> Path | None:
    found = list(data.glob(f"localhost/*/{name}/{file}"))
    return found[0] if found else None


def _read_pid(data: Path, name: str, file: str) -> int:
    wait_for(lambda: _pid_file(data, name, file) is not None, timeout=60)
    path = _pid_file(data, name, file)
    assert path is not None
    wait_for(lambda: path.read_text().strip().isdigit(), timeout=30)
    return int(path.read_text())


# -- item 12: no PYDISCO_* secret reaches a worker ---------------------------------------------


def test_workers_never_see_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYDISCO_MASTER_TOKEN", "sekrit-token-123")
    monkeypatch.setenv("PYDISCO_SOMETHING_SECRET", "other-secret-456")
    token = {"Authorization": "Bearer sekrit-token-123"}
    with ReferenceMaster.start_in_thread(
        tmp_path / "data", token="sekrit-token-123", **FAST
    ) as master:
        name = submit(
            master.url, make_pack(tmp_path, "behave.sh", envs={"MODE": "envdump"}), **token
        )
        assert wait(master.url, name)[0] == "ready", events(master.url, name)
        dump = _pid_file(master.data_dir, name, "env-dump.txt")
        assert dump is not None
        text = dump.read_text()
    assert "MODE=envdump" in text  # the job envs are there
    assert "sekrit-token-123" not in text and "PYDISCO_MASTER_TOKEN" not in text
    assert "other-secret-456" not in text


def test_the_nice_setting_makes_workers_and_their_children_nicer(tmp_path: Path) -> None:
    """``nice=N``: the worker, and what it starts, run N nicer than the master, as under
    ``nice -n N`` (Disco: 19), without a ``nice`` process in between."""
    expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 5)  # the master's thread inherits
    with ReferenceMaster.start_in_thread(tmp_path / "data", nice=5, **FAST) as master:
        name = submit(master.url, make_pack(tmp_path, "behave.sh", envs={"MODE": "nice"}))
        assert wait(master.url, name)[0] == "ready", events(master.url, name)
        log = events(master.url, name)
    assert f"MSG: [map:0] nice {expected} {expected}" in log, log


def test_token_file_and_help(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCO_", "PYDISCO_"))}
    help_text = subprocess.run(
        [sys.executable, "-m", "pydisco", "master", "--help"],
        capture_output=True, text=True, check=True, env=env, timeout=60,
    ).stdout  # fmt: skip
    assert "--token-file" in help_text and "PYDISCO_MASTER_TOKEN" in help_text
    assert "ps" in help_text and "--task-timeout" in help_text
    with _master_process(tmp_path / "d", "--token-file", str(token_file)) as (_, url):
        deny = httpx.post(f"{url}/disco/ctrl/kill_job", content=b'"x"', timeout=30)
        assert deny.status_code == 401
        allow = httpx.post(
            f"{url}/disco/ctrl/kill_job",
            content=b'"x"',
            headers={"Authorization": "Bearer from-a-file"},
            timeout=30,
        )
        assert allow.status_code == 200


# -- item 10: task_timeout -------------------------------------------------------------------


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterHandle]:
    data = tmp_path_factory.mktemp("timeout") / "data"
    with ReferenceMaster.start_in_thread(data, task_timeout=1.0, **FAST) as handle:
        yield handle


def test_master_task_timeout_kills_a_hanging_task(timed: MasterHandle, tmp_path: Path) -> None:
    name = submit(timed.url, make_pack(tmp_path, "behave.sh", envs={"MODE": "hang"}))
    pid = _read_pid(timed.data_dir, name, "hang.pid")
    assert wait(timed.url, name)[0] == "dead"
    log = events(timed.url, name)
    assert any("task_timeout of 1 seconds" in m and m.startswith("WARNING: [map:0]") for m in log)
    assert any("failed 1 times" in m for m in log), log
    wait_for(lambda: not alive(pid))


def test_job_task_timeout_overrides_none(tmp_path: Path) -> None:
    with ReferenceMaster.start_in_thread(tmp_path / "data", **FAST) as master:
        pack = make_pack(
            tmp_path, "behave.sh", envs={"MODE": "hang"}, scheduler={"task_timeout": 0.5}
        )
        name = submit(master.url, pack)
        pid = _read_pid(master.data_dir, name, "hang.pid")
        assert wait(master.url, name)[0] == "dead"
        log = events(master.url, name)
    assert any("task_timeout of 0.5 seconds" in m for m in log), log
    wait_for(lambda: not alive(pid))


def test_bad_job_task_timeout_is_refused(timed: MasterHandle, tmp_path: Path) -> None:
    pack = make_pack(tmp_path, "behave.sh", scheduler={"task_timeout": -1})
    status, reason = httpx.post(f"{timed.url}/disco/job/new", content=pack, timeout=30).json()
    assert status == "error" and "task_timeout" in reason


def test_kill_ends_a_hanging_job(tmp_path: Path) -> None:
    with ReferenceMaster.start_in_thread(tmp_path / "data", **FAST) as master:
        name = submit(master.url, make_pack(tmp_path, "behave.sh", envs={"MODE": "hang"}))
        pid = _read_pid(master.data_dir, name, "hang.pid")
        reply = httpx.post(f"{master.url}/disco/ctrl/kill_job", content=json.dumps(name))
        assert reply.status_code == 200
        assert wait(master.url, name)[0] == "dead"
    wait_for(lambda: not alive(pid))


# -- items 8 and 9: a master killed with SIGKILL ------------------------------------------------


@contextlib.contextmanager
def _master_process(data: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m pydisco master`` on a free port; SIGKILLed if still running at exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCO_", "PYDISCO_"))}
    with subprocess.Popen(
        [sys.executable, "-m", "pydisco", "master", "--port", "0", "--data", str(data),
         "--nodes", "localhost=2", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:"), url
            yield proc, url
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def test_survivors_of_a_killed_master_are_killed_at_restart(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with _master_process(data) as (proc, url):
        name = submit(url, make_pack(tmp_path, "behave.sh", envs={"MODE": "orphan"}))
        pid = _read_pid(data, name, "orphan.pid")
        # The record is written just after the worker starts: wait for it, then crash.
        log = data / "_disco_0" / "running-workers"
        wait_for(lambda: log.exists() and f"+{pid} ".encode() in log.read_bytes(), timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    try:
        assert alive(pid), "the worker died with its master: nothing to recover"
        with _master_process(data) as (_, url):
            wait_for(lambda: not alive(pid), timeout=30)
            assert (
                httpx.get(f"{url}/disco/ctrl/jobinfo", params={"name": name}).json()["active"]
                == "dead"
            )
    finally:
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)


def test_counts_are_restored_after_a_crash(tmp_path: Path) -> None:
    """One task of four finishes, the others hang; after SIGKILL and a restart the counts say so."""
    data = tmp_path / "d"
    inputs = [[0, 0, [f"raw://{c}"]] for c in "abcd"]
    pack = make_pack(tmp_path, "behave.sh", envs={"MODE": "firstonly"}, inputs=inputs)
    with _master_process(data) as (proc, url):
        name = submit(url, pack)
        wait_for(lambda: any("Received results" in m for m in events(url, name)), timeout=60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    with _master_process(data) as (_, url):
        info = httpx.get(f"{url}/disco/ctrl/jobinfo", params={"name": name}, timeout=30).json()
    assert info["active"] == "dead"
    assert info["pipeline"] == [["map", 0, 3, 0, 1, 0]]


def test_records_skip_a_reused_pid_and_compact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydisco.master import survivors

    monkeypatch.setattr(survivors, "COMPACT_LINES", 10)
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        records = survivors.WorkerRecords(tmp_path)
        for fake in range(100, 120):  # many short runs: the log is compacted meanwhile
            records.add(fake)
            records.remove(fake)
        records.add(sleeper.pid)
        records.close()
        assert len(records.path.read_bytes().splitlines()) < 12
        real = records.path.read_bytes()
        # Another process now has this pid (a start time an hour away): left alone.
        started = survivors.start_time(sleeper.pid)
        assert started is not None
        records.path.write_bytes(b"+%d %d\n" % (sleeper.pid, started - 3600 * survivors.TICKS))
        assert survivors.WorkerRecords(tmp_path).kill_survivors() == []
        assert alive(sleeper.pid)
        records.path.write_bytes(real)
        assert survivors.WorkerRecords(tmp_path).kill_survivors() == [sleeper.pid]
        sleeper.wait(timeout=30)
        assert not records.path.exists()
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
