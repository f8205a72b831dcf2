"""Self-check of protocol-spec/: schemas are valid, vectors agree with them.

This tests the spec's data, not the pydisco code: every schema is a valid
draft 2020-12 schema, every message vector validates (or fails) as it says,
vector ids are unique, and every framing vector gives its bytes exactly once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

SPEC = Path(__file__).resolve().parents[2] / "protocol-spec"
SCHEMAS = SPEC / "schemas"
VECTORS = SPEC / "vectors"
DIRECTIONS = ("worker", "master")
WORKER_NAMES = {
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
MASTER_NAMES = {"OK", "TASK", "INPUT", "RETRY", "FAIL", "WAIT"}
SCHEMA_ERRORS = {"invalid_payload", "unknown_message", "invalid_version"}


def _load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _schema(direction: str, name: str) -> dict | None:
    path = SCHEMAS / direction / f"{name}.json"
    return _load(path) if path.exists() else None


MESSAGES = _load(VECTORS / "messages.json")
FRAMING = _load(VECTORS / "framing.json")
SESSION = _load(VECTORS / "session.json")
SCHEMA_FILES = sorted(SCHEMAS.glob("*/*.json"))


def _message_cases(kind: str):
    for direction in DIRECTIONS:
        for vector in MESSAGES[direction][kind]:
            yield pytest.param(direction, vector, id=vector["id"])


def test_one_schema_per_message():
    assert {p.stem for p in (SCHEMAS / "worker").glob("*.json")} == WORKER_NAMES
    assert {p.stem for p in (SCHEMAS / "master").glob("*.json")} == MASTER_NAMES


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_schema_is_valid(path: Path):
    schema = _load(path)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://pydisco.invalid/schemas/{path.parent.name}/{path.name}"
    assert schema["description"]


@pytest.mark.parametrize(("direction", "vector"), list(_message_cases("valid")))
def test_valid_message_vector(direction: str, vector: dict):
    schema = _schema(direction, vector["name"])
    assert schema is not None, f"no schema for {direction} {vector['name']}"
    Draft202012Validator(schema).validate(vector["payload"])


@pytest.mark.parametrize(("direction", "vector"), list(_message_cases("invalid")))
def test_invalid_message_vector(direction: str, vector: dict):
    error = vector["error"]
    assert error in SCHEMA_ERRORS
    schema = _schema(direction, vector["name"])
    if error == "unknown_message":
        assert schema is None, f"{vector['name']} is a known {direction} message"
        return
    assert schema is not None
    valid = Draft202012Validator(schema).is_valid(vector["payload"])
    if error == "invalid_version":
        assert valid, "an invalid_version vector must pass the schema"
        assert vector["payload"]["version"] != "1.1"
    elif vector.get("schema_blind"):
        # jsonschema takes 1.0 for an integer; the code must reject it itself.
        assert valid, "schema_blind marks only what the validator cannot see"
    else:
        assert not valid


def test_vector_ids_unique():
    ids = [v["id"] for d in DIRECTIONS for k in ("valid", "invalid") for v in MESSAGES[d][k]]
    ids += [v["id"] for k in ("valid", "invalid") for v in FRAMING[k]]
    ids += [s["id"] for s in SESSION["sequences"]]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("vector", FRAMING["valid"] + FRAMING["invalid"], ids=lambda v: v["id"])
def test_framing_vector_bytes(vector: dict):
    assert ("wire" in vector) != ("wire_hex" in vector)
    if "wire" in vector:
        assert all(ord(c) < 0x80 for c in vector["wire"])
    else:
        data = bytes.fromhex(vector["wire_hex"])
        assert vector["wire_hex"] == data.hex()
        assert any(b >= 0x80 for b in data), "use wire for ASCII-only bytes"


@pytest.mark.parametrize("vector", FRAMING["valid"], ids=lambda v: v["id"])
def test_framing_valid_frames_are_consistent(vector: dict):
    assert vector["frames"]
    for frame in vector["frames"]:
        payload = bytes.fromhex(frame["payload_hex"])
        if "payload" in frame:
            assert json.loads(payload.decode("utf-8")) == frame["payload"]


@pytest.mark.parametrize("sequence", SESSION["sequences"], ids=lambda s: s["id"])
def test_session_steps_are_schema_valid(sequence: dict):
    for step in sequence["steps"]:
        schema = _schema(step["from"], step["name"])
        assert schema is not None
        Draft202012Validator(schema).validate(step["payload"])
    verdict = sequence["verdict"]
    if verdict != "legal":
        assert verdict["error"] == "illegal_sequence"
        assert 0 <= verdict["illegal_at"] < len(sequence["steps"])
        assert sequence["eof_ok"] is False
