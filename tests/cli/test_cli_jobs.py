"""``discotool`` job commands against a real reference master on loopback."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

from pydisco.client import JobStatus, Master

from .conftest import Discotool, InProcess, support

WORDS = "raw://alpha\nbeta\ngamma\ndelta\nepsilon"


def _submit(dt: InProcess, tmp_path: Path, *extra: str, **pack: Any) -> str:
    result = dt("submit", str(support.write_pack(tmp_path, **pack)), *extra)
    assert result.exit_code == 0, result.output
    return str(result.stdout.strip().splitlines()[0])


def _done(dt: InProcess, tmp_path: Path, **pack: Any) -> str:
    name = _submit(dt, tmp_path, **pack)
    assert dt("wait", name).exit_code == 0
    return name


def test_submit_in_a_real_process_prints_the_job_name(
    discotool: Discotool, tmp_path: Path, live_master: Any
) -> None:
    result = discotool("submit", str(support.write_pack(tmp_path)))
    assert result.returncode == 0, result.stderr
    name = result.stdout.strip()
    assert name.startswith("ClientTest@")
    with Master(live_master.url) as master:
        assert master.wait(name, poll_interval=0.2).status is JobStatus.READY


def test_submit_zip_form_wait_and_results(dt: InProcess, tmp_path: Path) -> None:
    result = dt("submit", str(support.write_zip_pack(tmp_path)), "--wait", "--results")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["zipped"]  # the data by default, the name on stderr
    assert "Submitted ZipTest@" in result.stderr and "ready" in result.stderr


def test_submit_bad_pack_shows_the_masters_error(dt: InProcess, tmp_path: Path) -> None:
    result = dt("submit", str(support.bad_pack(tmp_path)))
    assert result.exit_code == 1
    assert "Job failed to start" in result.stderr and "prefix" in result.stderr
    not_a_pack = tmp_path / "notes.txt"
    not_a_pack.write_text("hello")
    result = dt("submit", str(not_a_pack))
    assert result.exit_code == 1 and "Error:" in result.stderr


def test_failing_job_wait_exits_1_and_shows_its_error(dt: InProcess, tmp_path: Path) -> None:
    name = _submit(dt, tmp_path, envs={"TEST_MODE": "fatal"})
    result = dt("wait", name)
    assert result.exit_code == 1
    assert f"Job {name} failed" in result.stderr and "told to fail" in result.stderr
    result = dt("submit", str(support.write_pack(tmp_path, envs={"TEST_MODE": "fatal"})), "--wait")
    assert result.exit_code == 1 and "told to fail" in result.stderr
    assert dt("results", name).exit_code == 1


def test_jobs_info_and_json(dt: InProcess, tmp_path: Path) -> None:
    first = _done(dt, tmp_path)
    second = _done(dt, tmp_path, pipeline=["map:split", "reduce:group_all"])
    table = dt("jobs").stdout.splitlines()
    assert table[0].split("\t") == ["name", "status", "start time"]
    assert [row.split("\t")[0] for row in table[1:3]] == [second, first]
    assert table[1].split("\t")[1] == "ready"
    listed = json.loads(dt("--json", "jobs").stdout)
    assert listed[0]["name"] == second and listed[0]["status"] == "ready"
    info = dt("info", second)
    assert info.exit_code == 0
    assert f"job:     {second}" in info.stdout and "status:  ready" in info.stdout
    assert "map\t0\t0\t0\t1\t0" in info.stdout and "reduce\t0\t0\t0\t1\t0" in info.stdout
    assert "raw://hello" in info.stdout and "testworker.py" in info.stdout
    assert "tester@localhost" in info.stdout and "dir://" in info.stdout
    data = json.loads(dt("info", second, "--json").stdout)
    assert data["status"] == "ready" and data["stages"][1]["stage"] == "reduce"


def test_unknown_job_exits_1(dt: InProcess) -> None:
    for args in (["info", "No@1"], ["wait", "No@1"], ["events", "No@1"], ["results", "No@1"],
                 ["jobdict", "No@1"], ["stageresults", "No@1", "map"]):  # fmt: skip
        result = dt(*args)
        assert result.exit_code == 1, args
        assert "does not know the job 'No@1'" in result.stderr, args


def test_events_plain_json_and_follow(dt: InProcess, tmp_path: Path) -> None:
    name = _done(dt, tmp_path)
    plain = dt("events", name).stdout.splitlines()
    assert any("READY: Job done" in line for line in plain)
    assert any("MSG: [map:0]" in line for line in plain)
    parsed = [json.loads(line) for line in dt("events", name, "--json").stdout.splitlines()]
    assert len(parsed) == len(plain) and parsed[-1]["kind"] == "READY"
    assert {"time", "host", "message", "kind", "stage", "task", "offset"} <= set(parsed[0])
    assert dt("events", name, "--follow").stdout.splitlines() == plain
    tail = dt("events", name, "--offset", str(parsed[-1]["offset"])).stdout.splitlines()
    assert tail == plain[-1:]


def test_results_modes_and_stageresults(dt: InProcess, tmp_path: Path) -> None:
    name = _done(dt, tmp_path, inputs=[WORDS], envs={"LABELS": "3"})
    entries = dt("results", name).stdout.splitlines()
    assert len(entries) == 1 and entries[0].startswith("dir://")
    urls = dt("results", name, "--urls").stdout.splitlines()
    assert len(urls) == 2 and all(u.startswith("http://") for u in urls)
    data = dt("results", name, "--cat").stdout.splitlines()
    assert sorted(data) == ["alpha", "beta", "delta", "epsilon", "gamma"]
    labelled = dt("results", name, "--cat", "--label", "2").stdout.splitlines()
    assert sorted(labelled) == ["alpha", "delta", "gamma"]
    assert json.loads(dt("--json", "results", name, "--urls").stdout) == [[u] for u in urls]
    stage = dt("stageresults", name, "map")
    assert stage.exit_code == 0 and stage.stdout.startswith("dir://")


def test_jobdict_and_jobpack(dt: InProcess, tmp_path: Path) -> None:
    name = _done(dt, tmp_path)
    jobdict = json.loads(dt("jobdict", name).stdout)
    assert jobdict["prefix"] == "ClientTest" and jobdict["inputs"] == [[0, 0, ["raw://hello"]]]
    target = tmp_path / "copy.pack"
    result = dt("jobpack", name, "-o", str(target))
    assert result.exit_code == 0 and target.stat().st_size > 128
    assert target.read_bytes()[:2] == b"\xd5\xc0"


def test_kill_clean_purge_take_several_jobs(
    dt: InProcess, tmp_path: Path, live_master: Any
) -> None:
    sleepers = [_submit(dt, tmp_path, envs={"TEST_MODE": "sleep"}) for _ in range(2)]
    timed_out = dt("wait", sleepers[0], "--timeout", "0.3", "--poll", "0.1")
    assert timed_out.exit_code == 1 and "still active" in timed_out.stderr
    result = dt("kill", *sleepers)
    assert result.exit_code == 0 and result.stdout.splitlines() == [f"Killed {n}" for n in sleepers]
    with Master(live_master.url) as master:
        for name in sleepers:
            _until(lambda n=name: master.results(n).status is JobStatus.DEAD)
        assert dt("clean", *sleepers).exit_code == 0
        done = [_done(dt, tmp_path) for _ in range(2)]
        assert json.loads(dt("--json", "purge", *done).stdout) == {"purged": done}
        for name in [*sleepers, *done]:
            _until(lambda n=name: master.results(n).status is JobStatus.UNKNOWN)


def _until(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_interrupted_wait_leaves_the_job_running(
    discotool: Discotool, tmp_path: Path, live_master: Any
) -> None:
    with Master(live_master.url) as master:
        name = master.submit(support.write_pack(tmp_path, envs={"TEST_MODE": "sleep"}))
        # A shell starts background jobs with SIGINT ignored, and children inherit that
        # (`make test &`): handled here, it is reset to the default in the child at exec.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            process = discotool.popen("wait", name, "--poll", "0.2")
        finally:
            signal.signal(signal.SIGINT, previous)
        try:
            assert process.stderr is not None
            first = process.stderr.readline()  # the first progress line: it is waiting
            assert name in first and "active" in first
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=30)
        finally:
            process.kill()
        assert process.returncode == 130, stderr
        assert "still running" in stderr and f"discotool kill {name}" in stderr
        assert "Traceback" not in stderr
        assert master.results(name).status is JobStatus.ACTIVE
        master.kill(name)
