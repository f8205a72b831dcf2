"""Control requests and settings (issue 14, items 5-7), through real HTTP against one master."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pydisco.master import ReferenceMaster
from pydisco.master.config import MAX_NODES, MAX_SLOTS
from pydisco.master.server import MasterHandle
from tests.master.helpers import events, make_pack, submit, wait


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterHandle]:
    data = tmp_path_factory.mktemp("control") / "data"
    with ReferenceMaster.start_in_thread(
        data, nodes="localhost=2", retry_delay=0.0, pid_timeout=5.0
    ) as handle:
        yield handle


def post(master: MasterHandle, op: str, body: Any, raw: bytes | None = None) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(f"{master.url}/disco/ctrl/{op}", content=content, timeout=30)


def get(master: MasterHandle, path: str) -> httpx.Response:
    return httpx.get(f"{master.url}{path}", timeout=30)


def saved_config(master: MasterHandle) -> Any:
    return json.loads((master.state.root / "config.json").read_text())


@pytest.mark.parametrize(
    ("table", "why"),
    [
        ([["n01:99999999", "1"]], f"more than the limit of {MAX_NODES}"),
        ([["m1:1000000", "1"]], f"more than the limit of {MAX_NODES}"),
        ([[f"{c}0:{MAX_NODES // 2}", "1"] for c in "abc"], f"more than {MAX_NODES} nodes"),
        ([], "at least one node"),
        ([["..", "1"]], "node name"),
        ([[".", "1"]], "node name"),
        ([["_disco_8989", "1"]], "node name"),
        ([["a/b", "1"]], "node name"),
        ([["n" + "9" * 5000 + ":" + "9" * 5000, "1"]], "at most 255 characters"),
        ([["localhost", "99999999999999999999"]], "slot count"),
        ([["localhost", str(MAX_SLOTS + 1)]], f"1 to {MAX_SLOTS}"),
        ([["localhost", "0"]], "slot count"),
    ],
    ids=[
        "range-huge",
        "range-million",
        "nodes-in-all",
        "empty",
        "dotdot",
        "dot",
        "master-dir",
        "slash",
        "long-spec",
        "slots-huge",
        "slots-over",
        "slots-zero",
    ],
)
def test_bad_config_tables_are_refused(master: MasterHandle, table: Any, why: str) -> None:
    before = get(master, "/disco/ctrl/load_config_table").json()
    reply = post(master, "save_config_table", table)
    assert reply.status_code == 400, reply.text
    assert reply.json().startswith("invalid config") and why in reply.json(), reply.json()
    assert get(master, "/disco/ctrl/load_config_table").json() == before
    assert saved_config(master)["hosts"] == before
    assert sorted(get(master, "/disco/ctrl/nodeinfo").json()) == ["localhost"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"max_failure_rate": "-5"}, "from 0 to"),
        ({"accept_new_jobs": "2"}, "from 0 to 1"),
        ({"accept_new_jobs": "1", "colour": "blue"}, "Unknown setting(s) 'colour'"),
        ({"max_failure_rate": "9" * 400}, "integer expected"),
        ({"max_failure_rate": 3}, "integer expected"),
        (["max_failure_rate", "3"], "JSON object"),
    ],
    ids=["negative", "accept-2", "unknown", "huge", "not-string", "not-object"],
)
def test_bad_settings_are_refused(master: MasterHandle, body: Any, why: str) -> None:
    before = get(master, "/disco/ctrl/get_settings").json()
    reply = post(master, "save_settings", body)
    assert reply.status_code == 400, reply.text
    assert why in reply.json(), reply.json()
    assert get(master, "/disco/ctrl/get_settings").json() == before
    assert saved_config(master)["settings"] == before


def test_good_settings_still_save(master: MasterHandle) -> None:
    assert post(master, "save_settings", {"max_failure_rate": "7"}).json() == "Settings saved"
    assert get(master, "/disco/ctrl/get_settings").json()["max_failure_rate"] == 7
    assert post(master, "save_settings", {"max_failure_rate": "100"}).status_code == 200


@pytest.mark.parametrize("op", ["kill_job", "clean_job", "purge_job", "blacklist", "get_results"])
def test_lone_surrogates_are_a_400(master: MasterHandle, op: str) -> None:
    body = b'[10, ["\\ud800"]]' if op == "get_results" else b'"\\ud800"'
    reply = post(master, op, None, raw=body)
    assert reply.status_code == 400, reply.text
    assert "surrogate" in reply.json()


def test_empty_segments_answer_404(master: MasterHandle) -> None:
    (master.data_dir / "localhost").mkdir(exist_ok=True)
    (master.data_dir / "localhost" / "plain.txt").write_text("plain\n")
    assert get(master, "/disco/localhost/plain.txt").text == "plain\n"
    for path in ("/disco/localhost/plain.txt/", "/disco/localhost//plain.txt", "/disco//x"):
        reply = get(master, path)
        assert reply.status_code == 404, path


def test_a_job_with_no_usable_node_says_so(master: MasterHandle, tmp_path: Any) -> None:
    assert post(master, "blacklist", "localhost").status_code == 200
    try:
        pack = make_pack(tmp_path, "behave.sh", envs={"MODE": "ok"})
        name = submit(master.url, pack)
        log = events(master.url, name)
        assert any("no node can run its tasks" in m for m in log), log
    finally:
        post(master, "whitelist", "localhost")
    assert wait(master.url, name)[0] == "ready", events(master.url, name)


def test_a_poisoned_saved_config_is_ignored_at_start(tmp_path: Any) -> None:
    """A config file written by an older master (or by hand) cannot bring the bad values back."""
    data = tmp_path / "data"
    root = data / "_disco_0"
    root.mkdir(parents=True)
    (root / "config.json").write_text(
        json.dumps(
            {
                "hosts": [["localhost", "1"]],
                "blacklist": [],
                "gc_blacklist": [],
                "settings": {"max_failure_rate": -5, "accept_new_jobs": 2},
            }
        )
    )
    with ReferenceMaster.start_in_thread(data) as handle:
        assert sorted(get(handle, "/disco/ctrl/nodeinfo").json()) == ["localhost"]
        assert get(handle, "/disco/ctrl/get_settings").json() == {
            "max_failure_rate": 100,
            "accept_new_jobs": 1,
        }
    (root / "config.json").write_text(json.dumps({"hosts": [["..", "1"], ["n1:99999999", "1"]]}))
    with ReferenceMaster.start_in_thread(data) as handle:
        assert sorted(get(handle, "/disco/ctrl/nodeinfo").json()) == ["localhost"]
    (root / "config.json").write_text(json.dumps({"hosts": []}))
    with ReferenceMaster.start_in_thread(data) as handle:
        assert sorted(get(handle, "/disco/ctrl/nodeinfo").json()) == ["localhost"]
