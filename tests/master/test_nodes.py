"""Nodes that are missing, fail, leave or join mid-job, and the node/event views of them.

Real masters on loopback, real workers. Nodes are loopback addresses (127.0.0.x)
the master listens on; a node whose name does not resolve, or whose address
cannot be listened on, is not connected and never gets a task.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time

import httpx
import pytest

from pydisco.master import ReferenceMaster
from pydisco.master.jobstore import hh_dir
from pydisco.master.nodes import Link as NodeLink
from pydisco.master.nodes import NodeLinks
from pydisco.master.scheduler import Scheduler
from tests.master.helpers import events, make_pack, submit, wait


@pytest.fixture(scope="module", autouse=True)
def _http():
    """One HTTP client for the module's many small requests (a client per request is slow)."""
    global HTTP
    with httpx.Client(timeout=30) as client:
        HTTP = client
        yield


HTTP: httpx.Client


def get(url: str, path: str, **kw):
    return HTTP.get(f"{url}{path}", **kw)


def test_jobevents_skips_a_torn_line_and_nodeinfo_has_disk_figures(reference_master, tmp_path):
    url = reference_master.url
    name = submit(url, make_pack(tmp_path, inputs=[[0, 0, ["raw://a b"]]]))
    assert wait(url, name)[0] == "ready"
    events_file = hh_dir(reference_master.state.root, name) / "events"
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
    reply = HTTP.post(f"{url}{path}", content=json.dumps(body))
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
            tmp_path / "data",
            port=port,
            put_port=0,  # not the default 8990: another master on this machine may hold it
            nodes="127.0.0.5=1",
            retry_delay=0.0,
            node_retry=0.05,
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


