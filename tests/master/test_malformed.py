"""Every way a worker can misbehave (facts §1.3, §2.8, §2.9), with its outcome and events.

The worker is ``workers/behave.sh`` (POSIX sh); ``MODE`` picks the misbehaviour.
``-once`` modes misbehave on the first run only, so a retried task then succeeds.
"""

from __future__ import annotations

import pytest

from pydisco.master import ReferenceMaster
from tests.master.helpers import events, make_pack, submit, wait

FAST = {
    "retry_delay": 0.0,
    "max_failure_rate": 3,
    # A frozen clock for the MSG throttle: every MSG of a run falls within one window,
    # so the flood is fatal at its 10th message however slowly the machine runs it.
    "msg_clock": lambda: 0.0,
}


#: The one timer a mode waits out is short; every other timer keeps Disco's length, so
#: nothing else in the test (a retried worker's start, a worker's exit) races a timer.
SHORT_TIMER = {
    "silent-once": {"pid_timeout": 1.0},
    "partial-once": {"partial_timeout": 1.0},
    "garbage-stay-once": {"drain_timeout": 1.0},
}


@pytest.fixture
def master(request, tmp_path):
    callspec = getattr(request.node, "callspec", None)
    mode = callspec.params.get("mode") if callspec is not None else None
    timer = SHORT_TIMER.get(mode, {})
    with ReferenceMaster.start_in_thread(tmp_path / "data", **FAST, **timer) as handle:
        yield handle


def run(master, tmp_path, mode, inputs=None):
    pack = make_pack(tmp_path, "behave.sh", envs={"MODE": mode}, inputs=inputs)
    name = submit(master.url, pack)
    status, _ = wait(master.url, name, timeout=30)
    return status, events(master.url, name)


def has(log, *parts):
    return any(all(p in m for p in parts) for m in log)


# mode, expected events (each a tuple of substrings of one event)
RETRIED = [
    ("garbage-once", [("WARNING: [map:0] Could not parse worker event: invalid_length",),
                      ("WARNING: [map:0] Worker crashed! (exit code: 1)",),
                      ("Worker died: could not parse worker event", "Last words:\nhello world")]),
    ("garbage-stay-once", [("Could not parse worker event: invalid_length",),
                           ("WARNING: [map:0] Worker did not exit properly after error",)]),
    ("toobig-once", [("Could not parse worker event: message_too_big",)]),
    ("badbody-once", [("Could not parse worker event: invalid_body",), ('""X',)]),
    ("silent-once", [("WARNING: [map:0] Worker did not send its PID in 1 seconds",),
                     ("Worker died without output: Worker did not send its PID",)]),
    ("partial-once", [("WARNING: [map:0] Worker stuck in the middle of a message",),
                      ("Last words:\nMSG 20 \"half a mess",)]),
    ("crash-once", [("WARNING: [map:0] Worker crashed! (exit code: 7)",),
                    ("without sending DONE", "Last words:\ndying now")]),
    ("exit0-once", [("WARNING: [map:0] Worker crashed! (exit code: 0)",),
                    ("Worker died without output",)]),
    ("truncated-once", [("Worker crashed! (exit code: 2)",), ('Last words:\nMSG 50 "cut',)]),
    ("error-once", [("WARNING: [map:0] temporary trouble",)]),
    ("absolute-once", [("WARNING: [map:0] invalid_output: '/etc/passwd' is an absolute path",)]),
]  # fmt: skip


@pytest.mark.parametrize(("mode", "expected"), RETRIED, ids=[m for m, _ in RETRIED])
def test_task_error_is_retried(master, tmp_path, mode, expected):
    status, log = run(master, tmp_path, mode)
    assert status == "ready", log
    for parts in expected:
        assert has(log, *parts), (parts, log)
    assert has(log, 'Task map:0 failed on "localhost", 1th failures so far.'), log
    assert sum(m.startswith("map:0 assigned to") for m in log) == 2


FATAL = [
    ("badjson", ["WARNING: [map:0] Payload is not valid JSON: type 'MSG', body:\n{bad}"]),
    ("unknown", ["WARNING: [map:0] Unknown message type 'Hi', body:\n\"\""]),
    ("badschema", ["WARNING: [map:0] Invalid message body (type 'WORKER')"]),
    ("badversion", ["WARNING: [map:0] Invalid worker version:", "9.9"]),
    ("fatal", ["FATAL: [map:0] kaput"]),
    ("flood", ["Worker is behaving badly: Sent 10 events in a second, ignoring replies."]),
]


@pytest.mark.parametrize(("mode", "expected"), FATAL, ids=[m for m, _ in FATAL])
def test_fatal_kills_the_job(master, tmp_path, mode, expected):
    status, log = run(master, tmp_path, mode)
    assert status == "dead", log
    assert has(log, *expected), log
    assert any(m.startswith("FATAL: [map:0]") for m in log), log
    if mode != "fatal":  # the FATAL event names the cause (unlike Disco's bare "Worker died")
        fatal = next(m for m in log if m.startswith("FATAL: [map:0]"))
        assert fatal.startswith("FATAL: [map:0] Worker died"), fatal
        cause = expected[0].removeprefix("WARNING: [map:0] ").split("\n")[0]
        assert cause in fatal
    assert sum(m.startswith("map:0 assigned to") for m in log) == 1


def test_too_many_failures(master, tmp_path):
    status, log = run(master, tmp_path, "error")
    assert status == "dead"
    assert "ERROR: [map:0] Task map:0 failed 4 times. At most 3 failures are allowed." in log
    assert sum(m.startswith("map:0 assigned to") for m in log) == 4


def test_ping_is_answered(master, tmp_path):
    status, log = run(master, tmp_path, "ping")
    assert status == "ready", log


def test_input_err_retry_then_fail(master, tmp_path):
    status, log = run(master, tmp_path, "inputerr", inputs=[[0, 0, ["raw://a", "raw://b"]]])
    assert status == "ready", log
    assert 'MSG: [map:0] RETRY [[1,"raw://b"]] | FAIL ""' in log


def test_worker_outside_the_job_home_is_refused_at_submit(master, tmp_path):
    import httpx

    from pydisco.jobpack import jobpack_bytes

    home = tmp_path / "h"
    home.mkdir()
    (home / "w.sh").write_text("#!/bin/sh\nexit 0\n")
    jobdict = {
        "prefix": "Escape",
        "worker": "../../../../../../bin/true",
        "owner": "t",
        "scheduler": {},
        "pipeline": [["map", "split", False]],
        "inputs": [[0, 0, ["raw://x"]]],
    }
    pack = jobpack_bytes(jobdict=jobdict, jobenvs={}, jobhome=home, version=2, check=False)
    reply = httpx.post(f"{master.url}/disco/job/new", content=pack, timeout=30).json()
    assert reply[0] == "error"
    assert "../../../../../../bin/true" in reply[1] and "'..' component" in reply[1]
    assert httpx.get(f"{master.url}/disco/ctrl/joblist", timeout=30).json() == []


def test_input_include_unknown_id(master, tmp_path):
    status, log = run(master, tmp_path, "include", inputs=[[0, 0, ["raw://a"]]])
    assert status == "ready", log
    assert 'MSG: [map:0] ["done",[[0,"ok",0,[[0,"raw://a"]]],[7,"ok",0,[]]]]' in log
