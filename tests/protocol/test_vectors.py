"""The spec's language-neutral vectors, run against the protocol core.

Framing vectors are read three ways, as h11 reads its own: the whole buffer at
once, one byte at a time, and followed by trailing data. Message vectors go
through the typed classes and through the JSON Schemas, which must agree.
Session vectors are replayed through the SPEC profile's conversation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pydisco.protocol import (
    ErrorKind,
    Frame,
    FrameDecoder,
    LocalProtocolError,
    ProtocolError,
    decode_frame,
)
from pydisco.protocol.messages import MASTER_MESSAGES, WORKER_MESSAGES, message_from_payload
from pydisco.protocol.session import Conversation, Profile

SPEC = Path(__file__).resolve().parents[2] / "protocol-spec"


@cache
def load(name: str) -> Any:
    return json.loads((SPEC / "vectors" / name).read_text(encoding="utf-8"))


def wire(vector: dict[str, Any]) -> bytes:
    if "wire" in vector:
        text: str = vector["wire"]
        assert text.isascii(), vector["id"]
        return text.encode("ascii")
    return bytes.fromhex(vector["wire_hex"])


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [vector["id"] for vector in vectors]


def chunkings(data: bytes) -> Iterator[tuple[str, list[bytes]]]:
    yield "whole", [data]
    yield "bytewise", [data[i : i + 1] for i in range(len(data))]


def feed(chunks: list[bytes], *, eof: bool) -> tuple[list[Frame], ProtocolError | None]:
    decoder = FrameDecoder()
    frames: list[Frame] = []
    try:
        for chunk in chunks:
            decoder.receive_data(chunk)
            frames.extend(decoder)
        if eof:
            decoder.receive_data(b"")
            frames.extend(decoder)
    except ProtocolError as exc:
        return frames, exc
    return frames, None


def expected_frames(vector: dict[str, Any]) -> list[Frame]:
    frames = []
    for item in vector["frames"]:
        if "payload_hex" in item:
            payload = bytes.fromhex(item["payload_hex"])
        else:
            payload = json.dumps(item["payload"]).encode()
        frames.append(Frame(item["name"], payload))
    return frames


VALID_FRAMES = load("framing.json")["valid"]
INVALID_FRAMES = load("framing.json")["invalid"]


@pytest.mark.parametrize("vector", VALID_FRAMES, ids=ids(VALID_FRAMES))
def test_valid_frames(vector: dict[str, Any]) -> None:
    data = wire(vector)
    for how, chunks in chunkings(data):
        frames, error = feed(chunks, eof=True)
        assert error is None, (how, error)
        assert [frame.name for frame in frames] == [item["name"] for item in vector["frames"]]
        for frame, item in zip(frames, vector["frames"], strict=True):
            if "payload_hex" in item:
                assert frame.payload == bytes.fromhex(item["payload_hex"]), how
            if "payload" in item:
                assert json.loads(frame.payload) == item["payload"], how
    # With trailing data that starts another frame, the same frames come out first.
    frames, error = feed([data + b"MSG 5 "], eof=False)
    assert error is None and len(frames) == len(vector["frames"])


@pytest.mark.parametrize("vector", INVALID_FRAMES, ids=ids(INVALID_FRAMES))
def test_invalid_frames(vector: dict[str, Any]) -> None:
    data = wire(vector)
    for how, chunks in chunkings(data):
        frames, error = feed(chunks, eof=vector["eof"])
        assert error is not None, how
        assert error.kind.value == vector["error"], (how, error)
        assert len(frames) == vector["frames_before_error"], how
    if not vector["eof"]:
        # Trailing data never turns a malformed stream into a good one.
        _, error = feed([data + b'OK 4 "ok"\n'], eof=True)
        assert error is not None and error.kind.value == vector["error"]


def message_vectors(sender: str, validity: str) -> list[dict[str, Any]]:
    return [dict(vector, sender=sender) for vector in load("messages.json")[sender][validity]]


VALID_MESSAGES = message_vectors("worker", "valid") + message_vectors("master", "valid")
INVALID_MESSAGES = message_vectors("worker", "invalid") + message_vectors("master", "invalid")


@cache
def schema(sender: str, name: str) -> Any:
    path = SPEC / "schemas" / sender / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


@pytest.mark.parametrize("vector", VALID_MESSAGES, ids=ids(VALID_MESSAGES))
def test_valid_messages(vector: dict[str, Any]) -> None:
    message = message_from_payload(vector["name"], vector["sender"], vector["payload"])
    if vector["name"] == "WORKER":
        # Extra keys are allowed on the way in but not kept.
        assert message.to_payload().items() <= vector["payload"].items()
    else:
        assert message.to_payload() == vector["payload"]
    jsonschema.validate(vector["payload"], schema(vector["sender"], vector["name"]))


@pytest.mark.parametrize("vector", INVALID_MESSAGES, ids=ids(INVALID_MESSAGES))
def test_invalid_messages(vector: dict[str, Any]) -> None:
    kind = ErrorKind(vector["error"])
    sender, name = vector["sender"], vector["name"]
    if kind is ErrorKind.INVALID_VERSION:
        message = message_from_payload(name, sender, vector["payload"])
        assert message.version != "1.1"
        return
    frame = Frame(name, json.dumps(vector["payload"]).encode())
    with pytest.raises(LocalProtocolError) as info:
        decode_frame(frame, sender)
    assert info.value.kind is kind
    registry = WORKER_MESSAGES if sender == "worker" else MASTER_MESSAGES
    if kind is ErrorKind.INVALID_PAYLOAD and not vector.get("schema_blind"):
        assert name in registry
        validator = jsonschema.Draft202012Validator(schema(sender, name))
        assert not validator.is_valid(vector["payload"]), (
            "the schema accepts what the class refuses"
        )


def test_every_message_has_a_schema_and_vectors() -> None:
    for sender, registry in (("worker", WORKER_MESSAGES), ("master", MASTER_MESSAGES)):
        covered = {vector["name"] for vector in message_vectors(sender, "valid")}
        for name in registry:
            assert schema(sender, name) is not None, (sender, name)
            assert name in covered, (sender, name)


SEQUENCES = load("session.json")["sequences"]


@pytest.mark.parametrize("vector", SEQUENCES, ids=ids(SEQUENCES))
def test_session_sequences(vector: dict[str, Any]) -> None:
    conversation = Conversation(Profile.SPEC)
    verdict = vector["verdict"]
    illegal_at = None if verdict == "legal" else verdict["illegal_at"]
    for index, step in enumerate(vector["steps"]):
        message_from_payload(step["name"], step["from"], step["payload"])
        send = conversation.worker_sends if step["from"] == "worker" else conversation.master_sends
        if index == illegal_at:
            with pytest.raises(LocalProtocolError) as info:
                send(step["name"])
            assert info.value.kind.value == verdict["error"]
            return
        send(step["name"])
    assert illegal_at is None
    if "eof_ok" in vector:
        ended_cleanly = conversation.phase.value == "closed" and not conversation.outstanding
        assert ended_cleanly == vector["eof_ok"]
