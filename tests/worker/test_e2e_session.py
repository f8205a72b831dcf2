"""End to end: output capture, MSG pacing, errors, closing, outputs (facts §2, §5, §12)."""

from __future__ import annotations

import os
import struct

from pydisco.protocol import ThrottleAction
from pydisco.protocol.limits import MAX_EVENT_TEXT, MSG_DELAY_ABOVE

from .scripted_master import PYTHON, ScriptedMaster, data_input, make_task, write_jobfile

BEHAVIOURS = os.path.join(os.path.dirname(__file__), "behaviours.py")


def run_behaviour(home: str, name: str, **kwargs: object):  # type: ignore[no-untyped-def]
    task = kwargs.pop("task", None) or make_task(home)
    inputs = kwargs.pop("inputs", ())
    master = ScriptedMaster([PYTHON, BEHAVIOURS, name], home, task, inputs=inputs, **kwargs)  # type: ignore[arg-type]
    return master.run()


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def assert_clean(run) -> None:  # type: ignore[no-untyped-def]
    """Every byte on the merged stream was part of a valid frame."""
    assert run.protocol_error is None, bytes(run.raw)
    assert run.closing is not None


def test_handshake_order_matches_disco_python_worker(home: str) -> None:
    run = run_behaviour(home, "nothing")
    assert_clean(run)
    names = [message.NAME for _, message in run.messages]
    assert names == ["WORKER", "TASK", "DONE"]
    worker = run.messages[0][1]
    assert worker.version == "1.1" and worker.pid > 0
    assert "PING" not in names


def test_prints_become_msgs(home: str) -> None:
    run = run_behaviour(home, "prints")
    assert_clean(run)
    assert run.closing.NAME == "DONE"
    lines = "\n".join(run.msg_texts).splitlines()
    assert "hello from print" in lines
    assert "to stderr" in lines
    assert "explicit msg" in lines
    assert lines[-1] == "partial line without newline"
    assert lines.index("hello from print") < lines.index("to stderr") < lines.index("explicit msg")


def test_child_process_output_becomes_msgs(home: str) -> None:
    run = run_behaviour(home, "child")
    assert_clean(run)
    assert run.closing.NAME == "DONE"
    lines = "\n".join(run.msg_texts).splitlines()
    assert {"hi", "err", "after child"} <= set(lines)


def test_closing_fds_1_and_2_does_not_break_the_worker(home: str) -> None:
    run = run_behaviour(home, "close_fds")
    assert_clean(run)
    assert run.closing.NAME == "DONE"
    lines = "\n".join(run.msg_texts).splitlines()
    assert "before closing" in lines
    (cpu,) = [line for line in lines if line.startswith("cpu ")]
    assert float(cpu.split()[1]) < 0.2  # the pump did not spin on the closed pipe


def test_ten_thousand_lines_respect_the_throttle(home: str) -> None:
    run = run_behaviour(home, "flood")
    assert_clean(run)
    assert run.closing.NAME == "DONE"
    assert run.verdicts, "no MSG was sent"
    assert all(verdict.action is ThrottleAction.REPLY for verdict in run.verdicts)
    stamps = [stamp for stamp, message in run.messages if message.NAME == "MSG"]
    for index, stamp in enumerate(stamps):
        in_window = [other for other in stamps[index:] if other - stamp < 1.0]
        assert len(in_window) <= MSG_DELAY_ABOVE
    assert all(len(text) <= MAX_EVENT_TEXT for text in run.msg_texts)
    text = "\n".join(run.msg_texts)
    assert "line 0" in text
    assert "line 9999" in text or "bytes of output dropped" in text


def test_value_error_is_fatal_with_traceback(home: str) -> None:
    run = run_behaviour(home, "value_error")
    assert_clean(run)
    assert run.closing.NAME == "FATAL"
    assert "Traceback" in run.closing.text
    assert "ValueError: a bug in user code" in run.closing.text
    assert "Task map:3" in run.closing.text
    assert run.returncode == 1


def test_os_error_is_a_retryable_error(home: str) -> None:
    run = run_behaviour(home, "os_error")
    assert_clean(run)
    assert run.closing.NAME == "ERROR"
    assert "disk on fire" in run.closing.text


def test_done_without_reply_exits_promptly(home: str) -> None:
    run = run_behaviour(home, "nothing", after_close="silent")
    assert run.closing.NAME == "DONE"
    assert not run.killed
    assert run.returncode == 0  # it ended by itself, long before the master would kill it


def test_done_with_ok_reply_exits_at_once(home: str) -> None:
    # The wait meant for masters that never reply is made far longer than the master's
    # patience (it kills a worker 5 s after DONE): exiting by itself shows the OK ended it.
    env = {**os.environ, "FINAL_WAIT": "600"}
    run = run_behaviour(home, "nothing", after_close="ok", env=env)
    assert run.closing.NAME == "DONE"
    assert not run.killed
    assert run.returncode == 0


def test_outputs_are_relative_existing_and_sized(home: str) -> None:
    inputs = [data_input(0, "raw://zero", label=0), data_input(1, "raw://three!", label=3)]
    run = run_behaviour(home, "labels", inputs=inputs)
    assert_clean(run)
    assert run.closing.NAME == "DONE"
    outputs = run.named("OUTPUT")
    assert [output.label for output in outputs] == [0, 3, 7, 2]
    local = outputs[:3]
    for output in local:
        assert not output.location.startswith("/")
        first = output.location.split("/", 1)[0]
        assert ":" not in first and len(first) == 2
        path = os.path.join(home, output.location)
        assert os.path.getsize(path) == output.size
        assert not os.path.exists(path + ".partial")
    assert len({output.location for output in local}) == 3
    assert [read(os.path.join(home, o.location)) for o in local] == [
        b"zero",
        b"three!",
        b"seven\n",
    ]
    assert (outputs[3].location, outputs[3].size) == ("http://elsewhere.example/result", 11)
    # Every local output of a run is under one task directory named after stage and task id.
    assert len({os.path.dirname(output.location) for output in local}) == 1
    assert "map:0-nodeA-3-" in local[0].location


def test_jobdata_is_read_from_the_jobfile(home: str) -> None:
    task = make_task(home)
    write_jobfile(task.jobfile, b"\x00job data\xff")
    run = run_behaviour(home, "jobdata", task=task)
    assert run.closing.NAME == "DONE"
    (output,) = run.named("OUTPUT")
    with open(os.path.join(home, output.location), "rb") as handle:
        assert handle.read() == b"\x00job data\xff"


def test_jobdata_with_a_bad_jobfile_is_an_error(home: str) -> None:
    task = make_task(home)
    with open(task.jobfile, "wb") as handle:
        handle.write(struct.pack(">HH", 0xBEEF, 2) + bytes(124))
    run = run_behaviour(home, "jobdata", task=task)
    assert run.closing.NAME == "ERROR"
    assert "0xD5C0" in run.closing.text
