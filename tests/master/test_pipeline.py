"""Stages, groupings, nodes and scheduling (facts §10), with real sh workers on several nodes.

Nodes are loopback addresses (127.0.0.2, 127.0.0.3): the master listens on each,
so a worker on one node reads another node's data over HTTP, as on a cluster.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from pydisco.master import ReferenceMaster
from tests.master.helpers import (
    events,
    make_pack,
    read_results,
    submit,
    wait,
    word_counts,
)

TWO_NODES = "127.0.0.2=2,127.0.0.3=2"
A, B = "127.0.0.2", "127.0.0.3"
PROBE = re.compile(
    r"^MSG: \[(?P<stage>\w+):(?P<id>\d+)\] probe \S+ host=(?P<host>\S+) "
    r"group=(?P<group>\S+) labels=(?P<labels>\S*) fetched=(?P<fetched>\d+)$"
)


def probes(log, stage):
    found = {}
    for message in log:
        match = PROBE.match(message)
        if match and match["stage"] == stage:
            found[int(match["id"])] = {
                "host": match["host"],
                "group": json.loads(match["group"]),
                "labels": sorted(match["labels"].split(",")) if match["labels"] else [],
                "fetched": int(match["fetched"]),
            }
    return found


def first_hosts(log):
    """first-stage task id -> node, from the assignment events."""
    hosts = {}
    for message in log:
        match = re.match(r"^first:(\d+) assigned to (\S+)$", message)
        if match:
            hosts[int(match[1])] = match[2]
    return hosts


@pytest.fixture
def two_nodes(tmp_path):
    with ReferenceMaster.start_in_thread(tmp_path / "data", nodes=TWO_NODES, retry_delay=0.0) as m:
        yield m


FIRST_INPUTS = [
    [0, 0, ["raw://0,1"]],
    [0, 0, ["raw://1"]],
    [0, 0, ["raw://0,2"]],
    [0, 0, ["raw://2"]],
]
# first-stage task -> labels of its outputs
LABELS = {0: {0, 1}, 1: {1}, 2: {0, 2}, 3: {2}}


def expected_groups(grouping, hosts):
    """(group, sorted input labels) of every second-stage task, in task order."""
    if grouping == "split":
        return [([label, hosts[t]], [str(label)]) for t in range(4) for label in sorted(LABELS[t])]
    if grouping == "group_label":
        return [([label, ""], [str(label)] * sum(label in LABELS[t] for t in range(4)))
                for label in (0, 1, 2)]  # fmt: skip
    if grouping == "group_node":
        return [
            ([0, h], ["all"] * sum(hosts[t] == h for t in range(4)))
            for h in sorted({*hosts.values()})
        ]
    if grouping == "group_node_label":
        pairs = sorted({(label, hosts[t]) for t in range(4) for label in LABELS[t]})
        return [
            ([label, h], [str(label)] * sum(hosts[t] == h and label in LABELS[t] for t in range(4)))
            for label, h in pairs
        ]
    return [([0, ""], ["all"] * 4)]


@pytest.mark.parametrize(
    "grouping", ["split", "group_label", "group_node", "group_node_label", "group_all"]
)
def test_groupings_on_two_nodes(two_nodes, tmp_path, grouping):
    pack = make_pack(
        tmp_path,
        "probe.sh",
        pipeline=[["first", "split", False], ["second", grouping, False]],
        inputs=FIRST_INPUTS,
    )
    name = submit(two_nodes.url, pack)
    status, results = wait(two_nodes.url, name)
    log = events(two_nodes.url, name)
    assert status == "ready", log
    hosts = first_hosts(log)
    assert set(hosts.values()) == {A, B}, log
    seconds = probes(log, "second")
    got = [(seconds[i]["group"], seconds[i]["labels"]) for i in sorted(seconds)]
    assert got == [(g, sorted(labels)) for g, labels in expected_groups(grouping, hosts)]
    assert sorted(seconds) == list(range(4, 4 + len(got)))  # task ids continue across stages
    assert all(p["fetched"] > 0 for p in seconds.values()), seconds  # read over HTTP per node
    if grouping in ("group_node", "group_node_label"):
        assert all(p["host"] == p["group"][1] for p in seconds.values())
    assert len(results) == len(got)
    assert read_results(two_nodes.url, results).count(b"second") == len(got)
    stage_results = json.loads(
        __import__("httpx")
        .get(
            f"{two_nodes.url}/disco/ctrl/get_stageresults", params={"name": name, "stage": "first"}
        )
        .text
    )
    assert len(stage_results) == 4
    assert all(
        r[0].startswith(f"dir://{hosts[i]}/disco/{hosts[i]}/") for i, r in enumerate(stage_results)
    )


def test_blacklisted_node_gets_no_task(two_nodes, tmp_path):
    import httpx

    httpx.post(f"{two_nodes.url}/disco/ctrl/blacklist", content=json.dumps(B))
    pack = make_pack(
        tmp_path, "probe.sh", pipeline=[["first", "split", False]], inputs=FIRST_INPUTS
    )
    name = submit(two_nodes.url, pack)
    assert wait(two_nodes.url, name)[0] == "ready"
    assert set(first_hosts(events(two_nodes.url, name)).values()) == {A}


def test_retry_avoids_the_failed_host(two_nodes, tmp_path):
    pack = make_pack(
        tmp_path, "behave.sh", envs={"MODE": "error-once", "MARKER_DIR": str(tmp_path)}
    )
    name = submit(two_nodes.url, pack)
    status, _ = wait(two_nodes.url, name)
    log = events(two_nodes.url, name)
    assert status == "ready", log
    runs = [m.split()[-1] for m in log if m.startswith("map:0 assigned to ")]
    assert len(runs) == 2 and runs[0] != runs[1], log
    assert f'Task map:0 failed on "{runs[0]}", 1th failures so far.' in " ".join(log)


def test_max_cores(tmp_path):
    rendezvous = tmp_path / "started"
    rendezvous.mkdir()
    with ReferenceMaster.start_in_thread(tmp_path / "data", nodes="localhost=8") as master:
        pack = make_pack(
            tmp_path,
            "probe.sh",
            pipeline=[["first", "split", False]],
            inputs=[[0, 0, ["raw://0"]]] * 6,
            # The first two tasks wait for each other: two run at once however slow the machine.
            envs={"RENDEZVOUS": str(rendezvous), "RENDEZVOUS_N": "2"},
            scheduler={"max_cores": 2},
        )
        name = submit(master.url, pack)
        assert wait(master.url, name)[0] == "ready"
        running = peak = 0
        for message in events(master.url, name):
            if " assigned to " in message:
                running += 1
                peak = max(peak, running)
            elif message.startswith("SYS: ["):
                running -= 1
        assert peak == 2


def test_concurrent_stage(tmp_path):
    with ReferenceMaster.start_in_thread(tmp_path / "data", nodes="localhost=4") as master:
        pack = make_pack(
            tmp_path,
            "probe.sh",
            pipeline=[["first", "split", False], ["second", "group_label", True]],
            inputs=[[0, 0, ["raw://0"]]] * 3,
            # Tasks 1 and 2 of "first" end only once "second" has started: it must start
            # on task 0's output and take the others' as they come, however slow the machine.
            envs={"SECOND_STARTED": str(tmp_path / "second-started")},
        )
        name = submit(master.url, pack)
        status, results = wait(master.url, name)
        log = events(master.url, name)
        assert status == "ready", log
        second = probes(log, "second")
        assert list(second) == [3]
        assert second[3]["labels"] == ["0", "0", "0"]  # inputs arrived while it ran ("more")
        started = log.index("second:3 assigned to localhost")
        assert started < log.index(next(m for m in log if m.startswith("Stage first finished")))
        assert not any(m.startswith("Stage second scheduled") for m in log)
        assert len(results) == 1


def test_concurrent_first_stage_runs(reference_master, tmp_path):
    pack = make_pack(tmp_path, "probe.sh", pipeline=[["first", "split", True]], inputs=FIRST_INPUTS)
    name = submit(reference_master.url, pack)
    assert wait(reference_master.url, name)[0] == "ready"  # real Disco hangs here (facts §16)


def test_concurrent_split_with_repeated_label_host(tmp_path):
    with ReferenceMaster.start_in_thread(tmp_path / "data", nodes="localhost=2") as master:
        pack = make_pack(
            tmp_path,
            "probe.sh",
            pipeline=[["first", "split", False], ["second", "split", True]],
            inputs=[[0, 0, ["raw://0"]]] * 3,
            envs={"STAGGER": "0.2"},
        )
        name = submit(master.url, pack)
        status, results = wait(master.url, name)
        assert status == "ready"  # real Disco's coordinator crashes here (facts §16)
        assert len(results) == 3


def test_empty_pipeline_and_empty_inputs(reference_master, tmp_path):
    url = reference_master.url
    name = submit(url, make_pack(tmp_path, "probe.sh", pipeline=[], inputs=[[0, 0, ["raw://x"]]]))
    assert wait(url, name) == ("ready", [["raw://x"]])
    name = submit(
        url, make_pack(tmp_path, "probe.sh", pipeline=[["second", "group_all", False]], inputs=[])
    )
    status, results = wait(url, name)
    assert status == "ready" and len(results) == 1  # group_all over nothing: one task


def test_pydisco_worker_wordcount(reference_master, tmp_path):
    runtime = pytest.importorskip("pydisco.worker.runtime")
    from pydisco.jobpack import jobpack_bytes

    example = Path(__file__).parents[2] / "examples" / "wordcount" / "worker.py"
    if not example.exists() or shutil.which("python3") is None:
        pytest.skip("examples/wordcount/worker.py or python3 is missing")
    home = tmp_path / "home"
    home.mkdir()
    runtime.install_runtime(str(home))
    shutil.copy(example, home / "worker.py")
    (home / "worker.py").chmod(0o755)
    texts = ["a b c a", "b a d", "e"]
    jobdict = {
        "prefix": "PyWordCount",
        "worker": "worker.py",
        "owner": "tester",
        "scheduler": {},
        "pipeline": [["map", "split", False], ["reduce", "group_label", False]],
        "inputs": [[0, 0, [f"raw://{t}"]] for t in texts],
    }
    envs = {"WORDCOUNT_PARTITIONS": "3", "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    pack = jobpack_bytes(jobdict=jobdict, jobenvs=envs, jobhome=home, version=2)
    name = submit(reference_master.url, pack)
    status, results = wait(reference_master.url, name)
    assert status == "ready", events(reference_master.url, name)
    counts = word_counts(read_results(reference_master.url, results))
    assert counts == {"a": 3, "b": 2, "c": 1, "d": 1, "e": 1}
