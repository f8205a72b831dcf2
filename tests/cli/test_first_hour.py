"""The first hour of a new user (issue #13): the commands a user types, in a real process.

A failing task shows its traceback and task at once under ``run``,
``submit --wait`` and ``wait``; a dead job names its probable cause (also in
``--json``); ``run --master`` really uses that master; job-name shortcuts;
unknown jobs fail; packs warn about workers a master cannot start.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pydisco.client import JobStatus, Master
from tests.processes import discotool, discotool_argv, environment, start

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
WORDCOUNT = ROOT / "examples" / "jobs" / "wordcount.py"

SIDE_FILE_JOB = """\
from pydisco.job import map_reduce

def parse(line):
    with open("side.txt") as handle:
        yield line, handle.read()

needs_side_file = map_reduce(parse)
"""

BOOM_WORKER = """\
#!/usr/bin/env python3
from pydisco.worker import run_worker


def main(task):
    raise ValueError("boom in the worker")


if __name__ == "__main__":
    run_worker(main)
"""


@pytest.fixture
def boom_pack(tmp_path: Path) -> Path:
    home = tmp_path / "boom"
    home.mkdir()
    (home / "worker.py").write_text(BOOM_WORKER)
    (home / "worker.py").chmod(0o755)
    out = tmp_path / "boom.pack"
    args = ("pack", str(home), "--worker", "worker.py", "--with-runtime", "--input", "raw://x")
    done = discotool(*args, "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    return out


def test_run_stops_at_the_first_user_failure_and_names_its_cause(tmp_path: Path) -> None:
    (tmp_path / "side.py").write_text(SIDE_FILE_JOB)
    result = discotool("run", "side.py", "raw://x", cwd=tmp_path)  # FILE.py: its one job
    assert result.returncode == 1
    assert result.stderr.count("FATAL: task map:0 failed on localhost:") == 1
    assert "FileNotFoundError: [Errno 2] No such file or directory: 'side.txt'" in result.stderr
    assert 'side.py", line 4, in parse' in result.stderr  # the user's traceback
    assert "Probable cause of failure: the FATAL of task map:0" in result.stderr
    assert "local master is stopped" in result.stderr
    assert "discotool events" not in result.stderr  # that master is gone
    json_run = discotool("--json", "run", "side.py", "raw://x", cwd=tmp_path)
    assert json_run.returncode == 1
    document = json.loads(json_run.stdout)
    assert document["status"] == "dead"
    cause = document["cause"]
    assert (cause["kind"], cause["stage"], cause["task"]) == ("FATAL", "map", 0)
    assert "side.txt" in cause["message"]


def test_run_retries_retries_node_failures(tmp_path: Path) -> None:
    # An input that cannot be read is the node's or the data's failure: ERROR, retried.
    missing = (tmp_path / "missing.txt").as_uri()
    pack = tmp_path / "w.pack"
    home = tmp_path / "home"
    home.mkdir()
    (home / "worker.py").write_text((ROOT / "examples" / "tour" / "worker.py").read_text())
    (home / "worker.py").chmod(0o755)
    made = discotool(
        *("pack", str(home), "--worker", "worker.py", "--with-runtime"),
        *("--input", missing, "-o", str(pack)),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    result = discotool("--json", "run", str(pack), "--retries", "2", cwd=tmp_path)
    assert result.returncode == 1
    assert "WARNING: task map:0 failed on localhost" in result.stderr
    cause = json.loads(result.stdout)["cause"]
    assert (cause["kind"], cause["task"]) == ("ERROR", 0)
    assert "Task map:0 failed 3 times. At most 2 failures are allowed." in cause["message"]
    assert "Its last failure:" in cause["message"] and "missing.txt" in cause["message"]


def test_submit_wait_and_wait_show_the_traceback_and_probable_cause(
    live_master: Any, tmp_path: Path, boom_pack: Path
) -> None:
    url = live_master.url
    submitted = discotool("submit", str(boom_pack), "--wait", cwd=tmp_path, master=url)
    assert submitted.returncode == 1
    assert "FATAL: task map:0 failed on localhost:" in submitted.stderr
    assert "ValueError: boom in the worker" in submitted.stderr
    assert 'worker.py", line 6, in main' in submitted.stderr
    assert "Probable cause of failure" in submitted.stderr
    waited = discotool("wait", "@", cwd=tmp_path, master=url)  # the newest job
    assert waited.returncode == 1
    assert "FATAL: task map:0 failed on localhost:" in waited.stderr
    assert "Probable cause of failure: the FATAL of task map:0 on localhost" in waited.stderr
    assert "ValueError: boom in the worker" in waited.stderr
    as_json = discotool("--json", "wait", "@?boom", cwd=tmp_path, master=url)
    assert as_json.returncode == 1
    document = json.loads(as_json.stdout)
    assert document["status"] == "dead" and document["cause"]["kind"] == "FATAL"
    assert "boom in the worker" in document["cause"]["message"]


def test_run_with_master_submits_there_and_the_job_stays(live_master: Any, tmp_path: Path) -> None:
    (tmp_path / "book.txt").write_text("b a b\n")
    url = live_master.url
    result = discotool("run", f"{WORDCOUNT}:wordcount", "book.txt", "--master", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == ["a\t1", "b\t2"]
    assert f"to {url}" in result.stderr and "local master" not in result.stderr
    with Master(url) as master:
        (job,) = master.joblist()
        assert job.name.startswith("wordcount@") and job.status is JobStatus.READY
    refused = discotool("run", "x.pack", "--master", url, "--retries", "1", cwd=tmp_path)
    assert refused.returncode == 2


def test_job_shortcuts_stdin_submit_and_unknown_jobs(
    live_master: Any, tmp_path: Path, boom_pack: Path
) -> None:
    url = live_master.url
    tour = tmp_path / "tour.pack"
    made = discotool(
        *("pack", str(ROOT / "examples" / "tour"), "--worker", "worker.py"),
        *("--with-runtime", "--input", "raw://one two", "-o", str(tour)),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    with open(tour, "rb") as handle:
        piped = subprocess.run(
            [sys.executable, "-m", "pydisco", "--master", url, "submit", "-", "--results"],
            stdin=handle,
            capture_output=True,
            timeout=300,
            check=False,
        )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == b"one two"  # data by default; a raw input keeps its space
    name = discotool("submit", str(boom_pack), cwd=tmp_path, master=url).stdout.strip()
    assert discotool("info", "@", cwd=tmp_path, master=url).stdout.startswith(f"job:     {name}")
    older = discotool("jobdict", "@?tour", cwd=tmp_path, master=url)
    assert json.loads(older.stdout)["prefix"] == "tour"
    listed = json.loads(discotool("--json", "jobs", cwd=tmp_path, master=url).stdout)
    shown = json.loads(discotool("--json", "info", "@?tour", cwd=tmp_path, master=url).stdout)
    tour_row = next(row for row in listed if row["name"] == shown["name"])
    assert tour_row["start_time"] == shown["timestamp"]  # one ISO 8601 form for both
    assert (
        datetime.datetime.fromisoformat(shown["timestamp"]).strftime("%Y/%m/%d %H:%M:%S")
        == shown["timestamp_disco"]
    )
    assert isinstance(tour_row["start_time_epoch"], int)
    missing = discotool("info", "@?nosuch", cwd=tmp_path, master=url)
    assert missing.returncode == 1 and "no job whose name contains 'nosuch'" in missing.stderr
    for verb in ("kill", "clean", "purge"):
        unknown = discotool(verb, "nosuch@1:2:3", cwd=tmp_path, master=url)
        assert unknown.returncode == 1, verb
        assert "does not know the job 'nosuch@1:2:3'" in unknown.stderr
        assert "jobs from before a master restart are gone" not in unknown.stderr
        assert unknown.stdout == ""


def test_pack_and_inspect_warn_about_a_worker_a_master_cannot_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "worker.py").write_text("print('no shebang')\n")
    out = tmp_path / "w.pack"
    made = discotool("pack", str(home), "--worker", "worker.py", "-o", str(out), cwd=tmp_path)
    assert made.returncode == 0
    assert "has no '#!' line" in made.stderr and "is not executable" in made.stderr
    checked = discotool("inspect", "--validate", str(out), cwd=tmp_path)
    assert checked.returncode == 0
    assert "worker-no-shebang" in checked.stderr


def test_a_worker_without_shebang_fails_the_job_at_once(live_master: Any, tmp_path: Path) -> None:
    """The shared test master retries ERRORs: an exec format error must be FATAL at once."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "worker.py").write_text("print('no shebang')\n")
    (home / "worker.py").chmod(0o755)
    out = tmp_path / "w.pack"
    pack = ("pack", str(home), "--worker", "worker.py", "--input", "raw://x", "-o", str(out))
    assert discotool(*pack, cwd=tmp_path).returncode == 0
    result = discotool("submit", str(out), "--wait", cwd=tmp_path, master=live_master.url)
    assert result.returncode == 1
    assert "FATAL: task map:0 failed" in result.stderr
    assert "Exec format error" in result.stderr and "'#!' line" in result.stderr
    assert "WARNING" not in result.stderr