def test_load_config_table_retries_a_node_at_once(tmp_path):
    """With the retry timer off, re-reading the table (load_config_table) retries."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.6", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        with ReferenceMaster.start_in_thread(
            tmp_path / "data", port=port, put_port=0, nodes="127.0.0.6=1", node_retry=0
        ) as master:
            url = master.url
            assert get(url, "/disco/ctrl/nodeinfo").json()["127.0.0.6"]["connected"] is False
            blocker.close()
            assert get(url, "/disco/ctrl/load_config_table").json() == [["127.0.0.6", "1"]]
            wait_until(
                lambda: get(url, "/disco/ctrl/nodeinfo").json()["127.0.0.6"]["connected"],
                "the node to connect",
            )
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


# -- item 2: the node table changes while a job runs ------------------------------------------

TABLE_CHANGED = "Node table changed: "


def allowed_after(marker: str) -> set[str]:
    """The nodes that may take tasks after a ``Node table changed`` event."""
    return {
        part.split("=")[0]
        for part in marker[len(TABLE_CHANGED) :].split(", ")
        if "(" not in part and "=" in part
    }


def check_assignments_follow_the_table(log: list[str], allowed: set[str]) -> int:
    """Every assignment goes to a node that could take tasks then; returns the changes seen."""
    changes = 0
    for message in log:
        if message.startswith(TABLE_CHANGED):
            allowed = allowed_after(message)
            changes += 1
        elif match := ASSIGNED.match(message):
            assert match[3] in allowed, f"{message!r} while the table had {sorted(allowed)}"
    return changes


def test_node_table_changes_three_times_mid_job(tmp_path):
    """24 map tasks of 0.5 s on two nodes; a node leaves, the other leaves and the first
    comes back, then both are in: each change is made once enough tasks are done."""
    tables = {
        3: [[A, "2"]],
        8: [[B, "2"]],
        13: [[A, "2"], [B, "2"]],
    }
    with ReferenceMaster.start_in_thread(tmp_path / "data", nodes=TWO_NODES, retry_delay=0.0) as m:
        url = m.url
        pipeline = [["map", "split", False], ["reduce", "group_all", False]]
        name = submit(url, probe_pack(tmp_path, raw_inputs(24), pipeline))
        for after, table in tables.items():
            wait_until(lambda n=after: done_count(url, name) >= n, f"{after} map tasks done")
            assert post(url, "/disco/ctrl/save_config_table", table) == "table saved!"
            nodes = get(url, "/disco/ctrl/nodeinfo").json()
            assert sorted(nodes) == sorted(row[0] for row in table)
        status, results = wait(url, name)
        assert status == "ready"
        log = events(url, name)
        assert check_assignments_follow_the_table(log, {A, B}) == 3
        changed = [n for n, e in enumerate(log) if e.startswith(TABLE_CHANGED)]
        map_done = next(n for n, e in enumerate(log) if e.startswith("Stage map finished"))
        assert changed[-1] < map_done  # all three changes happened mid-job
        # every map task ran to completion exactly once, and its output is in the results
        received = [int(m[1]) for e in log if (m := re.match(r"SYS: \[map:(\d+)\] Received", e))]
        assert sorted(received) == list(range(24))
        map_results = get(
            url, "/disco/ctrl/get_stageresults", params={"name": name, "stage": "map"}
        ).json()
        assert len(map_results) == 24
        lines = []
        for (index_url,) in map_results:
            path = index_url.split("/", 3)[3]
            for entry in get(url, f"/{path}").text.splitlines():
                data_path = entry.split()[1].split("/", 3)[3]
                lines.extend(get(url, f"/{data_path}").text.splitlines())
        assert sorted(int(line.split()[0]) for line in lines) == list(range(24))
        # the reduce read every map index over HTTP, whichever node served it
        index_bytes = sum(len(get(url, "/" + u.split("/", 3)[3]).content) for (u,) in map_results)
        (reduce_probe,) = [e for e in log if e.startswith("MSG: [reduce:")]
        assert f"fetched={index_bytes}" in reduce_probe
        assert len(results) == 1


class _Queued:
    """A task as the scheduler sees it."""

    def __init__(self, jobname: str = "J", prefer: str = "") -> None:
        self.jobname = jobname
        self.prefer = prefer

    def preferred_hosts(self) -> list[str]:
        return [self.prefer] if self.prefer else []

    def avoided_hosts(self) -> set[str]:
        return set()


def test_scheduler_places_again_a_task_whose_node_left_before_it_started():
    ran: list[str] = []

    async def start(task, host: str) -> None:
        ran.append(host)

    async def scenario() -> None:
        scheduler = Scheduler({"a": 1, "b": 1})
        scheduler.submit(_Queued(prefer="a"), start)
        assert scheduler.nodes["a"].running == 1  # placed; its first step has not run
        scheduler.apply({"b": 1}, [])  # "a" leaves the table before the task starts
        assert "a" in scheduler.nodes and not scheduler.nodes["a"].in_table
        await scheduler.drain()
        await asyncio.sleep(0)
        await scheduler.drain()
        assert "a" not in scheduler.nodes  # gone once its last task slot was given back
        assert scheduler.nodes["b"].running == 0

    asyncio.run(scenario())
    assert ran == ["b"]


def test_scheduler_tells_each_waiting_job_once_that_no_node_can_take_tasks():
    told: list[tuple[list[str], str]] = []
    links = {"a": (False, "the name does not resolve"), "b": (True, "")}

    async def start(task, host: str) -> None:
        pass

    async def scenario() -> None:
        scheduler = Scheduler(
            {"a": 1, "b": 1},
            ["b"],
            link=lambda name: links[name],
            stalled=lambda names, why: told.append((names, why)),
        )
        scheduler.submit(_Queued("J1"), start)
        scheduler.submit(_Queued("J1"), start)
        scheduler.submit(_Queued("J2"), start)
        assert told == [
            (["J1"], "a: not connected: the name does not resolve; b: blacklisted"),
            (["J2"], "a: not connected: the name does not resolve; b: blacklisted"),
        ]
        scheduler.apply({"a": 1, "b": 1}, [])  # whitelisted: b takes the first task
        assert scheduler.nodes["b"].running == 1 and len(scheduler.queue) == 2
        scheduler.apply({}, [])  # J1 had a task started since it was told; J2 had not
        assert told[2:] == [(["J1"], "the node table is empty")]
        await scheduler.drain()
        # the task placed on b had not started: it is queued again, b is gone
        assert len(told) == 3 and len(scheduler.queue) == 3 and not scheduler.nodes

    asyncio.run(scenario())


# -- item 3: inputs served by a node that left the table ------------------------------------


def test_inputs_served_by_a_node_removed_mid_job_are_still_read(tmp_path):
    with ReferenceMaster.start_in_thread(tmp_path / "data", nodes=TWO_NODES, retry_delay=0.0) as m:
        url = m.url
        served = m.data_dir / B / "input"
        served.mkdir(parents=True)
        inputs = []
        for k in range(12):
            (served / f"part-{k}").write_text(f"part {k}\n")
            scheme = "http" if k % 2 else "disco"
            port = f":{m.port}" if scheme == "http" else ""
            inputs.append([0, 0, [f"{scheme}://{B}{port}/disco/{B}/input/part-{k}"]])
        name = submit(url, probe_pack(tmp_path, inputs))
        wait_until(lambda: done_count(url, name) >= 2, "2 map tasks done")
        assert post(url, "/disco/ctrl/save_config_table", [[A, "2"]]) == "table saved!"
        assert wait(url, name)[0] == "ready"
        log = events(url, name)
        assert check_assignments_follow_the_table(log, {A, B}) == 1
        changed = log.index(next(e for e in log if e.startswith(TABLE_CHANGED)))
        after = [host for _s, _t, host in assignments(log[changed:])]
        assert after and set(after) == {A}  # these read B's inputs after B left
        map_results = get(
            url, "/disco/ctrl/get_stageresults", params={"name": name, "stage": "map"}
        ).json()
        text = []
        for (index_url,) in map_results:
            for entry in get(url, "/" + index_url.split("/", 3)[3]).text.splitlines():
                text.extend(get(url, "/" + entry.split()[1].split("/", 3)[3]).text.splitlines())
        assert sorted(text) == sorted(f"part {k}" for k in range(12))


# -- item 4: blacklisting mid-job ------------------------------------------------------------


def test_blacklisting_a_node_mid_job_moves_its_waiting_tasks(tmp_path):
    with ReferenceMaster.start_in_thread(
        tmp_path / "data", nodes=f"{A}=1,{B}=1", retry_delay=0.0
    ) as m:
        url = m.url
        inputs = [[0, 0, [f"raw://{k}"]] for k in range(10)]
        name = submit(url, probe_pack(tmp_path, inputs, sleep="0.3"))
        wait_until(lambda: done_count(url, name) >= 2, "2 map tasks done")
        assert post(url, "/disco/ctrl/blacklist", B) == ""
        assert wait(url, name)[0] == "ready"
        log = events(url, name)
        assert check_assignments_follow_the_table(log, {A, B}) == 1
        changed = next(n for n, e in enumerate(log) if e.startswith(TABLE_CHANGED))
        assert log[changed] == f"Node table changed: {A}=1, {B}=1 (blacklisted)"
        after = [host for _s, _t, host in assignments(log[changed:])]
        assert after and set(after) == {A}
        received = [int(m[1]) for e in log if (m := re.match(r"SYS: \[map:(\d+)\] Received", e))]
        assert sorted(received) == list(range(10))
        assert get(url, "/disco/ctrl/nodeinfo").json()[B]["blacklisted"] is True


def test_blacklisting_the_only_node_gives_an_event_then_whitelisting_resumes(tmp_path):
    with ReferenceMaster.start_in_thread(tmp_path / "data", nodes=f"{A}=1", retry_delay=0.0) as m:
        url = m.url
        name = submit(url, probe_pack(tmp_path, raw_inputs(3), sleep="0.3"))
        wait_until(lambda: done_count(url, name) >= 1, "a map task done")
        assert post(url, "/disco/ctrl/blacklist", A) == ""
        stalled = wait_for_event(url, name, "No node can run tasks now")
        assert f"({A}: blacklisted)" in stalled
        assert post(url, "/disco/ctrl/get_results", [0, [name]])[0][1][0] == "active"
        assert post(url, "/disco/ctrl/whitelist", A) == ""
        assert wait(url, name)[0] == "ready"
        log = events(url, name)
        assert log.count(stalled) == 1
        assert check_assignments_follow_the_table(log, {A}) == 2


# -- NodeLinks on its own: every reason, and retries fired by the test's own clock ----------


class _Clock:
    """Timers the test fires by hand: no wall-clock waiting."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, object]] = []

    def later(self, delay: float, callback):
        entry = (delay, callback)
        self.pending.append(entry)

        class Handle:
            def cancel(_self) -> None:
                if entry in self.pending:
                    self.pending.remove(entry)

        return Handle()

    def fire(self) -> None:
        due, self.pending = self.pending, []
        for _delay, callback in due:
            callback()


