"""Every client method against a real reference master on loopback."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import pytest

from pydisco.client import (
    AsyncMaster,
    ConfigEntry,
    HTTPStatusError,
    JobFailed,
    JobStatus,
    JobSubmitError,
    JobUnknown,
    Master,
    MasterUnreachable,
    WaitTimeout,
)

from . import support

WORDS = "raw://alpha\nbeta\ngamma\ndelta\nepsilon"


def _run(live: Master, tmp_path: Path, **kwargs: Any) -> str:
    name = live.submit(support.write_pack(tmp_path, **kwargs))
    live.wait(name, poll_interval=0.2, timeout=60)
    return name


def test_version_and_submit_binary_pack(live: Master, tmp_path: Path) -> None:
    assert live.version() == "0.5.4"
    name = live.submit(support.write_pack(tmp_path, inputs=["raw://one\ntwo"]))
    assert name.startswith("ClientTest@")
    result = live.wait(name, poll_interval=0.2, timeout=60)
    assert result.status is JobStatus.READY
    assert sorted(live.iter_result_lines(name)) == [b"one\n", b"two\n"]


def test_submit_zip_form_pack(live: Master, tmp_path: Path) -> None:
    name = live.submit(support.write_zip_pack(tmp_path, inputs=["raw://zipped"]))
    assert name.startswith("ZipTest@")
    live.wait(name, poll_interval=0.2, timeout=60)
    assert list(live.iter_result_lines(name)) == [b"zipped\n"]


def test_submit_bad_pack_shows_the_masters_reason(live: Master, tmp_path: Path) -> None:
    with pytest.raises(JobSubmitError) as info:
        live.submit(support.bad_pack(tmp_path))
    assert "Job failed to start" in info.value.reason and "prefix" in info.value.reason


def test_joblist_jobinfo_and_jobpack(live: Master, tmp_path: Path) -> None:
    first = _run(live, tmp_path)
    second = _run(live, tmp_path, pipeline=["map:split", "reduce:group_all"])
    jobs = live.joblist()
    assert [j.name for j in jobs][:2] == [second, first]
    assert all(j.status is JobStatus.READY for j in jobs)
    info = live.jobinfo(second)
    assert info.status is JobStatus.READY
    assert [s.stage for s in info.stages] == ["map", "reduce"]
    assert info.stages[0].done == 1 and info.stages[1].done == 1
    assert info.inputs == ("raw://hello",) and info.worker == "testworker.py"
    assert info.owner == "tester@localhost" and len(info.results) == 1
    pack = support.pack_bytes(tmp_path, pipeline=["map:split", "reduce:group_all"])
    assert live.jobpack_bytes(second)[:2] == pack[:2]
    target = tmp_path / "down.pack"
    live.download_jobpack(second, target)
    assert target.read_bytes() == live.jobpack_bytes(second)
    jobdict = live.jobdict(second)
    assert jobdict["prefix"] == "ClientTest" and jobdict["worker"] == "testworker.py"
    with live.jobpack(second) as parsed:
        assert parsed.header.version == 2 and parsed.jobdict.prefix == "ClientTest"
        assert any(e.name == "testworker.py" for e in parsed.jobhome_entries())


def test_jobevents_and_nodeinfo_from_a_real_master(live: Master, tmp_path: Path) -> None:
    """The real master's jobevents shape (raw event arrays) parses, with and without filter."""
    name = _run(live, tmp_path)
    everything, _end = live.events(name)
    latest = live.jobevents(name, num=3)
    assert [e.message for e in latest] == [e.message for e in reversed(everything[-3:])]
    assert latest[0].kind == "READY"
    (msg,) = live.jobevents(name, num=5, filter="copying")
    assert msg.kind == "MSG" and msg.stage == "map" and msg.task == 0
    assert live.jobevents(name, filter="no such text") == ()
    (node,) = live.nodeinfo()
    assert node.connected and node.job_ok >= 1
    assert node.diskfree is not None and node.diskfree > 0
    assert node.diskused is not None and node.diskused > 0


def test_unknown_job(live: Master) -> None:
    with pytest.raises(JobUnknown):
        live.jobinfo("Nope@1:2:3")
    with pytest.raises(JobUnknown):
        live.wait("Nope@1:2:3")
    assert live.results("Nope@1:2:3").status is JobStatus.UNKNOWN


