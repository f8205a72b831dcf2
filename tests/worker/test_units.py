"""Unit tests: URL mapping, path safety, dir indexes, output names, MSG batching, jobdata."""

from __future__ import annotations

import fcntl
import io
import os
import termios
import threading
import time
from typing import Any

import pytest

import pydisco.worker
from pydisco.protocol import END_OF_STREAM, NEED_DATA, MasterSession, Ok, TaskInfo, Worker
from pydisco.protocol.limits import MAX_EVENT_TEXT
from pydisco.resultsindex import IndexLineError
from pydisco.worker import Channel, DataError, UnsafeLocation
from pydisco.worker.capture import MessagePump
from pydisco.worker.inputs import IndexEntry, parse_index, select_entries
from pydisco.worker.outputs import Outputs, hexhash, safe_name, task_uid
from pydisco.worker.schemes import is_gzip, locate, split_url
from pydisco.worker.task import read_jobdata

from .scripted_master import make_task, write_jobfile

TASK = make_task("/home/job", disco_data="/srv/disco", ddfs_data="/srv/ddfs", disco_port=8989)


def test_public_api() -> None:
    assert sorted(pydisco.worker.__all__) == [
        "Channel",
        "DataError",
        "InputFailed",
        "MasterGone",
        "OutputWriter",
        "TaskContext",
        "TaskInput",
        "UnsafeLocation",
        "WorkerError",
        "read_jobdata",
        "run_task",
        "run_worker",
    ]
    for name in pydisco.worker.__all__:
        assert getattr(pydisco.worker, name).__doc__


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("raw://a b%20c", ("raw", "a b%20c", False)),
        ("raw://x.gz", ("raw", "x.gz", False)),
        ("data/part-0", ("file", "data/part-0", False)),
        ("/abs/part-0.gz", ("file", "/abs/part-0.gz", True)),
        ("file:///abs/x", ("file", "/abs/x", False)),
        ("file://rel/x", ("file", "rel/x", False)),
        ("http://h:1/p.gz?q=1", ("http", "http://h:1/p.gz?q=1", True)),
        ("https://h/p", ("http", "https://h/p", False)),
        ("disco://nodeA/disco/nodeA/ab/j/f", ("file", "/srv/disco/nodeA/ab/j/f", False)),
        ("disco://nodeA/ddfs/vol0/blob/cd/b$1", ("file", "/srv/ddfs/vol0/blob/cd/b$1", False)),
        (
            "disco://nodeB/disco/nodeB/ab/j/f",
            ("http", "http://nodeB:8989/disco/nodeB/ab/j/f", False),
        ),
        ("disco://nodeA:9000/disco/x", ("file", "/srv/disco/x", False)),
        ("disco://nodeB:9000/disco/x", ("http", "http://nodeB:9000/disco/x", False)),
        ("disco://nodeA/other/x", ("http", "http://nodeA:8989/other/x", False)),
        ("disco://nodeAA/disco/x", ("http", "http://nodeAA:8989/disco/x", False)),
        (
            "dir://nodeA/disco/nodeA/ab/j/.disco/m-0-1.results",
            ("file", "/srv/disco/nodeA/ab/j/.disco/m-0-1.results", False),
        ),
        ("dir://nodeB/disco/x.results", ("http", "http://nodeB:8989/disco/x.results", False)),
    ],
)
def test_url_to_location(url: str, expected: tuple[str, str, bool]) -> None:
    location = locate(url, TASK)
    assert (location.kind, location.target, location.gzip) == expected


@pytest.mark.parametrize(
    "url",
    [
        "disco://nodeA/disco/../etc/passwd",
        "disco://nodeA/disco/a/../../x",
        "disco://nodeA/ddfs/..",
        "dir://nodeA/disco/x/../../y",
        "disco://nodeA/disco/",
    ],
)
def test_local_paths_may_not_escape_the_data_dir(url: str) -> None:
    with pytest.raises(UnsafeLocation) as info:
        locate(url, TASK)
    assert info.value.url == url


def test_unknown_scheme_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not supported"):
        locate("tag://data:x", TASK)


def test_split_url_and_gzip() -> None:
    assert split_url("disco://h:1/a/b") == ("disco", "h:1", "/a/b")
    assert split_url("plain/path") == ("", "", "plain/path")
    assert is_gzip("http://h/x.gz") and is_gzip("x.gz") and not is_gzip("http://h/x.gz/y")


def test_parse_index_and_select() -> None:
    data = b"0 disco://h/a 10\n\n1 disco://h/b 20\r\n0  disco://h/c   30\n"
    entries = parse_index(data)
    assert entries == [
        IndexEntry(0, "disco://h/a", 10),
        IndexEntry(1, "disco://h/b", 20),
        IndexEntry(0, "disco://h/c", 30),
    ]
    assert [entry.url for entry in select_entries(entries, 0)] == ["disco://h/a", "disco://h/c"]
    assert select_entries(entries, "all") == entries
    assert select_entries(entries, 5) == []


@pytest.mark.parametrize("bad", [b"0 url\n", b"x url 1\n", b"0 url 1 extra\n", b"0 url size\n"])
def test_parse_index_rejects_malformed_lines(bad: bytes) -> None:
    with pytest.raises(IndexLineError, match="Line 1 of the results index dir://h/x"):
        parse_index(bad, "dir://h/x")