def test_node_links_reasons_and_retries():
    answers = {
        "good": ["127.0.0.1"],
        "far": ["192.0.2.7"],
        "busy": ["127.0.0.9"],
        "none": [],
    }
    refuse = {"127.0.0.9"}
    changes: list[tuple[str, NodeLink]] = []
    clock = _Clock()

    async def resolve(name: str) -> list[str]:
        if name == "slow":
            await asyncio.Event().wait()
        if name not in answers:
            raise socket.gaierror(-2, "Name or service not known")
        return answers[name]

    async def listen(address: str) -> None:
        if address in refuse:
            raise OSError(98, "Address already in use")

    async def scenario() -> None:
        links = NodeLinks(
            port=4321,
            listening=["127.0.0.1"],
            wildcard=False,
            allow_remote=False,
            listen=listen,
            changed=lambda name, link: changes.append((name, link)),
            retry=7.0,
            resolve=resolve,
            resolve_timeout=0.01,
            later=clock.later,
        )
        names = ["good", "far", "busy", "none", "missing", "slow"]
        links.track(names)
        assert not links.status("good").connected  # before its first attempt ends
        await links.settle()
        got = {name: links.status(name) for name in names}
        assert got["good"] == NodeLink(True)
        assert got["far"] == NodeLink(
            False, "192.0.2.7 is not a loopback address (serving it needs --allow-remote)"
        )
        assert got["busy"] == NodeLink(
            False, "cannot listen on 127.0.0.9:4321: Address already in use"
        )
        assert got["none"] == NodeLink(False, "the name resolves to no address")
        assert got["missing"] == NodeLink(
            False, "the name does not resolve ([Errno -2] Name or service not known)"
        )
        assert got["slow"] == NodeLink(False, "the name does not resolve (no answer in 0.01 s)")
        assert sorted(n for n, _l in changes) == sorted(names)
        assert sorted(d for d, _c in clock.pending) == [7.0] * 5  # one retry per failed node

        refuse.clear()  # the port on 127.0.0.9 is free now
        links.track(["good", "busy", "far"])  # the others left the table
        assert len(clock.pending) == 2  # their timers were cancelled
        clock.fire()
        await links.settle()
        assert links.status("busy") == NodeLink(True) and "127.0.0.9" in links.listening
        assert changes[-1] == ("busy", NodeLink(True))
        assert [d for d, _c in clock.pending] == [7.0]  # "far" is tried again later
        count = len(changes)
        clock.fire()
        await links.settle()
        assert len(changes) == count  # the same failure again is not reported again
        links.close()
        assert clock.pending == []

    asyncio.run(scenario())
