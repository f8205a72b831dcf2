"""Session order (spec: Session): both roles, both profiles."""

from __future__ import annotations

from typing import Any

import pytest

from pydisco.protocol import (
    ErrorKind,
    LocalProtocolError,
    MasterSession,
    Phase,
    Profile,
    RemoteProtocolError,
    WorkerSession,
)
from pydisco.protocol import messages as m
from pydisco.protocol.session import Conversation

TASK = m.TaskInfo(
    0, "http://m:8989", 8989, 8990, "/d", "/d", "map", "split", (0, "n"), "/j", "J", "n"
)


class Pair:
    """A worker session and a master session wired back to back."""

    def __init__(self, profile: Profile = Profile.SPEC) -> None:
        self.worker = WorkerSession()
        self.master = MasterSession(profile)

    def worker_sends(self, message: Any) -> Any:
        self.master.receive_data(self.worker.send(message))
        return self.master.next_event()

    def master_sends(self, message: Any) -> Any:
        self.worker.receive_data(self.master.send(message))
        return self.worker.next_event()

    def start(self) -> None:
        self.worker_sends(m.Worker("1.1", 7))
        self.master_sends(m.Ok())
        self.worker_sends(m.TaskRequest())
        self.master_sends(m.TaskReply(TASK))


def test_happy_path_as_disco_python_worker_runs_it() -> None:
    pair = Pair()
    pair.start()
    assert pair.worker.task == TASK and pair.worker.phase is Phase.RUNNING
    assert pair.worker_sends(m.InputRequest("exclude", ())) == m.InputRequest("exclude", ())
    assert pair.master.awaiting == "INPUT"
    pair.master_sends(m.InputReply(True, ()))
    pair.worker_sends(m.Msg("hello"))
    pair.master_sends(m.Ok())
    pair.worker_sends(m.Output(0, "5e/map/x", 3))
    pair.master_sends(m.Ok())
    pair.worker_sends(m.Done())
    assert pair.worker.phase is Phase.CLOSED and pair.master.awaiting is None


def test_lenient_ok_after_done_is_tolerated_once() -> None:
    pair = Pair()
    pair.start()
    pair.worker_sends(m.Done())
    assert pair.master_sends(m.Ok()) == m.Ok()
    with pytest.raises(LocalProtocolError):
        pair.master.send(m.Ok())


@pytest.mark.parametrize("closing", [m.Done(), m.Error("boom"), m.Fatal("bug")])
def test_nothing_after_the_session_ends(closing: Any) -> None:
    pair = Pair()
    pair.start()
    pair.worker_sends(closing)
    with pytest.raises(LocalProtocolError) as info:
        pair.worker.send(m.Msg("late"))
    assert info.value.kind is ErrorKind.ILLEGAL_SEQUENCE


def test_worker_must_wait_for_each_reply() -> None:
    pair = Pair()
    pair.start()
    pair.worker_sends(m.Msg("one"))
    with pytest.raises(LocalProtocolError, match="waiting for a reply"):
        pair.worker.send(m.Msg("two"))


def test_spec_profile_order_seen_by_the_master() -> None:
    master = MasterSession(Profile.SPEC)
    master.receive_data(b'TASK 2 ""\n')
    with pytest.raises(RemoteProtocolError) as info:
        master.next_event()
    assert info.value.kind is ErrorKind.ILLEGAL_SEQUENCE
    with pytest.raises(RemoteProtocolError):
        master.next_event()


def test_disco_profile_accepts_any_order_and_pipelining() -> None:
    master = MasterSession(Profile.DISCO_054)
    master.receive_data(b'TASK 2 ""\nMSG 4 "hi"\n')
    assert master.next_event() == m.TaskRequest()
    assert master.next_event() == m.Msg("hi")
    assert list(master.conversation.outstanding) == ["TASK", "MSG"]
    with pytest.raises(LocalProtocolError, match="answered TASK with OK"):
        master.send(m.Ok())


def test_master_records_pid_before_judging_the_version() -> None:
    master = MasterSession()
    master.receive_data(m.encode_message(m.Worker("1.0", 4242)))
    with pytest.raises(RemoteProtocolError) as info:
        master.next_event()
    assert info.value.kind is ErrorKind.INVALID_VERSION
    assert master.worker_pid == 4242


def test_framing_errors_reach_the_master_as_remote_errors_with_last_words() -> None:
    master = MasterSession()
    master.receive_data(b"Traceback (most recent call last):\n")
    with pytest.raises(RemoteProtocolError) as info:
        master.next_event()
    assert info.value.kind.is_framing
    assert master.unparsed.startswith(b"Traceback")


@pytest.mark.parametrize(
    ("request_", "reply"),
    [
        (m.TaskRequest(), m.Ok()),
        (m.Msg("x"), m.Retry(())),
        (m.InputErr(0, (0,)), m.Ok()),
        (m.InputRequest(), m.TaskReply(TASK)),
    ],
)
def test_mismatched_replies_are_refused_on_both_sides(request_: Any, reply: Any) -> None:
    conversation = Conversation(Profile.DISCO_054)
    conversation.worker_sends(request_.NAME)
    with pytest.raises(LocalProtocolError):
        conversation.master_sends(reply.NAME)
    worker = WorkerSession()
    worker.conversation = conversation
    worker.receive_data(m.encode_message(reply))
    with pytest.raises(RemoteProtocolError):
        worker.next_event()


def test_unsolicited_master_message() -> None:
    worker = WorkerSession()
    worker.receive_data(b'OK 4 "ok"\n')
    with pytest.raises(RemoteProtocolError, match="no request was waiting"):
        worker.next_event()


def test_input_err_accepts_retry_fail_and_wait() -> None:
    for reply in (m.Retry((m.Replica(1, "raw://x"),)), m.Fail(), m.Wait(1)):
        pair = Pair()
        pair.start()
        pair.worker_sends(m.InputErr(0, (0,)))
        assert pair.master_sends(reply) == reply


def test_error_and_fatal_are_allowed_before_worker() -> None:
    for message in (m.Error("cannot start"), m.Fatal("cannot start")):
        worker = WorkerSession()
        worker.send(message)
        assert worker.phase is Phase.CLOSED


def test_sessions_refuse_the_other_sides_messages() -> None:
    with pytest.raises(LocalProtocolError):
        WorkerSession().send(m.Ok())  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        MasterSession().send(m.Msg("x"))  # type: ignore[arg-type]


def test_a_failed_send_leaves_the_state_and_fails_the_session() -> None:
    worker = WorkerSession()
    with pytest.raises(LocalProtocolError, match="before WORKER") as first:
        worker.send(m.InputRequest())
    assert worker.phase is Phase.START and worker.awaiting is None
    assert worker.error is first.value
    with pytest.raises(LocalProtocolError, match="session failed"):
        worker.send(m.Worker("1.1", 1))
    assert worker.awaiting is None


def test_a_session_the_peer_broke_stays_failed() -> None:
    master = MasterSession()
    master.receive_data(b'WORKER 3 {}\nWORKER 26 {"version":"1.1","pid":1}\n')
    with pytest.raises(RemoteProtocolError) as first:
        master.next_event()
    for _ in range(2):
        with pytest.raises(RemoteProtocolError) as again:
            master.next_event()
        assert again.value is first.value
    assert master.error is first.value
