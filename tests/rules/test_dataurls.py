"""One URL <-> path mapping (pydisco.dataurls), the same for worker, client and master."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.client.errors import ResultsError
from pydisco.client.results import _source, data_url
from pydisco.dataurls import (
    UnsafeURL,
    data_path_parts,
    file_path,
    local_data_path,
    node_http_url,
    split_url,
)
from pydisco.protocol.messages import TaskInfo
from pydisco.worker.errors import UnsafeLocation
from pydisco.worker.schemes import locate

segment = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#\x00"), min_size=1
).filter(lambda s: s not in (".", ".."))
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)


def _task(host: str = "here") -> TaskInfo:
    return TaskInfo(
        taskid=0,
        master="http://m:1",
        disco_port=8989,
        put_port=8990,
        ddfs_data="/ddfs",
        disco_data="/data",
        stage="map",
        grouping="split",
        group=(0, host),
        jobfile="",
        jobname="j@1:2:3",
        host=host,
    )


@settings(max_examples=150)
@given(st.sampled_from(["disco", "ddfs"]), st.lists(segment, min_size=1, max_size=4))
def test_data_paths_round_trip(root: str, parts: list[str]) -> None:
    path = "/" + "/".join([root, *parts])
    assert data_path_parts(path) == (root, parts)
    expected = os.path.join("/data" if root == "disco" else "/ddfs", *parts)
    assert local_data_path(path, "/data", "/ddfs") == expected


@settings(max_examples=150)
@given(hosts, st.lists(segment, min_size=1, max_size=4), st.integers(1, 65535))
def test_node_http_url_round_trip(host: str, parts: list[str], port: int) -> None:
    path = "/" + "/".join(parts)
    for scheme in ("disco", "dir"):
        assert node_http_url(f"{scheme}://{host}{path}", port) == f"http://{host}:{port}{path}"
        assert node_http_url(f"{scheme}://u@{host}:7{path}", port) == f"http://{host}:7{path}"
        assert split_url(f"{scheme}://{host}{path}") == (scheme, host, path)


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_garbage_maps_or_is_refused(text: str) -> None:
    for candidate in (text, "disco://h/" + text, "dir://h/disco/" + text, "file://" + text):
        try:
            node_http_url(candidate, 1)
            data_path_parts(split_url(candidate)[2])
        except UnsafeURL as exc:
            assert ".." in candidate or "names no file" in str(exc) or "does not name" in str(exc)


@pytest.mark.parametrize(
    "url", ["disco://here/disco/a/../../etc/passwd", "dir://other/disco/../x", "disco://o/../x"]
)
def test_dotdot_is_refused_by_worker_and_client(url: str) -> None:
    with pytest.raises(UnsafeURL):
        node_http_url(url, 8989)
    with pytest.raises(UnsafeLocation):
        locate(url, _task())
    with pytest.raises(ResultsError, match=r"'\.\.'"):
        data_url(url, 8989)


@pytest.mark.parametrize(
    ("url", "path"),
    [("file:///srv/a%20b", "/srv/a%20b"), ("file://rel/x", "rel/x"), ("/srv/a b", "/srv/a b")],
)
def test_file_urls_are_verbatim_for_worker_and_client(url: str, path: str) -> None:
    assert file_path(url) == path
    assert locate(url, _task()).target == path
    assert _source(url, 8989) == ("file", path)


def test_worker_reads_its_own_host_locally_and_others_over_http() -> None:
    assert locate("disco://here/disco/here/ab/j/f", _task()).target == "/data/here/ab/j/f"
    assert locate("disco://here/ddfs/vol0/blob/x", _task()).target == "/ddfs/vol0/blob/x"
    remote = locate("disco://there/disco/there/ab/j/f", _task())
    assert (remote.kind, remote.target) == ("http", "http://there:8989/disco/there/ab/j/f")
    assert data_url("disco://there/disco/there/ab/j/f", 8989) == remote.target
