"""Master URL resolution (facts §11), event parsing and the EOF quirk (§9.2, §9.4), wait."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from pydisco.client import (
    AsyncMaster,
    ClientConfig,
    ClientError,
    Event,
    InvalidMasterURL,
    JobFailed,
    JobStatus,
    JobUnknown,
    Master,
    WaitTimeout,
    resolve_master_url,
)
from pydisco.client._api import EventCursor, Reply
from pydisco.client.models import make_event

from .conftest import Routes

JOB = "J@1:2:3"


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("http://x:1/", {"DISCO_MASTER": "http://y:2"}, "http://x:1"),
        (None, {"DISCO_MASTER": "http://y:2"}, "http://y:2"),
        (None, {"DISCO_MASTER_HOST": "h", "DISCO_PORT": "7"}, "http://h:7"),
        (None, {"DISCO_MASTER_HOST": "h"}, "http://h:8989"),
        (None, {"DISCO_PORT": "7"}, "http://127.0.0.1:7"),
        (None, {}, "http://127.0.0.1:8989"),
        ("disco:9000", {}, "http://disco:9000"),
    ],
)
def test_master_url_resolution(url: str | None, env: dict[str, str], expected: str) -> None:
    assert resolve_master_url(url, env) == expected


@pytest.mark.parametrize(
    "url", ["ftp://x", "http://", "http://[::1", "http://h:99999", "http://h:x"]
)
def test_config_rejects_a_bad_master_url_with_the_clients_error(url: str) -> None:
    with pytest.raises(InvalidMasterURL, match="http"):
        ClientConfig(url=url)
    with pytest.raises(ClientError):
        Master(url)


def test_config_port_and_token() -> None:
    config = ClientConfig.from_env("http://m:1234", env={"DISCO_TOKEN": "t"})
    assert config.port == 1234
    assert config.headers()["Authorization"] == "Bearer t"
    assert ClientConfig.from_env("https://m", env={}).port == 443


@pytest.mark.parametrize(
    ("message", "kind", "stage", "task", "text"),
    [
        ("MSG: [map:3] hello world", "MSG", "map", 3, "hello world"),
        (
            "WARNING: [reduce:12] Traceback...\nline 2",
            "WARNING",
            "reduce",
            12,
            "Traceback...\nline 2",
        ),
        ("READY: Job done in 0:00:01.000", "READY", None, None, "Job done in 0:00:01.000"),
        ("WARN: Job killed", "WARN", None, None, "Job killed"),
        ("Stage map scheduled with 2 tasks", None, None, None, "Stage map scheduled with 2 tasks"),
        ('Created job "x"', None, None, None, 'Created job "x"'),
    ],
)
def test_event_message_parsing(
    message: str, kind: str | None, stage: str | None, task: int | None, text: str
) -> None:
    event = make_event("2024/01/01 00:00:00", "node", message)
    assert (event.kind, event.stage, event.task, event.text) == (kind, stage, task, text)
    assert event.time is not None and event.time.second == 0


def _line(message: str) -> bytes:
    return json.dumps(["2024/01/01 00:00:00", "master", message]).encode() + b"\n"


def test_cursor_reads_each_line_once_and_keeps_partial_lines() -> None:
    whole = _line("a") + _line("b") + b'["2024/01/01 00:00:00","mas'
    cursor = EventCursor(JOB)
    assert cursor.call().headers == ()
    events = cursor.feed(Reply(200, whole, "u"))
    assert [e.message for e in events] == ["a", "b"]
    assert cursor.offset == len(_line("a") + _line("b"))
    assert events[1].offset == len(_line("a"))
    assert dict(cursor.call().headers) == {"Range": f"bytes={cursor.offset}-"}


def test_cursor_handles_the_unsatisfiable_range_quirk() -> None:
    whole = _line("a") + _line("b")
    cursor = EventCursor(JOB, offset=len(whole))
    # Disco answers a range at EOF with 200 and the whole file: nothing is new.
    assert cursor.feed(Reply(200, whole, "u")) == []
    assert cursor.offset == len(whole)
    more = whole + _line("c")
    assert [e.message for e in cursor.feed(Reply(200, more, "u"))] == ["c"]
    assert cursor.feed(Reply(416, b"", "u")) == []


def test_cursor_with_partial_content() -> None:
    whole = _line("a") + _line("b")
    cursor = EventCursor(JOB, offset=len(_line("a")))
    reply = Reply(206, _line("b"), "u", {"content-range": f"bytes {len(_line('a'))}-/x"})
    assert [e.message for e in cursor.feed(reply)] == ["b"]
    assert cursor.offset == len(whole)


def test_events_over_http_with_the_eof_quirk(routes: Routes, master: Master) -> None:
    content = _line("MSG: [map:0] one") + _line("READY: done")

    def rawevents(request: httpx.Request) -> httpx.Response:
        rng = request.headers.get("range")
        if rng:
            start = int(rng.split("=")[1].rstrip("-"))
            if start < len(content):
                return httpx.Response(206, content=content[start:])
        return httpx.Response(200, content=content)

    routes.add("GET", "/disco/ctrl/rawevents", rawevents)
    events, offset = master.events(JOB)
    assert [e.kind for e in events] == ["MSG", "READY"] and offset == len(content)
    again, offset2 = master.events(JOB, offset)
    assert again == [] and offset2 == offset
    assert master.rawevents(JOB, offset) == b""
    assert master.rawevents(JOB, 3) == content[3:]


def _results_route(routes: Routes, statuses: list[str], results: Any = ()) -> None:
    answers = iter(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(
            200, json=[[JOB, [status, list(results) if status == "ready" else []]]]
        )

    routes.add("POST", "/disco/ctrl/get_results", handler)


def _jobinfo_route(routes: Routes) -> None:
    routes.json(
        "GET",
        "/disco/ctrl/jobinfo",
        {
            "timestamp": "2024/01/01 00:00:00",
            "active": "active",
            "pipeline": [["map", 0, 1, 1, 0, 0]],
            "results": [],
            "inputs": [],
            "worker": "w",
            "hosts": ["h"],
            "owner": "o",
        },
    )


def test_wait_returns_results_and_reports_progress(routes: Routes, master: Master) -> None:
    _results_route(routes, ["active", "active", "ready"], [["dir://h/x"]])
    _jobinfo_route(routes)
    seen = []
    result = master.wait(JOB, poll_interval=0.01, on_progress=seen.append)
    assert result.status is JobStatus.READY and result.results == (("dir://h/x",),)
    assert len(seen) == 3 and seen[0].stages[0].running == 1
    assert routes.bodies[0] and json.loads(routes.bodies[0])[0] == 10


def test_wait_on_a_dead_job_raises_with_its_error_events(routes: Routes, master: Master) -> None:
    _results_route(routes, ["dead"])
    content = (
        _line("MSG: [map:0] fine")
        + _line("WARNING: [map:0] Traceback: boom")
        + _line("ERROR: [map:0] Task map:0 failed 1 times. At most 0 failures are allowed.")
    )
    routes.add("GET", "/disco/ctrl/rawevents", lambda _r: httpx.Response(200, content=content))
    with pytest.raises(JobFailed) as info:
        master.wait(JOB, poll_interval=0.01)
    assert [e.kind for e in info.value.events] == ["WARNING", "ERROR"]
    assert "boom" in str(info.value) and f"discotool events {JOB}" in str(info.value)


def test_wait_on_an_unknown_job(routes: Routes, master: Master) -> None:
    _results_route(routes, ["unknown job"])
    with pytest.raises(JobUnknown):
        master.wait(JOB)


def test_wait_times_out(routes: Routes, master: Master) -> None:
    routes.add(
        "POST",
        "/disco/ctrl/get_results",
        lambda _r: httpx.Response(200, json=[[JOB, ["active", []]]]),
    )
    with pytest.raises(WaitTimeout) as info:
        master.wait(JOB, timeout=0.05, poll_interval=0.01)
    assert "still active" in str(info.value) and "kill" in str(info.value)


def test_follow_events_stops_when_the_job_ends(routes: Routes, master: Master) -> None:
    content = [_line("MSG: [map:0] one")]

    def rawevents(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"".join(content))

    def results(request: httpx.Request) -> httpx.Response:
        content.append(_line("READY: Job done"))
        return httpx.Response(200, json=[[JOB, ["ready", []]]])

    routes.add("GET", "/disco/ctrl/rawevents", rawevents)
    routes.add("POST", "/disco/ctrl/get_results", results)
    assert [e.message for e in master.follow_events(JOB, poll_interval=0.01)] == [
        "MSG: [map:0] one",
        "READY: Job done",
    ]


def test_async_master_shares_the_endpoints(routes: Routes) -> None:
    routes.json("GET", "/disco/version", "0.5.4")
    routes.json("POST", "/disco/job/new", ["ok", JOB])
    routes.json("POST", "/disco/ctrl/kill_job", "")
    routes.add("GET", "/disco/ctrl/rawevents", lambda _r: httpx.Response(200, content=_line("x")))
    _results_route(routes, ["active", "ready"], [["raw://x"]])
    _jobinfo_route(routes)

    async def scenario() -> tuple[Any, ...]:
        async with AsyncMaster("http://m:1", transport=httpx.MockTransport(routes)) as master:
            from pydisco.jobpack import jobpack_bytes, make_jobdict_v2

            pack = jobpack_bytes(
                jobdict=make_jobdict_v2(prefix="J", worker="w", owner="o", inputs=["raw://a"])
            )
            import io

            name = await master.submit(io.BytesIO(pack))
            events, _ = await master.events(name)
            await master.kill(name)
            seen: list[Any] = []
            result = await master.wait(name, poll_interval=0.01, on_progress=seen.append)
            return await master.version(), name, events, result, len(seen)

    version, name, events, result, progress = asyncio.run(scenario())
    assert version == "0.5.4" and name == JOB
    assert isinstance(events[0], Event)
    assert result.results == (("raw://x",),) and progress == 2
    polls = [
        b
        for r, b in zip(routes.requests, routes.bodies, strict=True)
        if "get_results" in r.url.path
    ]
    assert json.loads(polls[-1]) == [10, [JOB]]
