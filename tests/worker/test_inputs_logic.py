"""Input polling and replica fallback against a fake channel (facts §4.2-§4.5)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pydisco.protocol import Fail, InputErr, InputReply, InputRequest, Replica, Retry, Wait
from pydisco.worker import InputFailed
from pydisco.worker import inputs as inputs_module
from pydisco.worker.inputs import TaskInput, poll_inputs

from .scripted_master import data_input, make_task


class FakeChannel:
    """Answers each request with the next scripted reply, recording the requests."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.sent: list[Any] = []

    def request(self, message: Any, expect: type) -> Any:
        reply = self.request_any(message)
        assert isinstance(reply, expect)
        return reply

    def request_any(self, message: Any) -> Any:
        self.sent.append(message)
        return self.replies.pop(0)


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    sleeps: list[float] = []
    monkeypatch.setattr(inputs_module.time, "sleep", sleeps.append)
    return sleeps


def test_poll_excludes_seen_ids_and_backs_off_on_empty_more(no_sleep: list[float]) -> None:
    a, b = data_input(0, "raw://a"), data_input(1, "raw://b")
    channel = FakeChannel(
        InputReply(False, (a,)),
        InputReply(False, ()),
        InputReply(False, ()),
        InputReply(False, ()),
        InputReply(False, ()),
        InputReply(False, ()),
        InputReply(False, ()),
        InputReply(False, (a, b)),  # a repeated: handed out once only
        InputReply(True, ()),
    )
    seen: set[int] = set()
    order: list[int] = []
    got = [entry.input_id for entry in poll_inputs(channel, seen, order)]  # type: ignore[arg-type]
    assert got == [0, 1]
    assert channel.sent[0] == InputRequest("exclude", ())
    assert channel.sent[1] == InputRequest("exclude", (0,))
    assert channel.sent[-1] == InputRequest("exclude", (0, 1))
    assert no_sleep == sorted(no_sleep) and max(no_sleep) == 1.0 and no_sleep[0] < 0.1


def test_all_replicas_fail_retry_then_success(home: str, no_sleep: list[float]) -> None:
    good = os.path.join(home, "good")
    with open(good, "wb") as handle:
        handle.write(b"ok\n")
    channel = FakeChannel(
        Wait(2), Retry((Replica(0, "missing-again"),)), Retry((Replica(9, good),))
    )
    entry = data_input(5, "missing-1", "missing-2")
    task_input = TaskInput(entry, make_task(home), channel)  # type: ignore[arg-type]
    assert list(task_input.lines()) == [b"ok\n"]
    assert channel.sent == [
        InputErr(5, (0, 1)),
        InputErr(5, (0, 1)),  # after WAIT, the same report again
        InputErr(5, (0,)),
    ]
    assert no_sleep == [2]
    assert task_input.url == good


def test_fail_raises_input_failed_naming_every_replica(home: str) -> None:
    channel = FakeChannel(Fail(""))
    task_input = TaskInput(data_input(1, "nope-a", "nope-b"), make_task(home), channel)  # type: ignore[arg-type]
    with pytest.raises(InputFailed) as info:
        task_input.read()
    assert info.value.input_id == 1
    assert [failure[1] for failure in info.value.failures] == ["nope-a", "nope-b"]
    assert "FAIL" in str(info.value) and "nope-b" in str(info.value)


def test_retry_rounds_are_bounded(home: str) -> None:
    retry = Retry((Replica(0, "still-missing"),))
    channel = FakeChannel(*([retry] * 10))
    task_input = TaskInput(data_input(1, "missing"), make_task(home), channel)  # type: ignore[arg-type]
    with pytest.raises(InputFailed, match="RETRY"):
        task_input.read()
    assert len(channel.sent) == inputs_module.MAX_RETRY_ROUNDS + 1


def test_an_input_without_replicas_is_empty(home: str) -> None:
    channel = FakeChannel()
    task_input = TaskInput(data_input(0), make_task(home), channel)  # type: ignore[arg-type]
    assert task_input.read() == b"" and channel.sent == []


def test_an_input_streams_once(home: str) -> None:
    task_input = TaskInput(data_input(0, "raw://x"), make_task(home), None)
    assert task_input.read() == b"x"
    with pytest.raises(RuntimeError, match="already read"):
        task_input.read()


def test_text_lines(home: str) -> None:
    task_input = TaskInput(data_input(0, "raw://é\r\nb\nc"), make_task(home), None)
    assert list(task_input.text_lines()) == ["é", "b", "c"]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet="ab \r\né", max_size=60))
def test_text_lines_in_blocks_match_line_by_line(home: str, text: str) -> None:
    data = text.encode()
    expected = [line.decode().rstrip("\r\n") for line in _lines_of(data)]
    task_input = TaskInput(data_input(0, "raw://" + text), make_task(home), None)
    assert list(task_input.text_lines()) == expected


def test_text_lines_across_read_chunks(home: str, tmp_path: Any) -> None:
    lines = [f"line {i} " + "x" * (i % 97) + ("\r" if i % 5 == 0 else "") for i in range(9000)]
    data = "\n".join(lines).encode()  # over two 256 KiB read chunks, no final line end
    path = tmp_path / "text.txt"
    path.write_bytes(data)
    task_input = TaskInput(data_input(0, f"file://{path}"), make_task(home), None)
    assert list(task_input.text_lines()) == [line.rstrip("\r") for line in lines]


def _lines_of(data: bytes) -> list[bytes]:
    pieces = data.split(b"\n")
    lines = [piece + b"\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines
