"""Blob replicas on distinct nodes of a two-node master (``--nodes 127.0.0.2,127.0.0.3``).

``new_blob?replicas=N`` names N distinct nodes (facts §2.3); each node stores its
replica in a volume of its own (``vol0``, ``vol1``), so the replicas are distinct
files that each node's address serves.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from pydisco.client import DDFS
from pydisco.master import ReferenceMaster
from tests.ddfs.conftest import fresh

NODES = ("127.0.0.2", "127.0.0.3")
TS = r"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    data = tmp_path_factory.mktemp("replicas") / "data"
    with ReferenceMaster.start_in_thread(data, nodes=",".join(f"{n}=1" for n in NODES)) as master:
        yield master


def test_new_blob_names_distinct_nodes_and_each_stores_its_own_copy(two: Any) -> None:
    targets = httpx.get(f"{two.url}/ddfs/new_blob/twice?replicas=2").json()
    hosts = [urlsplit(t).hostname for t in targets]
    assert sorted(hosts) == list(NODES)
    objname = targets[0].rsplit("/", 1)[1]
    assert re.fullmatch(rf"twice\${TS}", objname)
    assert all(t.endswith("/ddfs/" + objname) for t in targets)  # one name for every replica
    hh = hashlib.md5(objname.encode()).hexdigest()[:2]
    urls = []
    for target in targets:
        reply = httpx.put(target, content=b"two copies\n")
        assert reply.status_code == 201
        urls.append(reply.json())
    volume = {NODES[0]: "vol0", NODES[1]: "vol1"}
    for target, url in zip(targets, urls, strict=True):
        host = urlsplit(target).hostname
        assert url == f"disco://{host}/ddfs/{volume[str(host)]}/blob/{hh}/{objname}"
    files = [two.state.settings.ddfs_root / urlsplit(u).path[len("/ddfs/") :] for u in urls]
    assert files[0] != files[1]
    assert [f.read_bytes() for f in files] == [b"two copies\n"] * 2
    assert files[0].stat().st_ino != files[1].stat().st_ino
    for url in urls:  # each node's address serves its replica on the master's port
        host = urlsplit(url).hostname
        served = httpx.get(f"http://{host}:{two.port}{urlsplit(url).path}")
        assert served.content == b"two copies\n"
    again = httpx.put(targets[0], content=b"x")  # a node refuses a second copy of its own
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("query", "hosts"),
    [
        ("replicas=1&include=127.0.0.3", ["127.0.0.3"]),
        ("replicas=2&include=127.0.0.3", ["127.0.0.3", "127.0.0.2"]),
        ("replicas=1&exclude=127.0.0.2", ["127.0.0.3"]),
        ("replicas=0", []),
    ],
)
def test_include_comes_first_and_exclude_is_left_out(
    two: Any, query: str, hosts: list[str]
) -> None:
    targets = httpx.get(f"{two.url}/ddfs/new_blob/b?{query}").json()
    assert [urlsplit(t).hostname for t in targets] == hosts


@pytest.mark.parametrize("query", ["replicas=3", "replicas=2&exclude=127.0.0.3"])
def test_more_replicas_than_nodes_is_refused(two: Any, query: str) -> None:
    reply = httpx.get(f"{two.url}/ddfs/new_blob/b?{query}")
    assert (reply.status_code, reply.text) == (403, "Not enough nodes for replicas.")


def test_the_client_pushes_and_reads_replicated_blobs(two: Any) -> None:
    name = fresh("replicated")
    with DDFS(two.url) as ddfs:
        ddfs.push(name, [(b"one\n", "a"), (b"two\n", "b")], replicas=2)
        sets = ddfs.blobs(name)
        assert [len(s) for s in sets] == [2, 2]
        assert sorted(ddfs.read(s) for s in sets) == [b"one\n", b"two\n"]
        assert all({urlsplit(u).hostname for u in s} == set(NODES) for s in sets)


def test_discotool_push_and_chunk_with_replicas(two: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pydisco.cli.main import cli

    path = tmp_path / "f.txt"
    path.write_text("a line\nanother line\n")
    name = fresh("cli-replicated")
    runner = CliRunner()
    for verb in (["push", "-n", "2"], ["chunk", "--replicas", "2", "--chunk-size", "8"]):
        result = runner.invoke(cli, ["ddfs", "--master", two.url, *verb, name, str(path)])
        assert result.exit_code == 0, result.output
        assert all(len(line.split("\t")) == 2 for line in result.stdout.splitlines())
    refused = runner.invoke(cli, ["ddfs", "--master", two.url, "push", "-n", "3", name, str(path)])
    assert refused.exit_code != 0
    assert "Not enough nodes for replicas." in refused.output
    with DDFS(two.url) as ddfs:
        assert [len(s) for s in ddfs.blobs(name)] == [2, 2, 2]
