"""Node names agree with the address the master listens on (issue 14, item 11).

A master on ``127.0.0.2`` or ``::1`` without ``--nodes`` is that node, so every
result URL names a host that serves it: a two-stage job finishes, and each
result and data URL is fetched from the host it names (as ``discotool results``
does).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from pydisco.client.results import data_url
from pydisco.master import ReferenceMaster
from tests.master.helpers import events, make_pack, submit, wait


def _fetch_all(results: list[list[str]], port: int) -> bytes:
    out = b""
    for replicas in results:
        index = httpx.get(data_url(replicas[0], port), timeout=30)
        assert index.status_code == 200, replicas[0]
        for line in index.text.splitlines():
            _, url, _ = line.split()
            reply = httpx.get(data_url(url, port), timeout=30)
            assert reply.status_code == 200, url
            out += reply.content
    return out


@pytest.mark.parametrize(
    ("host", "node", "url_host"),
    [("127.0.0.2", "127.0.0.2", "127.0.0.2"), ("::1", "[::1]", "[::1]")],
    ids=["ipv4-loopback", "ipv6-loopback"],
)
def test_the_default_node_is_the_host_listened_on(
    tmp_path: Path, host: str, node: str, url_host: str
) -> None:
    with ReferenceMaster.start_in_thread(tmp_path / "data", host=host, retry_delay=0.0) as master:
        assert master.url == f"http://{url_host}:{master.port}"
        assert list(httpx.get(f"{master.url}/disco/ctrl/nodeinfo").json()) == [node]
        pack = make_pack(
            tmp_path,
            pipeline=[["map", "split", False], ["reduce", "group_label", False]],
            inputs=[[0, 0, ["raw://b a"]], [0, 0, ["raw://a c"]]],
            envs={"NPART": "2"},
        )
        name = submit(master.url, pack)
        status, results = wait(master.url, name, timeout=60)
        assert status == "ready", events(master.url, name)
        assert all(r[0].startswith(f"dir://{node}/") for r in results), results
        counts = sorted(_fetch_all(results, master.port).decode().splitlines())
        assert counts == ["a\t2", "b\t1", "c\t1"]

        name = submit(master.url, make_pack(tmp_path, "behave.sh", envs={"MODE": "showtask"}))
        assert wait(master.url, name)[0] == "ready"
        shown = next(m for m in events(master.url, name) if m.startswith("MSG: [map:0] {"))
        task = json.loads(shown.split(" ", 2)[2])
        assert task["master"] == master.url and task["host"] == node
