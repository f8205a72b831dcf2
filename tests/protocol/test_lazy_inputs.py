"""The fast INPUT reply decoder (``InputReply.from_json`` + ``LazyInputs``) against the eager one.

``from_json`` checks shapes in one C-level pass and builds the typed inputs
on first access; ``from_payload`` checks and builds one value at a time.
For every JSON value both must accept the same payloads, give equal
messages, and reject the same payloads with the same error.
"""

from __future__ import annotations

import copy
import json
import pickle
import sys
import threading
from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from pydisco.protocol import FrameDecoder, LocalProtocolError, decode_frame, encode_message
from pydisco.protocol import messages as m

from .strategies import inputs

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["ok", "busy", "failed", "all", "done", "more", "ALL", ""]),
    st.text(max_size=5),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=4), children, max_size=4),
    ),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """Every position inside nested lists, as index paths."""
    found = [prefix]
    if isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def near_valid_payloads(draw: st.DrawFn) -> Any:
    """A valid INPUT payload, often with one element replaced by an arbitrary JSON value."""
    reply = m.InputReply(draw(st.booleans()), tuple(draw(st.lists(inputs, max_size=5))))
    payload = reply.to_payload()
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(_paths(payload)[1:]))
        parent = payload
        for index in path[:-1]:
            parent = parent[index]
        parent[path[-1]] = draw(json_values)
    return payload


def outcome(decode: Any, payload: Any) -> tuple[str, Any]:
    try:
        return "ok", decode(payload)
    except LocalProtocolError as exc:
        return "error", (str(exc), exc.kind)


def round_trip_json(value: Any) -> Any:
    """``value`` as a JSON decoder would hand it over (fresh lists, exact types)."""
    return json.loads(json.dumps(value))


@settings(max_examples=300)
@given(st.one_of(near_valid_payloads(), json_values))
@example(["done", [[0, "ok", 0, ""]]])  # a string or object where replicas belong ...
@example(["done", [[0, "ok", 0, {}]]])  # ... chains into nothing
@example(["done", [[0, "ok", 0, [[0, "a", 1], ["b"]]]]])  # lengths 3 and 1 chain like 2 and 2
@example(["done", [[0, "ok", 0, [[True, "a"]]]]])
@example(["done", [[0, "ok", 0, [[0, "a"]]], [1, "ok", 0, [[0, "a"]]], "abcd"]])
@example(["done", [[True, "ok", 0, []]]])
@example(["done", [[0, "ok", True, []]]])
@example(["done", [[0, "ok", 1.0, []]]])
@example(["done", [[0, "ok", "all", []], [1, "ok", "x", []]]])
@example(["done", [[0, ["ok"], 0, []]]])
@example(["done", [[0, "ok", 0, [[0, "a"], [1, 2]]]]])
@example(["done", [{"a": 1, "b": 2, "c": 3, "d": 4}]])
@example(["more", [[]]])
def test_fast_and_eager_paths_agree(payload: Any) -> None:
    payload = round_trip_json(payload)
    eager = outcome(m.InputReply.from_payload, copy.deepcopy(payload))
    fast = outcome(m.InputReply.from_json, payload)
    event(fast[0])
    assert fast == eager
    if fast[0] == "ok":
        assert list(fast[1].inputs) == list(eager[1].inputs)
        assert fast[1].to_payload() == eager[1].to_payload()


@given(st.booleans(), st.lists(inputs, max_size=6).map(tuple))
def test_valid_replies_decode_lazily_and_equal_the_original(done: bool, items: Any) -> None:
    original = m.InputReply(done, items)
    decoder = FrameDecoder()
    decoder.receive_data(encode_message(original))
    decoded = decode_frame(next(decoder), "master")
    assert isinstance(decoded.inputs, m.LazyInputs)
    assert len(decoded.inputs) == len(items)  # known before anything is built
    assert decoded == original and original == decoded
    assert hash(decoded) == hash(original)
    assert repr(decoded) == repr(original)
    assert decoded.to_payload() == original.to_payload()
    assert tuple(decoded.inputs) == items
    assert all(type(entry) is m.Input for entry in decoded.inputs)
    assert all(type(r) is m.Replica for entry in decoded.inputs for r in entry.replicas)


def test_lazy_inputs_sequence_behaviour() -> None:
    reply = m.InputReply.from_json(
        ["more", [[3, "ok", "all", [[0, "dir://h/x"]]], [4, "busy", 2, []]]]
    )
    lazy = reply.inputs
    assert isinstance(lazy, m.LazyInputs)
    assert lazy[0] == m.Input(3, m.InputStatus.OK, "all", (m.Replica(0, "dir://h/x"),))
    assert lazy[-1].status is m.InputStatus.BUSY
    assert lazy[0] is lazy[0]  # built once, then cached
    assert lazy[0:1] == (lazy[0],)
    assert [entry.input_id for entry in lazy] == [3, 4]
    assert lazy != [lazy[0], lazy[1]]  # a tuple's equality: lists are not equal
    assert m.LazyInputs(tuple(lazy)) == lazy
    assert pickle.loads(pickle.dumps(reply)) == reply
    with pytest.raises(LocalProtocolError):
        m.LazyInputs([("not", "an", "input")])  # type: ignore[list-item]


def test_decode_frame_errors_are_those_of_the_eager_path() -> None:
    payload = ["done", [[0, "ok", 0, [[0, "u"], [1, 2]]]]]
    with pytest.raises(LocalProtocolError) as eager:
        m.InputReply.from_payload(copy.deepcopy(payload))
    decoder = FrameDecoder()
    decoder.receive_data(
        b"INPUT %d %s\n" % (len(json.dumps(payload)), json.dumps(payload).encode())
    )
    with pytest.raises(LocalProtocolError) as fast:
        decode_frame(next(decoder), "master")
    assert str(fast.value) == str(eager.value)
    assert "replica url must be a JSON string, got 2" in str(fast.value)


def _read_after(barrier: threading.Barrier, reply: m.InputReply, seen: list[Any]) -> None:
    barrier.wait()
    seen.append(tuple(reply.inputs))


def test_threads_reading_one_lazy_reply_all_see_the_same_inputs() -> None:
    payload = ["done", [[n, "ok", n % 3, [[0, f"raw://{n}"], [1, "x"]]] for n in range(300)]]
    expected = m.InputReply.from_payload(copy.deepcopy(payload)).inputs
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        _read_in_threads(payload, expected)
    finally:
        sys.setswitchinterval(interval)


def _read_in_threads(payload: Any, expected: Any) -> None:
    for _ in range(20):
        reply = m.InputReply.from_json(copy.deepcopy(payload))
        barrier = threading.Barrier(8)
        seen: list[Any] = []
        threads = [
            threading.Thread(target=_read_after, args=(barrier, reply, seen)) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert seen == [expected] * 8