def test_output_names(tmp_path: Any) -> None:
    task = make_task(str(tmp_path), stage="re duce/x", group=(2, "node 1"), taskid=9)
    uid = task_uid(task, 42, 1.5)
    assert uid == "re_duce_x:2-node_1-9-16e360-42"
    assert (
        hexhash("WordCount@55f:6a1c2:3b0e5")
        == __import__("hashlib").md5(b"WordCount@55f:6a1c2:3b0e5").hexdigest()[:2]
    )
    assert safe_name("a/b c:d@e") == "a_b_c:d@e"
    outputs = Outputs(task, str(tmp_path), pid=42)
    writer = outputs.writer(3)
    assert outputs.writer(3) is writer
    writer.write(b"ab")
    writer.write(memoryview(b"c"))
    assert os.path.exists(writer.path + ".partial") and not os.path.exists(writer.path)
    text = io.TextIOWrapper(outputs.writer(4), encoding="utf-8")
    text.write("é\n")
    text.flush()
    outputs.add_url(1, "disco://h/x", 5)
    with pytest.raises(ValueError):
        outputs.add_url(1, "/abs/path", 5)
    with pytest.raises(ValueError):
        outputs.writer(-1)
    results = outputs.close()
    assert results[0] == (3, writer.relative, 3) and results[2] == (1, "disco://h/x", 5)
    assert results[1][2] == 3  # "é\n" in UTF-8
    assert writer.relative.startswith(hexhash(outputs.uid) + "/" + outputs.uid + "/")
    assert os.path.getsize(writer.path) == 3 and not os.path.exists(writer.path + ".partial")


def test_read_jobdata(tmp_path: Any) -> None:
    path = str(tmp_path / "jobfile")
    write_jobfile(path, b"payload")
    assert read_jobdata(path) == b"payload"
    with open(path, "wb") as handle:
        handle.write(b"\xd5\xc0")
    with pytest.raises(DataError, match="too short"):
        read_jobdata(path)


class LoopbackMaster:
    """A master on the other end of two pipes that answers OK to everything."""

    def __init__(self) -> None:
        self.frames_r, frames_w = os.pipe()
        replies_r, self.replies_w = os.pipe()
        self.channel = Channel(frames_w, replies_r)
        self.session = MasterSession()
        self.msgs: list[tuple[float, str]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            data = os.read(self.frames_r, 65536)
            self.session.receive_data(data)
            while True:
                event = self.session.next_event()
                if event is NEED_DATA or event is END_OF_STREAM:
                    break
                if event.NAME == "MSG":
                    self.msgs.append((time.monotonic(), event.text))
                os.write(self.replies_w, self.session.send(Ok()))
            if not data:
                return


def test_pump_batches_lines_and_reports_drops() -> None:
    master = LoopbackMaster()
    master.channel.request(Worker("1.1", os.getpid()), Ok)
    pump = MessagePump(master.channel, max_held=20_000)
    pump.enable()
    pump.post("\n".join(f"line {number:05d}" for number in range(3000)))
    pump.post("x" * (MAX_EVENT_TEXT + 10))
    pump.stop()
    texts = [text for _, text in master.msgs]
    assert all(len(text) <= MAX_EVENT_TEXT for text in texts)
    assert len(texts) <= 10
    joined = "\n".join(texts)
    assert "line 00000" in joined
    assert "bytes of output dropped]" in joined


def _wait_drained(fd: int) -> None:
    """Wait until the pump thread has read everything written to the captured pipe."""
    deadline = time.monotonic() + 30
    while fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0") != b"\0\0\0\0":
        assert time.monotonic() < deadline, "the pump thread never read its pipe"
        time.sleep(0.001)


def test_pump_sends_nothing_before_enable() -> None:
    master = LoopbackMaster()
    captured_r, captured_w = os.pipe()
    os.set_blocking(captured_r, False)
    pump = MessagePump(master.channel, captured_r)
    os.write(captured_w, b"too early\n")
    _wait_drained(captured_r)
    # The thread handles one wake-up at a time: once it has read this second line, it
    # has finished handling the first one. Had it sent a MSG then, the master (which
    # records a MSG before it answers OK) would already show it.
    os.write(captured_w, b"still early\n")
    _wait_drained(captured_r)
    assert master.msgs == []
    master.channel.request(Worker("1.1", os.getpid()), Ok)
    pump.enable()
    pump.stop()
    os.close(captured_w)
    assert "\n".join(text for _, text in master.msgs) == "too early\nstill early"


def test_task_info_is_the_protocol_type() -> None:
    assert isinstance(TASK, TaskInfo)


def test_master_closing_stdin_is_master_gone_and_the_last_word_still_goes_out() -> None:
    from pydisco.protocol import FrameDecoder
    from pydisco.protocol.messages import Error
    from pydisco.worker import run_task

    frames_r, frames_w = os.pipe()
    replies_r, replies_w = os.pipe()
    os.close(replies_w)  # the master is gone before it answers anything
    channel = Channel(frames_w, replies_r)
    final = run_task(lambda task: None, channel)
    assert isinstance(final, Error) and "MasterGone" in final.text
    channel.close_with(final, wait=0.1)
    os.close(frames_w)
    decoder = FrameDecoder()
    while data := os.read(frames_r, 65536):
        decoder.receive_data(data)
    names = [frame.name for frame in decoder]
    assert names == ["WORKER", "ERROR"]
    assert channel.closed
