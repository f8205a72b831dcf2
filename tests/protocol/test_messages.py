"""Messages (spec: Messages): exact payload shapes in both directions."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pydisco.protocol import (
    ErrorKind,
    Frame,
    LocalProtocolError,
    decode_frame,
    encode_message,
)
from pydisco.protocol import messages as m
from pydisco.protocol.framing import FrameDecoder

from .strategies import master_messages, worker_messages


def wire_round_trip(message: Any, sender: str) -> Any:
    decoder = FrameDecoder()
    decoder.receive_data(encode_message(message))
    frame = decoder.next_frame()
    assert isinstance(frame, Frame)
    return decode_frame(frame, sender)


@given(worker_messages)
def test_worker_messages_round_trip(message: Any) -> None:
    assert wire_round_trip(message, "worker") == message


@given(master_messages)
def test_master_messages_round_trip(message: Any) -> None:
    assert wire_round_trip(message, "master") == message


@given(worker_messages)
def test_wire_is_ascii_so_length_is_characters(message: Any) -> None:
    wire = encode_message(message)
    assert wire.isascii()


def task_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "taskid": 0,
        "master": "http://m1:8989",
        "disco_port": 8989,
        "put_port": 8990,
        "ddfs_data": "/srv/ddfs",
        "disco_data": "/srv/data",
        "stage": "map",
        "grouping": "split",
        "group": [0, "n1"],
        "jobfile": "/srv/data/n1/c9/J@1:2:3/jobfile",
        "jobname": "J@1:2:3",
        "host": "n1",
    }
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


def rejects(cls: Any, payload: object) -> str:
    with pytest.raises(LocalProtocolError) as info:
        cls.from_payload(payload)
    assert info.value.kind is ErrorKind.INVALID_PAYLOAD
    return str(info.value)


def test_task_reply_has_exactly_the_twelve_keys() -> None:
    task = m.TaskInfo.from_payload(task_payload())
    assert list(task.to_payload()) == list(m.TASK_KEYS)
    assert task.group_label == 0 and task.group_host == "n1"
    assert "mode" in rejects(m.TaskInfo, task_payload(mode="map"))
    assert "host" in rejects(m.TaskInfo, task_payload(host=None))


@pytest.mark.parametrize(
    "changes",
    [
        {"taskid": 1.0},
        {"taskid": True},
        {"disco_port": "8989"},
        {"grouping": "group"},
        {"group": [0]},
        {"group": ["0", "n1"]},
        {"master": None, "extra": 1},
    ],
)
def test_task_reply_field_types(changes: dict[str, Any]) -> None:
    rejects(m.TaskInfo, task_payload(**changes))


@pytest.mark.parametrize(
    ("cls", "payload"),
    [
        (m.Worker, {"version": "1.1"}),
        (m.Worker, {"version": 1.1, "pid": 1}),
        (m.Worker, {"version": "1.1", "pid": 1.0}),
        (m.Worker, {"version": "1.1", "pid": True}),
        (m.Worker, ["1.1", 1]),
        (m.InputRequest, "all"),
        (m.InputRequest, ["include"]),
        (m.InputRequest, ["include", [1.5]]),
        (m.InputRequest, ["only", [1]]),
        (m.InputRequest, ["exclude", [True]]),
        (m.InputErr, [0]),
        (m.InputErr, [0, [0.0]]),
        (m.InputErr, ["0", []]),
        (m.Output, [0, "a", 1, 2]),
        (m.Output, [0.0, "a", 1]),
        (m.Output, [0, 1, 1]),
        (m.Output, [0, "a", False]),
        (m.Msg, 1),
        (m.Done, None),
        (m.Ok, ["ok"]),
        (m.InputReply, ["DONE", []]),
        (m.InputReply, ["done", [[0, "ok", "ALL", []]]]),
        (m.InputReply, ["done", [[0, "gone", 0, []]]]),
        (m.InputReply, ["done", [[0, "ok", 0, [[0]]]]]),
        (m.InputReply, ["done", [[0, "ok", 0]]]),
        (m.Retry, [[0, 1]]),
        (m.Wait, -1),
        (m.Wait, 1.5),
    ],
)
def test_shapes_disco_rejects(cls: Any, payload: object) -> None:
    rejects(cls, payload)


def test_worker_extra_keys_are_allowed_and_version_is_not_judged_here() -> None:
    assert m.Worker.from_payload({"version": "9", "pid": 3, "lang": "sh"}) == m.Worker("9", 3)


def test_input_labels_may_be_all() -> None:
    reply = m.InputReply.from_payload(["more", [[3, "ok", "all", [[0, "dir://h/x"]]]]])
    assert not reply.done
    assert reply.inputs[0].label == m.ALL_LABELS
    assert reply.inputs[0].replicas == (m.Replica(0, "dir://h/x"),)


def test_input_request_forms() -> None:
    assert m.InputRequest.from_payload("") == m.InputRequest()
    assert m.InputRequest().to_payload() == ""
    assert m.InputRequest("exclude", (1, 2)).to_payload() == ["exclude", [1, 2]]
    with pytest.raises(LocalProtocolError):
        m.InputRequest("all", (1,))


def test_constructors_check_types_too() -> None:
    with pytest.raises(LocalProtocolError):
        m.Output(1, "x", 1.0)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        m.Msg(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"", ErrorKind.INVALID_JSON),
        (b"NaN", ErrorKind.INVALID_JSON),
        (b'"a" "b"', ErrorKind.INVALID_JSON),
        (b'"\xff"', ErrorKind.INVALID_JSON),
    ],
)
def test_payload_must_be_strict_json(payload: bytes, kind: ErrorKind) -> None:
    with pytest.raises(LocalProtocolError) as info:
        decode_frame(Frame("MSG", payload), "worker")
    assert info.value.kind is kind


@pytest.mark.parametrize(
    ("name", "sender"),
    [("HELLO", "worker"), ("OK", "worker"), ("PING", "master"), ("WAIT", "worker")],
)
def test_unknown_messages_per_direction(name: str, sender: str) -> None:
    with pytest.raises(LocalProtocolError) as info:
        decode_frame(Frame(name, b'""'), sender)
    assert info.value.kind is ErrorKind.UNKNOWN_MESSAGE


def test_json_is_checked_before_the_name() -> None:
    with pytest.raises(LocalProtocolError) as info:
        decode_frame(Frame("HELLO", b"{"), "worker")
    assert info.value.kind is ErrorKind.INVALID_JSON


def test_registries_cover_every_name() -> None:
    assert set(m.WORKER_MESSAGES) == {
        "WORKER",
        "TASK",
        "INPUT",
        "INPUT_ERR",
        "MSG",
        "OUTPUT",
        "DONE",
        "ERROR",
        "FATAL",
        "PING",
    }
    assert set(m.MASTER_MESSAGES) == {"OK", "TASK", "INPUT", "RETRY", "FAIL", "WAIT"}
    for sender, registry in (("worker", m.WORKER_MESSAGES), ("master", m.MASTER_MESSAGES)):
        for name, cls in registry.items():
            assert name == cls.NAME and sender == cls.SENDER


@pytest.mark.parametrize(
    "cls", [*m.WORKER_MESSAGES.values(), *m.MASTER_MESSAGES.values()], ids=lambda cls: cls.NAME
)
def test_every_message_class_is_a_frozen_slotted_attrs_class(cls: Any) -> None:
    assert attrs.has(cls)
    assert "__slots__" in vars(cls)


@given(st.one_of(worker_messages, master_messages))
def test_every_message_is_frozen_slotted_and_named(message: Any) -> None:
    assert not hasattr(message, "__dict__")
    field = attrs.fields(type(message))[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(message, field, None)
    assert repr(message).startswith(type(message).__name__ + "(")


def test_text_messages_of_different_names_differ() -> None:
    assert m.Msg("x") != m.Done("x") and m.Error("x") != m.Fatal("x")
    assert m.Msg("x") == m.Msg("x") and hash(m.Msg("x")) == hash(m.Msg("x"))
    assert attrs.evolve(m.Fail("a"), text="b") == m.Fail("b")
    assert m.Ok() == m.Ok("ok") and m.TaskRequest() == m.TaskRequest("")
