"""``discotool master`` in the foreground, and version 1 (classic) job packs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import httpx

from pydisco.jobpack import jobpack_bytes
from tests.master.helpers import WORKERS, events, make_pack, submit, wait
from tests.master.test_lifecycle import alive, home_of, wait_for


def test_discotool_master_runs_and_stops_on_sigterm(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCO_")}
    with subprocess.Popen(
        [sys.executable, "-m", "pydisco", "master", "--port", "0", "--data", str(tmp_path / "d")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            assert httpx.get(f"{url}/disco/version").json() == "0.5.4"
            name = submit(url, make_pack(tmp_path, "behave.sh", envs={"MODE": "grandchild"}))
            nodes = tmp_path / "d" / "localhost"
            wait_for(lambda: any(p.read_text() for p in nodes.rglob("grandchild.pid")))
            grandchild = int(next(nodes.rglob("grandchild.pid")).read_text())
            assert name and alive(grandchild)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
            wait_for(lambda: not alive(grandchild))
            assert "listening on" in proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()


def test_refuses_remote_listening_without_flag(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pydisco", "master", "--host", "0.0.0.0", "--port", "0",
         "--data", str(tmp_path / "d")],
        check=False, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode != 0
    assert "allow-remote" in result.stderr


def v1_pack(tmp_path, inputs, **flags):
    home = tmp_path / f"home-v1-{time.monotonic_ns()}"
    home.mkdir()
    (home / "probe.sh").write_bytes((WORKERS / "probe.sh").read_bytes())
    jobdict = {
        "prefix": "Classic",
        "worker": "probe.sh",
        "owner": "tester",
        "scheduler": {},
        "input": inputs,
        "map?": False,
        "reduce?": False,
        "reduce_shuffle?": False,
        "nr_reduces": 1,
        **flags,
    }
    return jobpack_bytes(jobdict=jobdict, jobenvs={}, jobhome=home, version=1)


def test_v1_map_job_and_a_chained_reduce_over_dir_inputs(reference_master, tmp_path):
    url = reference_master.url
    first = submit(url, v1_pack(tmp_path, ["raw://0,1", ["raw://1", "raw://1"]], **{"map?": True}))
    status, results = wait(url, first)
    log = events(url, first)
    assert status == "ready", log
    assert "Stage map scheduled with 2 tasks" in log
    assert "Stage map_shuffle scheduled with 1 tasks" in log
    info = httpx.get(f"{url}/disco/ctrl/jobinfo", params={"name": first}).json()
    assert [row[0] for row in info["pipeline"]] == ["map", "map_shuffle"]
    # A classic reduce-only job over the first job's dir:// results (read when the job starts).
    dirs = [r[0] for r in results]
    assert all(d.startswith("dir://localhost/") for d in dirs)
    second = submit(url, v1_pack(tmp_path, dirs, **{"reduce?": True}))
    status, results = wait(url, second)
    log = events(url, second)
    assert status == "ready", log
    assert "Stage reduce scheduled with 1 tasks" in log
    assert any("probe reduce:0" in m and "labels=all" in m for m in log), log
    assert home_of(reference_master, second).is_dir()
    assert json.loads(httpx.get(f"{url}/disco/ctrl/joblist").text)[0][2] == second


def test_dir_inputs_of_another_host_are_fetched_over_http(reference_master, tmp_path):
    """A ``dir://`` input on a host that is none of the master's nodes is read over HTTP
    from that host's data port (the master's port, as on Disco); one that cannot be read
    kills the job with the reason."""
    from pydisco.master import ReferenceMaster

    first = submit(reference_master.url, v1_pack(tmp_path, ["raw://0,1"], **{"map?": True}))
    status, results = wait(reference_master.url, first)
    assert status == "ready"
    dirs = [r[0] for r in results]
    assert all(d.startswith("dir://localhost/") for d in dirs)
    data = tmp_path / "other"
    shutil.copytree(reference_master.data_dir / "localhost", data / "localhost")
    with ReferenceMaster.start_in_thread(data, nodes="127.0.0.2=1", retry_delay=0.0) as other:
        second = submit(other.url, v1_pack(tmp_path, dirs, **{"reduce?": True}))
        status, _ = wait(other.url, second)
        log = events(other.url, second)
        assert status == "ready", log
        assert any("probe reduce:0" in m and "labels=all" in m for m in log), log
        missing = dirs[0].replace(".results", "-gone.results")
        third = submit(other.url, v1_pack(tmp_path, [missing], **{"reduce?": True}))
        status, _ = wait(other.url, third)
        log = events(other.url, third)
    assert status == "dead", log
    assert any("internal exception" in m and "404" in m for m in log), log


def test_a_port_in_use_says_so_and_how_to_pick_another(tmp_path):
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "pydisco", "master", "--port", str(port),
             "--data", str(tmp_path / "d")],
            check=False, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"port {port} of 127.0.0.1 is in use" in result.stderr
    assert "choose another port with --port (0 picks a free one" in result.stderr
