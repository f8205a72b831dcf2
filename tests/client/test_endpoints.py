"""Request building and reply parsing of every endpoint, over a mock transport (facts §9.2)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
import pytest

from pydisco.client import (
    AsyncMaster,
    BadReply,
    ConfigEntry,
    HTTPStatusError,
    JobStatus,
    JobSubmitError,
    JobUnknown,
    Master,
    MasterUnreachable,
)
from pydisco.jobpack import jobpack_bytes, make_jobdict_v2

from .conftest import Routes

JOB = "Word@55f:6a1c2:3b0e5"


def _pack() -> bytes:
    jobdict = make_jobdict_v2(prefix="Word", worker="w.py", owner="me@here", inputs=["raw://a"])
    return jobpack_bytes(jobdict=jobdict)


def test_version(routes: Routes, master: Master) -> None:
    routes.json("GET", "/disco/version", "0.5.4")
    assert master.version() == "0.5.4"
    assert routes.requests[0].headers["user-agent"] == "pydisco-client"


def test_submit_streams_a_binary_pack_with_content_length(
    routes: Routes, master: Master, tmp_path: Any
) -> None:
    routes.json("POST", "/disco/job/new", ["ok", JOB])
    path = tmp_path / "job.pack"
    path.write_bytes(_pack())
    assert master.submit(path) == JOB
    request = routes.requests[-1]
    assert request.headers["content-length"] == str(path.stat().st_size)
    assert "transfer-encoding" not in request.headers
    assert routes.bodies[-1] == path.read_bytes()


def test_submit_accepts_a_file_object_from_its_position(routes: Routes, master: Master) -> None:
    routes.json("POST", "/disco/job/new", ["ok", JOB])
    data = _pack()
    fileobj = io.BytesIO(b"junk" + data)
    fileobj.seek(4)
    master.submit(fileobj)
    assert routes.bodies[-1] == data


def test_submit_refused_carries_the_masters_reason(routes: Routes, master: Master) -> None:
    routes.json("POST", "/disco/job/new", ["error", 'Job failed to start: "invalid header"'])
    with pytest.raises(JobSubmitError) as info:
        master.submit(io.BytesIO(_pack()))
    assert info.value.reason == 'Job failed to start: "invalid header"'
    assert "invalid header" in str(info.value)


def test_joblist(routes: Routes, master: Master) -> None:
    routes.json("GET", "/disco/ctrl/joblist", [[1700000000, "active", JOB], [1, "dead", "b@1"]])
    jobs = master.joblist()
    assert [j.name for j in jobs] == [JOB, "b@1"]
    assert jobs[0].status is JobStatus.ACTIVE and jobs[0].start_time == 1700000000


def test_jobinfo(routes: Routes, master: Master) -> None:
    routes.json(
        "GET",
        "/disco/ctrl/jobinfo",
        {
            "timestamp": "2024/01/02 03:04:05",
            "active": "ready",
            "pipeline": [["map", 0, 0, 0, 3, 1], ["reduce", 0, 0, 0, 1, 0]],
            "results": ["dir://h/a", "dir://h/b"],
            "inputs": ["raw://x"],
            "worker": "w.py",
            "hosts": [],
            "owner": "me@here",
        },
    )
    info = master.jobinfo(JOB)
    assert routes.requests[-1].url.params["name"] == JOB
    assert info.status is JobStatus.READY
    assert info.stages[0].done == 3 and info.stages[0].failed == 1
    assert info.current_stage() == info.stages[1]
    assert info.results == ("dir://h/a", "dir://h/b")
    assert info.start is not None and info.start.year == 2024


def test_unknown_job_is_jobunknown(routes: Routes, master: Master) -> None:
    with pytest.raises(JobUnknown) as info:
        master.jobinfo("nope@1")
    assert "nope@1" in str(info.value) and "discotool jobs" in str(info.value)


def test_jobpack_download_to_path_and_memory(routes: Routes, master: Master, tmp_path: Any) -> None:
    data = _pack()
    routes.add("GET", "/disco/ctrl/parameters", lambda _r: httpx.Response(200, content=data))
    target = tmp_path / "out.pack"
    master.download_jobpack(JOB, target)
    assert target.read_bytes() == data
    assert master.jobpack_bytes(JOB) == data
    assert master.jobdict(JOB)["prefix"] == "Word"


def test_async_jobpack_download_to_path_and_rawevents(routes: Routes, tmp_path: Any) -> None:
    data = _pack()
    routes.add(
        "GET",
        "/disco/ctrl/parameters",
        lambda r: httpx.Response(200 if r.url.params["name"] == JOB else 404, content=data),
    )
    routes.add("GET", "/disco/ctrl/rawevents", lambda _r: httpx.Response(200, content=b"abcdef"))
    target = tmp_path / "out.pack"

    async def scenario() -> tuple[bytes, dict[str, Any]]:
        transport = httpx.MockTransport(routes)
        async with AsyncMaster("http://master.test:8989", transport=transport) as client:
            await client.download_jobpack(JOB, target)
            with pytest.raises(JobUnknown):
                await client.download_jobpack("nope@1", tmp_path / "never.pack")
            return await client.rawevents(JOB, 2), await client.jobdict(JOB)

    events, jobdict = asyncio.run(scenario())
    assert target.read_bytes() == data and events == b"cdef" and jobdict["prefix"] == "Word"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pack"]


def test_jobpack_download_failure_leaves_no_file(
    routes: Routes, master: Master, tmp_path: Any
) -> None:
    target = tmp_path / "out.pack"
    with pytest.raises(JobUnknown):
        master.download_jobpack(JOB, target)
    assert list(tmp_path.iterdir()) == []


def test_jobevents_newest_first_and_empty_body(routes: Routes, master: Master) -> None:
    body = (
        '[["2024/01/01 00:00:02","master","READY: Job done in 0:00:01.000"]\n,'
        '["2024/01/01 00:00:01","node","MSG: [map:0] hello"]\n]'
    )
    routes.add("GET", "/disco/ctrl/jobevents", lambda _r: httpx.Response(200, text=body))
    events = master.jobevents(JOB, num=5, filter="msg")
    params = routes.requests[-1].url.params
    assert params["num"] == "5" and params["filter"] == "msg"
    assert [e.kind for e in events] == ["READY", "MSG"]
    assert events[1].stage == "map" and events[1].task == 0 and events[1].text == "hello"
    routes.add("GET", "/disco/ctrl/jobevents", lambda _r: httpx.Response(200, text=""))
    assert master.jobevents(JOB) == ()


def test_jobevents_accepts_lines_sent_as_strings(routes: Routes, master: Master) -> None:
    """Older pydisco masters sent each event line as a JSON string; both shapes parse."""
    body = '["[\\"2024/01/01 00:00:02\\",\\"master\\",\\"READY: Job done\\"]\\n"]'
    routes.add("GET", "/disco/ctrl/jobevents", lambda _r: httpx.Response(200, text=body))
    (event,) = master.jobevents(JOB)
    assert event.host == "master" and event.kind == "READY"


def test_nodeinfo(routes: Routes, master: Master) -> None:
    routes.json(
        "GET",
        "/disco/ctrl/nodeinfo",
        {
            "b": {
                "job_ok": 1,
                "data_error": 0,
                "error": 0,
                "max_workers": 2,
                "connected": True,
                "blacklisted": False,
                "tasks": [JOB],
            },
            "a": {
                "job_ok": 0,
                "data_error": 1,
                "error": 2,
                "max_workers": 4,
                "connected": False,
                "blacklisted": True,
                "diskfree": 10,
                "diskused": 5,
            },
        },
    )
    a, b = master.nodeinfo()
    assert a.host == "a" and a.blacklisted and a.diskfree == 10 and a.tasks == ()
    assert b.tasks == (JOB,) and b.connected


def test_blacklists(routes: Routes, master: Master) -> None:
    routes.json("GET", "/disco/ctrl/get_blacklist", ["a"])
    routes.json("GET", "/disco/ctrl/get_gc_blacklist", [])
    for op in ("blacklist", "whitelist", "gc_blacklist", "gc_whitelist"):
        routes.json("POST", f"/disco/ctrl/{op}", "")
    assert master.blacklisted() == ("a",)
    assert master.gc_blacklisted() == ()
    master.blacklist("a")
    assert routes.last_json() == "a"
    master.whitelist("a")
    master.gc_blacklist("a")
    master.gc_whitelist("a")
    assert [r.url.path for r in routes.requests[-4:]] == [
        "/disco/ctrl/blacklist",
        "/disco/ctrl/whitelist",
        "/disco/ctrl/gc_blacklist",
        "/disco/ctrl/gc_whitelist",
    ]


def test_settings_get_and_save_as_strings(routes: Routes, master: Master) -> None:
    routes.json("GET", "/disco/ctrl/get_settings", {"max_failure_rate": 100, "accept_new_jobs": 1})
    routes.json("POST", "/disco/ctrl/save_settings", "Settings saved")
    assert master.settings().max_failure_rate == 100
    master.save_settings(max_failure_rate=10, accept_new_jobs=0)
    assert routes.last_json() == {"max_failure_rate": "10", "accept_new_jobs": "0"}


def test_stageresults(routes: Routes, master: Master) -> None:
    routes.json(
        "GET", "/disco/ctrl/get_stageresults", [["dir://h/x"], ["http://a/1", "http://b/1"]]
    )
    assert master.stageresults(JOB, "map") == (("dir://h/x",), ("http://a/1", "http://b/1"))
    assert routes.requests[-1].url.params["stage"] == "map"


def test_config_table_load_and_save(routes: Routes, master: Master) -> None:
    routes.json("GET", "/disco/ctrl/load_config_table", [["localhost", "8"]])
    routes.json("POST", "/disco/ctrl/save_config_table", "table saved!")
    assert master.config_table() == (ConfigEntry("localhost", 8),)
    master.save_config_table([ConfigEntry("node01:10", 4)])
    assert routes.last_json() == [["node01:10", "4"]]


def test_save_config_table_refused(routes: Routes, master: Master) -> None:
    routes.json("POST", "/disco/ctrl/save_config_table", "duplicate nodes", status=400)
    with pytest.raises(HTTPStatusError) as info:
        master.save_config_table([ConfigEntry("a", 1), ConfigEntry("a", 1)])
    assert info.value.status == 400 and "duplicate nodes" in info.value.body


@pytest.mark.parametrize("op", ["kill", "clean", "purge"])
def test_job_control_posts_the_name(routes: Routes, master: Master, op: str) -> None:
    routes.json("POST", f"/disco/ctrl/{op}_job", "")
    getattr(master, op)(JOB)
    assert routes.last_json() == JOB


def test_get_results_shapes(routes: Routes, master: Master) -> None:
    routes.json(
        "POST",
        "/disco/ctrl/get_results",
        [
            [JOB, ["ready", [["dir://h/a"], ["http://x/1", "http://y/1"]]]],
            ["b@1", ["unknown job", []]],
            ["c@1", ["ready", "tag://disco:results:c@1"]],
        ],
    )
    a, b, c = master.get_results([JOB, "b@1", "c@1"], timeout_ms=1500)
    assert routes.last_json() == [1500, [JOB, "b@1", "c@1"]]
    assert a.results == (("dir://h/a",), ("http://x/1", "http://y/1"))
    assert b.status is JobStatus.UNKNOWN
    assert c.results == (("tag://disco:results:c@1",),)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/disco/ctrl/joblist", {"not": "a list"}),
        ("/disco/ctrl/get_settings", []),
        ("/disco/version", 5),
    ],
)
def test_bad_replies_say_what_was_expected(
    routes: Routes, master: Master, path: str, body: Any
) -> None:
    routes.json("GET", path, body)
    method = {
        "/disco/ctrl/joblist": master.joblist,
        "/disco/ctrl/get_settings": master.settings,
        "/disco/version": master.version,
    }[path]
    with pytest.raises(BadReply) as info:
        method()
    assert "expected" in str(info.value)


def test_non_json_reply_is_badreply(routes: Routes, master: Master) -> None:
    routes.add("GET", "/disco/version", lambda _r: httpx.Response(200, text="<html>"))
    with pytest.raises(BadReply):
        master.version()


def test_503_is_retried_then_succeeds(routes: Routes, master: Master) -> None:
    answers = iter([httpx.Response(503, text="busy"), httpx.Response(200, json="0.5.4")])
    routes.add("GET", "/disco/version", lambda _r: next(answers))
    assert master.version() == "0.5.4"
    assert len(routes.requests) == 2


def test_503_retries_are_bounded(routes: Routes, master: Master) -> None:
    routes.add("GET", "/disco/version", lambda _r: httpx.Response(503, text="busy"))
    with pytest.raises(HTTPStatusError) as info:
        master.version()
    assert info.value.status == 503
    assert len(routes.requests) == master.config.retries + 1


def test_connection_failures_are_retried_then_reported() -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("Connection refused", request=request)

    client = Master("http://127.0.0.1:9", transport=httpx.MockTransport(refuse), retries=2)
    client._sleep = lambda _s: None
    with pytest.raises(MasterUnreachable) as info:
        client.version()
    assert len(calls) == 3
    assert "Connection refused" in str(info.value) and "DISCO_MASTER" in str(info.value)


def test_connection_failure_then_success_resends_the_upload() -> None:
    data = _pack()
    bodies: list[bytes] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read())
        if len(bodies) == 1:
            raise httpx.ConnectError("reset", request=request)
        return httpx.Response(200, json=["ok", JOB])

    client = Master("http://m:1", transport=httpx.MockTransport(flaky))
    client._sleep = lambda _s: None
    assert client.submit(io.BytesIO(data)) == JOB
    assert bodies == [data, data]


def test_token_is_sent_as_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json="0.5.4")

    Master("http://m:1", token="s3cret", transport=httpx.MockTransport(handler)).version()
    monkeypatch.setenv("DISCO_TOKEN", "fromenv")
    Master("http://m:1", transport=httpx.MockTransport(handler)).version()
    monkeypatch.delenv("DISCO_TOKEN")
    Master("http://m:1", transport=httpx.MockTransport(handler)).version()
    assert seen == ["Bearer s3cret", "Bearer fromenv", None]


def test_a_read_timeout_is_reported_without_retrying() -> None:
    calls = []

    def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    client = Master("http://m:1", transport=httpx.MockTransport(slow), timeout=1.5)
    with pytest.raises(MasterUnreachable, match=r"no answer within 1\.5 s"):
        client.joblist()
    assert len(calls) == 1


def test_long_polls_extend_the_read_timeout(routes: Routes, master: Master) -> None:
    routes.json("POST", "/disco/ctrl/get_results", [[JOB, ["active", []]]])
    master.get_results([JOB], timeout_ms=5000)
    timeouts = routes.requests[-1].extensions["timeout"]
    assert timeouts["read"] == master.config.timeout + 5
