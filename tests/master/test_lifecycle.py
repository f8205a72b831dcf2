"""kill, clean and purge (facts §10.6), stopping, and a master restart (nothing is lost)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx

from pydisco.master import ReferenceMaster
from pydisco.master.layout import hexhash
from tests.master.helpers import events, make_pack, read_results, submit, wait, word_counts


def post(url, op, body):
    reply = httpx.post(f"{url}/disco/ctrl/{op}", content=json.dumps(body), timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def home_of(master, name, host="localhost") -> Path:
    return master.data_dir / host / hexhash(name) / name


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as fp:
            return fp.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def start_grandchild_job(master, tmp_path):
    name = submit(master.url, make_pack(tmp_path, "behave.sh", envs={"MODE": "grandchild"}))
    pid_file = home_of(master, name) / "grandchild.pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip())
    return name, int(pid_file.read_text())


def test_kill_job_kills_the_whole_worker_tree(reference_master, tmp_path):
    url = reference_master.url
    name, grandchild = start_grandchild_job(reference_master, tmp_path)
    assert alive(grandchild)
    assert post(url, "kill_job", name) == ""
    assert wait(url, name) == ("dead", [])
    assert "WARN: Job killed" in events(url, name)
    wait_for(lambda: not alive(grandchild))
    assert home_of(reference_master, name).is_dir()  # a kill deletes nothing


def test_clean_job_forgets_the_job(reference_master, tmp_path):
    url = reference_master.url
    name = submit(url, make_pack(tmp_path, "wordcount.sh"))
    wait(url, name)
    master_dir = reference_master.state.root / hexhash(name) / name
    assert master_dir.is_dir()
    assert post(url, "clean_job", name) == ""
    assert httpx.get(f"{url}/disco/ctrl/jobinfo", params={"name": name}).status_code == 404
    assert post(url, "get_results", [0, [name]]) == [[name, ["unknown job", []]]]
    assert not master_dir.exists()
    assert home_of(reference_master, name).is_dir()  # node data stays until purge


def test_purge_job_deletes_data_on_every_node(tmp_path):
    with ReferenceMaster.start_in_thread(
        tmp_path / "data", nodes="127.0.0.2=1,127.0.0.3=1", retry_delay=0.0
    ) as master:
        pack = make_pack(tmp_path, "probe.sh", pipeline=[["first", "split", False]],
                         inputs=[[0, 0, ["raw://0"]]] * 2)  # fmt: skip
        name = submit(master.url, pack)
        assert wait(master.url, name)[0] == "ready"
        homes = [home_of(master, name, h) for h in ("127.0.0.2", "127.0.0.3")]
        assert all(h.is_dir() for h in homes)
        assert post(master.url, "purge_job", name) == ""
        assert not any(h.exists() for h in homes)
        assert not (master.state.root / hexhash(name) / name).exists()
        assert name not in [row[2] for row in httpx.get(f"{master.url}/disco/ctrl/joblist").json()]


def test_purge_of_a_running_job(reference_master, tmp_path):
    name, grandchild = start_grandchild_job(reference_master, tmp_path)
    assert post(reference_master.url, "purge_job", name) == ""
    wait_for(lambda: not alive(grandchild))
    assert not home_of(reference_master, name).exists()


def test_restart_keeps_finished_jobs_and_buries_running_ones(tmp_path):
    data = tmp_path / "data"
    texts = ["x y", "y z z"]
    pack = make_pack(
        tmp_path,
        "wordcount.sh",
        pipeline=[["map", "split", False], ["reduce", "group_label", False]],
        inputs=[[0, 0, [f"raw://{t}"]] for t in texts],
    )
    first = ReferenceMaster.start_in_thread(data, retry_delay=0.0)
    done = submit(first.url, pack)
    status, results = wait(first.url, done)
    assert status == "ready"
    done_events = events(first.url, done)
    running, grandchild = start_grandchild_job(first, tmp_path)
    first.stop()
    wait_for(lambda: not alive(grandchild))

    with ReferenceMaster.start_in_thread(data, retry_delay=0.0) as second:
        url = second.url
        listing = httpx.get(f"{url}/disco/ctrl/joblist").json()
        assert [(row[1], row[2]) for row in listing] == [("dead", running), ("ready", done)]
        assert post(url, "get_results", [0, [done, running]]) == [
            [done, ["ready", results]],
            [running, ["dead", []]],
        ]
        assert word_counts(read_results(url, results)) == {"x": 1, "y": 2, "z": 2}
        info = httpx.get(f"{url}/disco/ctrl/jobinfo", params={"name": done}).json()
        assert info["active"] == "ready" and info["pipeline"][1][0] == "reduce"
        assert events(url, done) == done_events
        assert httpx.get(f"{url}/disco/ctrl/parameters", params={"name": done}).content == pack
        dead_log = events(url, running)
        assert any("master is stopping" in m for m in dead_log), dead_log
        # new jobs get new names and run
        again = submit(url, pack)
        assert again not in (done, running)
        assert wait(url, again)[0] == "ready"


def test_restart_after_a_crash_marks_running_jobs_dead(tmp_path):
    data = tmp_path / "data"
    with ReferenceMaster.start_in_thread(data) as master:
        name, _grandchild = start_grandchild_job(master, tmp_path)
        state = master.state.root / hexhash(name) / name / "state.json"
        saved = state.read_bytes()
    state.write_bytes(saved)  # as if the master had died without its clean stop
    with ReferenceMaster.start_in_thread(data) as again:
        assert post(again.url, "get_results", [0, [name]]) == [[name, ["dead", []]]]
        assert any("master restarted" in m for m in events(again.url, name))