def test_events_incrementally_without_duplicates(live: Master, tmp_path: Path) -> None:
    name = _run(live, tmp_path)
    everything, end = live.events(name)
    kinds = [e.kind for e in everything]
    assert "READY" in kinds and "DONE" in kinds
    msg = next(e for e in everything if e.kind == "MSG")
    assert msg.stage == "map" and msg.task == 0 and "copying inputs" in msg.text
    assert msg.time is not None
    middle = everything[len(everything) // 2].offset
    assert middle is not None
    tail, end2 = live.events(name, middle)
    assert tail == everything[len(everything) // 2 :] and end2 == end
    # At EOF (an unsatisfiable range for Disco), nothing comes back twice.
    assert live.events(name, end) == ([], end)
    assert live.rawevents(name, end) == b""
    assert live.rawevents(name).count(b"\n") == len(everything)
    recent = live.jobevents(name, num=3)
    assert len(recent) == 3 and recent[0].kind == "READY"
    assert all(e.kind == "MSG" for e in live.jobevents(name, num=50, filter="MSG:"))
    assert [e.message for e in live.follow_events(name, poll_interval=0.1)] == [
        e.message for e in everything
    ]


def test_nodes_blacklists_settings_and_config(live: Master) -> None:
    (node,) = live.nodeinfo()
    assert node.connected and node.max_workers >= 1 and not node.blacklisted
    assert live.blacklisted() == () and live.gc_blacklisted() == ()
    live.blacklist(node.host)
    assert live.blacklisted() == (node.host,)
    assert live.nodeinfo()[0].blacklisted
    live.whitelist(node.host)
    assert live.blacklisted() == ()
    live.gc_blacklist(node.host)
    assert live.gc_blacklisted() == (node.host,)
    live.gc_whitelist(node.host)
    assert live.gc_blacklisted() == ()
    assert live.settings().max_failure_rate == 100
    live.save_settings(max_failure_rate=7)
    assert live.settings().max_failure_rate == 7
    table = live.config_table()
    assert table == (ConfigEntry(node.host, node.max_workers),)
    live.save_config_table([ConfigEntry(node.host, 3)])
    assert live.config_table() == (ConfigEntry(node.host, 3),)
    assert live.nodeinfo()[0].max_workers == 3


def test_stageresults_and_results_with_labels(live: Master, tmp_path: Path) -> None:
    name = _run(live, tmp_path, inputs=[WORDS], envs={"LABELS": "3"})
    (entry,) = live.stageresults(name, "map")
    assert entry[0].startswith("dir://")
    with pytest.raises(JobUnknown):
        live.stageresults(name, "nosuchstage")
    every = sorted(live.iter_result_lines(name))
    assert every == sorted(
        f"{w}\n".encode() for w in ["alpha", "beta", "gamma", "delta", "epsilon"]
    )
    # Labels are len(word) % 3: alpha/gamma/delta -> 2, beta -> 1, epsilon -> 1.
    assert sorted(live.iter_result_lines(name, labels=[2])) == [b"alpha\n", b"delta\n", b"gamma\n"]
    assert sorted(live.iter_result_lines(name, labels=[0])) == []
    urls = live.result_urls(name)
    assert len(urls) == 2 and all(u[0].startswith("http://") for u in urls)
    assert b"".join(live.iter_results(live.results(name))) != b""


def test_failed_job_raises_jobfailed_with_its_error_events(live: Master, tmp_path: Path) -> None:
    name = live.submit(support.write_pack(tmp_path, envs={"TEST_MODE": "fatal"}))
    with pytest.raises(JobFailed) as info:
        live.wait(name, poll_interval=0.2, timeout=60)
    assert info.value.name == name
    assert any("told to fail" in e.message for e in info.value.events)
    assert "told to fail" in str(info.value)
    assert live.results(name).status is JobStatus.DEAD


def test_kill_clean_purge(live: Master, tmp_path: Path) -> None:
    sleeper = live.submit(support.write_pack(tmp_path, envs={"TEST_MODE": "sleep", "SLEEP": "30"}))
    with pytest.raises(WaitTimeout):
        live.wait(sleeper, timeout=0.3, poll_interval=0.1)
    live.kill(sleeper)
    deadline = time.monotonic() + 60
    while live.results(sleeper).status is JobStatus.ACTIVE:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert live.results(sleeper).status is JobStatus.DEAD
    assert any(e.message == "WARN: Job killed" for e in live.events(sleeper)[0])
    live.clean(sleeper)
    _gone(live, sleeper)
    done = _run(live, tmp_path)
    live.purge(done)
    _gone(live, done)


def _gone(live: Master, name: str) -> None:
    deadline = time.monotonic() + 60
    while live.results(name).status is not JobStatus.UNKNOWN:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(JobUnknown):
        live.jobinfo(name)


def test_token_is_accepted_by_a_master_started_with_one(tmp_path: Path) -> None:
    from pydisco.master import ReferenceMaster

    with (
        ReferenceMaster.start_in_thread(tmp_path / "d", token="s3cret", retry_delay=0.0) as h,
        Master(h.url, token="s3cret") as good,
        Master(h.url) as anonymous,
    ):
        assert good.version() == "0.5.4"
        assert good.joblist() == ()
        good.kill("Nope@1:2:3")
        with pytest.raises(HTTPStatusError) as info:
            anonymous.kill("Nope@1:2:3")
        assert info.value.status == 401 and "DISCO_TOKEN" in str(info.value)


def test_master_down_is_unreachable() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        Master(f"http://127.0.0.1:{port}", retries=1, backoff=0.01) as client,
        pytest.raises(MasterUnreachable) as info,
    ):
        client.joblist()
    assert f"127.0.0.1:{port}" in str(info.value)


def test_async_master_against_the_real_master(live_master: Any, tmp_path: Path) -> None:
    path = support.write_pack(tmp_path, inputs=["raw://async"])

    async def scenario() -> tuple[Any, ...]:
        async with AsyncMaster(live_master.url) as master:
            name = await master.submit(path)
            result = await master.wait(name, poll_interval=0.2, timeout=60)
            info = await master.jobinfo(name)
            jobs = await master.joblist()
            events, _ = await master.events(name)
            followed = [e async for e in master.follow_events(name, poll_interval=0.1)]
            buffer = io.BytesIO()
            await master.download_jobpack(name, buffer)
            parsed = await master.jobpack(name)
            try:
                assert parsed.jobdict.prefix == "ClientTest" and parsed.jobdict.worker
            finally:
                parsed.close()
            return (
                await master.version(),
                result,
                info,
                jobs,
                events,
                followed,
                buffer.getvalue(),
                await master.nodeinfo(),
                await master.settings(),
                await master.stageresults(name, "map"),
                await master.jobevents(name, 2),
                await master.result_urls(name),
                [line async for line in master.iter_result_lines(name)],
                b"".join([chunk async for chunk in master.iter_results(result)]),
            )

    (
        version, result, info, jobs, events, followed, pack, nodes, settings, stage, recent,
        urls, lines, data,
    ) = asyncio.run(scenario())  # fmt: skip
    assert len(urls) == 1 and urls[0][0].startswith("http://")
    assert lines == [b"async\n"] and data == b"async\n"
    assert version == "0.5.4" and result.status is JobStatus.READY
    assert info.name == result.name and jobs[0].name == result.name
    assert [e.message for e in followed] == [e.message for e in events]
    assert pack == path.read_bytes()
    assert nodes and settings.accept_new_jobs == 1 and len(stage) == 1 and len(recent) == 2


def test_async_master_control_endpoints(live_master: Any, tmp_path: Path) -> None:
    sleeper = support.write_pack(tmp_path, envs={"TEST_MODE": "sleep"})
    fatal = support.write_pack(tmp_path, name="fatal.pack", envs={"TEST_MODE": "fatal"})

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with AsyncMaster(live_master.url) as master:
            (node,) = await master.nodeinfo()
            await master.blacklist(node.host)
            seen["black"] = await master.blacklisted()
            await master.whitelist(node.host)
            await master.gc_blacklist(node.host)
            seen["gc"] = await master.gc_blacklisted()
            await master.gc_whitelist(node.host)
            seen["after"] = (await master.blacklisted(), await master.gc_blacklisted())
            await master.save_settings(max_failure_rate=3)
            seen["settings"] = await master.settings()
            await master.save_config_table([ConfigEntry(node.host, 2)])
            seen["table"] = await master.config_table()
            name = await master.submit(sleeper)
            seen["pack"] = await master.jobpack_bytes(name)
            seen["jobdict"] = await master.jobdict(name)
            seen["both"] = await master.get_results([name, "Nope@1"])
            await master.kill(name)
            while (await master.results(name)).status is JobStatus.ACTIVE:
                await asyncio.sleep(0.05)
            await master.clean(name)
            while (await master.results(name)).status is not JobStatus.UNKNOWN:
                await asyncio.sleep(0.05)
            dead = await master.submit(fatal)
            try:
                await master.wait(dead, poll_interval=0.2, timeout=60)
            except JobFailed as exc:
                seen["failed"] = exc
            seen["errors"] = await master.error_events(dead)
            await master.purge(dead)
            while (await master.results(dead)).status is not JobStatus.UNKNOWN:
                await asyncio.sleep(0.05)
            seen["host"] = node.host
        return seen

    seen = asyncio.run(scenario())
    host = seen["host"]
    assert seen["black"] == (host,) and seen["gc"] == (host,) and seen["after"] == ((), ())
    assert seen["settings"].max_failure_rate == 3
    assert seen["table"] == (ConfigEntry(host, 2),)
    assert seen["pack"] == sleeper.read_bytes()
    assert seen["jobdict"]["prefix"] == "ClientTest"
    assert [r.status for r in seen["both"]] == [JobStatus.ACTIVE, JobStatus.UNKNOWN]
    assert "told to fail" in str(seen["failed"])
    assert any("told to fail" in e.message for e in seen["errors"])


def test_follow_a_running_job_sees_every_event_once(live: Master, tmp_path: Path) -> None:
    name = live.submit(support.write_pack(tmp_path, envs={"TEST_MODE": "sleep", "SLEEP": "1"}))
    followed = list(live.follow_events(name, poll_interval=0.1))
    everything, _ = live.events(name)
    assert [e.offset for e in followed] == [e.offset for e in everything]
    assert followed[-1].kind == "READY"