def test_run_of_a_missing_pack_says_no_such_file(tmp_path: Path) -> None:
    result = discotool("run", "nope.pack", cwd=tmp_path)
    assert result.returncode == 2
    assert "No such file: nope.pack" in result.stderr


BLOCKING_JOB = """\
import os
import time
from pathlib import Path

from pydisco.job import map_reduce


def hold(line):
    Path(line.strip()).write_text(str(os.getpid()))
    time.sleep(120)  # until the test stops the run
    yield line, 1


blocking = map_reduce(hold)
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_sigterm_on_run_cleans_up_like_ctrl_c(tmp_path: Path) -> None:
    (tmp_path / "blocking.py").write_text(BLOCKING_JOB)
    marker = tmp_path / "worker.pid"
    temp = tmp_path / "tmp"
    temp.mkdir()
    run = start(
        discotool_argv("run", "blocking.py", f"raw://{marker}"),
        cwd=tmp_path,
        env=environment(TMPDIR=str(temp)),
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists() or not marker.read_text():
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.05)
        worker = int(marker.read_text())
        assert any(temp.iterdir())  # the run's master data and staged inputs
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, err
    assert "Interrupted" in err
    assert sorted(path.name for path in temp.iterdir()) == []
    deadline = time.monotonic() + 60
    while not _gone(worker):  # the master killed its process group before it stopped
        assert time.monotonic() < deadline, "the worker outlived the run"
        time.sleep(0.05)


def test_keep_master_serves_the_dead_jobs_events_until_sigterm(tmp_path: Path) -> None:
    (tmp_path / "side.py").write_text(SIDE_FILE_JOB)
    run = start(
        discotool_argv("run", "side.py", "raw://x", "--keep-master"),
        cwd=tmp_path,
        env=environment(),
    )
    try:
        assert run.stderr is not None
        seen = []
        for line in run.stderr:
            seen.append(line)
            if "keeps running at" in line:
                break
        else:
            raise AssertionError("".join(seen))
        assert "Probable cause of failure" in "".join(seen)
        found = re.search(r"keeps running at (http://127\.0\.0\.1:\d+)", line)
        assert found is not None, line
        url = found.group(1)
        shown = discotool("--master", url, "events", "@", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "FATAL" in shown.stdout and "side.txt" in shown.stdout
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 1  # the job was dead
