"""Nodes that are missing, fail, leave or join mid-job, and the node/event views of them.

Real masters on loopback, real workers. Nodes are loopback addresses (127.0.0.x)
the master listens on; a node whose name does not resolve, or whose address
cannot be listened on, is not connected and never gets a task.
"""

from __future__ import annotations

import json
import re
import socket
import time

import httpx

from pydisco.master import ReferenceMaster
from pydisco.master.job import hh_dir
from tests.master.helpers import events, make_pack, submit, wait


def get(url: str, path: str, **kw):
    return httpx.get(f"{url}{path}", timeout=30, **kw)


def test_jobevents_skips_a_torn_line_and_nodeinfo_has_disk_figures(reference_master, tmp_path):
    url = reference_master.url
    name = submit(url, make_pack(tmp_path, inputs=[[0, 0, ["raw://a b"]]]))
    assert wait(url, name)[0] == "ready"
    events_file = hh_dir(reference_master.core.root, name) / "events"
    lines = events_file.read_text().splitlines(keepends=True)
    with events_file.open("a") as out:
        out.write('["2026/01/01 00:00:00","mas')  # a write cut short by a crash
    reply = get(url, "/disco/ctrl/jobevents", params={"name": name, "num": "1000"})
    assert reply.headers["content-type"] == "text/plain"
    assert reply.text == "[" + ",".join(reversed(lines)) + "]"
    assert json.loads(reply.text) == [json.loads(line) for line in reversed(lines)]
    filtered = get(url, "/disco/ctrl/jobevents", params={"name": name, "filter": "MAS"})
    from_master = [json.loads(line) for line in lines if '"master"' in line]
    assert json.loads(filtered.text) == list(reversed(from_master))

    missing = get(url, "/disco/ctrl/jobevents", params={"name": "nosuch"})
    assert missing.status_code == 404 and missing.text == "Not found."
    assert missing.headers["content-type"] == "text/plain"

    (info,) = get(url, "/disco/ctrl/nodeinfo").json().values()
    assert info["connected"] is True and info["job_ok"] == 1
    assert isinstance(info["diskfree"], int) and info["diskfree"] > 0
    assert isinstance(info["diskused"], int) and info["diskused"] > 0


# -- helpers for jobs on several nodes ------------------------------------------------------

TWO_NODES = "127.0.0.2=2,127.0.0.3=2"
A, B = "127.0.0.2", "127.0.0.3"
ASSIGNED = re.compile(r"^(\w+):(\d+) assigned to (\S+)$")


def post(url: str, path: str, body):
    reply = httpx.post(f"{url}{path}", content=json.dumps(body), timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def done_count(url: str, name: str, stage: int = 0) -> int:
    info = get(url, "/disco/ctrl/jobinfo", params={"name": name}).json()
    return info["pipeline"][stage][4]


def wait_until(check, what: str, timeout: float = 60.0):
    """Poll ``check()`` until it returns something true (an event, not a duration)."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


def wait_for_event(url: str, name: str, needle: str) -> str:
    return wait_until(
        lambda: next((e for e in events(url, name) if needle in e), None), f"event {needle!r}"
    )


def assignments(log: list[str]) -> list[tuple[str, int, str]]:
    """(stage, task id, host) of every assignment, in order."""
    return [(m[1], int(m[2]), m[3]) for e in log if (m := ASSIGNED.match(e))]


def raw_inputs(n: int) -> list[list]:
    return [[0, 0, ["raw://0"]] for _ in range(n)]


def probe_pack(tmp_path, inputs, pipeline=None, sleep: str = "0.5") -> bytes:
    return make_pack(
        tmp_path,
        "probe.sh",
        inputs=inputs,
        pipeline=pipeline or [["map", "split", False]],
        envs={"SLEEP": sleep},
    )


# -- item 1: nodes that cannot be connected --------------------------------------------------


def test_a_node_that_does_not_resolve_is_left_out(tmp_path):
    with ReferenceMaster.start_in_thread(
        tmp_path / "data", nodes=f"missingnode_0=2,{A}=2", retry_delay=0.0
    ) as master:
        url = master.url
        nodes = get(url, "/disco/ctrl/nodeinfo").json()
        assert nodes["missingnode_0"]["connected"] is False
        assert nodes[A]["connected"] is True
        name = submit(url, probe_pack(tmp_path, raw_inputs(6), sleep=""))
        assert wait(url, name)[0] == "ready"
        log = events(url, name)
        warning = next(e for e in log if e.startswith("WARN: Node missingnode_0"))
        assert "is not connected: the name does not resolve" in warning
        assert {host for _s, _t, host in assignments(log)} == {A}
        assert get(url, "/disco/ctrl/nodeinfo").json()["missingnode_0"]["job_ok"] == 0


def test_no_node_can_run_tasks_until_one_comes_up(tmp_path):
    """The only node cannot listen (its address:port is taken); the job says so, waits,
    and runs once the periodic retry connects the node."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.5", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        with ReferenceMaster.start_in_thread(
            tmp_path / "data", port=port, nodes="127.0.0.5=1", retry_delay=0.0, node_retry=0.05
        ) as master:
            url = master.url
            assert get(url, "/disco/ctrl/nodeinfo").json()["127.0.0.5"]["connected"] is False
            name = submit(url, probe_pack(tmp_path, raw_inputs(2), sleep=""))
            stalled = wait_for_event(url, name, "No node can run tasks now")
            assert "127.0.0.5: not connected: cannot listen on 127.0.0.5" in stalled
            assert f":{port}: " in stalled
            assert not assignments(events(url, name))
            blocker.close()
            assert wait(url, name)[0] == "ready"
            log = events(url, name)
            assert "Node 127.0.0.5 is connected" in log
            assert {host for _s, _t, host in assignments(log)} == {"127.0.0.5"}
            assert get(url, "/disco/ctrl/nodeinfo").json()["127.0.0.5"]["connected"] is True
    finally:
        blocker.close()


def test_an_empty_usable_table_gets_an_event_then_a_new_node_runs_the_job(tmp_path):
    with ReferenceMaster.start_in_thread(
        tmp_path / "data", nodes="missingnode_0=2", retry_delay=0.0
    ) as master:
        url = master.url
        name = submit(url, probe_pack(tmp_path, raw_inputs(2), sleep=""))
        stalled = wait_for_event(url, name, "No node can run tasks now")
        assert "missingnode_0: not connected: the name does not resolve" in stalled
        assert post(url, "/disco/ctrl/save_config_table", [[A, "1"]]) == "table saved!"
        assert wait(url, name)[0] == "ready"
        assert {host for _s, _t, host in assignments(events(url, name))} == {A}
