"""The fast INPUT reply decoders (msgspec; ``from_json`` + ``LazyInputs``) against the eager one.

``from_json`` checks shapes in one C-level pass and builds the typed inputs
on first access; ``from_payload`` checks and builds one value at a time.
For every JSON value both must accept the same payloads, give equal
messages, and reject the same payloads with the same error. When msgspec is
there, ``decode_frame`` first tries a msgspec decoder of the exact reply
shape on the raw bytes: for every byte string it must accept only what the
other paths accept, with equal messages, and leave every error to them.
"""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
import threading
from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from pydisco import jsoncodec
from pydisco.protocol import (
    Frame,
    FrameDecoder,
    LocalProtocolError,
    decode_frame,
    encode_message,
)
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


# --- the msgspec path --------------------------------------------------------------------------


def _msgspec_decode() -> Any:
    decode = m.msgspec_input_decoder()
    assert decode is not None, "msgspec is a dependency: install it to test its path"
    return decode


def frame_outcome(payload: bytes, *, use_msgspec: bool) -> tuple[str, Any]:
    """``decode_frame`` (msgspec first), or the JSON path a node without msgspec takes."""
    if use_msgspec:
        _msgspec_decode()
        with pytest.MonkeyPatch.context() as patch:  # every length: msgspec first
            patch.setattr(m, "MSGSPEC_INPUT_MIN", 0)
            return outcome(lambda data: decode_frame(Frame("INPUT", data), "master"), payload)
    return outcome(lambda data: m.decode_json_frame(Frame("INPUT", data), "master"), payload)


def eager_outcome(payload: bytes) -> tuple[str, Any]:
    """What a decoder with no fast path at all makes of ``payload``."""
    try:
        value = jsoncodec.loads(payload)
    except jsoncodec.JSONError:
        return "error", "invalid JSON"
    return outcome(m.InputReply.from_payload, value)


def assert_same_outcome(payload: bytes) -> tuple[str, Any]:
    """msgspec path, fast path and eager path agree on ``payload``; the msgspec outcome."""
    with_msgspec = frame_outcome(payload, use_msgspec=True)
    without = frame_outcome(payload, use_msgspec=False)
    assert with_msgspec == without
    eager = eager_outcome(payload)
    assert with_msgspec[0] == eager[0]
    if with_msgspec[0] == "ok":
        reply = with_msgspec[1]
        assert reply == eager[1] and list(reply.inputs) == list(eager[1].inputs)
        assert reply.to_payload() == without[1].to_payload() == eager[1].to_payload()
        assert all(type(entry) is m.Input for entry in reply.inputs)
        assert all(type(r) is m.Replica for entry in reply.inputs for r in entry.replicas)
    elif eager[1] != "invalid JSON":
        assert with_msgspec[1] == eager[1]
    return with_msgspec


_JUNK = [
    b"", b" ", b"\t", b"\n", b"\x00", b"\x01", b"\x7f", b"\xff", b"\xc3", b"\xc3\xa9",
    b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xef\xbb\xbf", b"\\", b'"', b",", b"]", b"[",
    b"0", b"01", b"-", b"-0", b"1.0", b"e5", b"E400", b"\\ud800", b"\\udc00", b"\\u00e9",
    b"\\u006f", b"\\/", b"NaN", b"Infinity", b"true", b"null", b"{}", b'"all"', b'"ok"',
]  # fmt: skip


@st.composite
def wire_payloads(draw: st.DrawFn) -> bytes:
    """JSON bytes of an INPUT-like payload, spaced and escaped variously, maybe with a byte edit."""
    value = draw(st.one_of(near_valid_payloads(), json_values))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", ":\t")]))
    text = json.dumps(value, ensure_ascii=draw(st.booleans()), separators=separators)
    data = text.encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(0, 2))):
        position = draw(st.integers(0, len(data)))
        cut = draw(st.integers(0, 2))
        data = data[:position] + draw(st.sampled_from(_JUNK)) + data[position + cut :]
    return data


@settings(max_examples=500)
@given(wire_payloads())
@example(b'["done",[[1,"ok",2,[[0,"u"]]]]]')
@example(b' \t\r\n["more" ,[ [1 , "busy",\n"all",[[0,"\\u00e9\\/"]]]]] \n')
@example(b'["done",[[1.0,"ok",2,[]]]]')
@example(b'["done",[[1e2,"ok",2,[]]]]')
@example(b'["done",[[1,"ok",1E400,[]]]]')
@example(b'["done",[[true,"ok",2,[]]]]')
@example(b'["done",[[1,"ok",false,[]]]]')
@example(b'["done",[[01,"ok",2,[]]]]')  # ujson reads 01 as 1
@example(b'["done",[[1,"ok",-,[]]]]')  # ujson reads a lone - as 0
@example(b'["done",[[1,"ok",2,[[0,"a\x01\tb"]]]]]')  # ujson takes raw control characters
@example(b'["done",[[1,"ok",2,[[0,"\\ud800"]]]]]')  # a lone surrogate: only the stdlib reads it
@example(b'["done",[[1,"ok",2,[[0,"\xed\xa0\x80"]]]]]')
@example(b'["done",[[1,"ok",2,[[0,"\xc0\x80"]]]]]')
@example(b'["done",[[1,"ok",2,[[0,"\xff"]]]]]')
@example(b'\xef\xbb\xbf["done",[]]')
@example(b'["done",[]] x')
@example(b'["done",[]]\x00')
@example(b'["done",[],]')
@example(b'["done",[[1,"\\u006fk",2,[]]]]')
@example(b'["done",[[1,"OK",2,[]]]]')
@example(b'["done",[[1,"ok","All",[]]]]')
@example(b'["done",[[1,"ok",NaN,[]]]]')
@example(b'["done",[[1,"ok",2,[[0,"u",1]]]]]')
@example(b'["done",[[1,"ok",2,[[0]]]]]')
@example(b'["done",[[1,"ok",2]]]')
@example(b'["done",[[1,"ok",2,[],5]]]')
@example(b'["finished",[]]')
@example(b'["done",[],[]]')
@example(b'{"done":[]}')
@example(b'""')
@example(b"")
def test_msgspec_fast_and_eager_paths_agree_on_bytes(payload: bytes) -> None:
    event(assert_same_outcome(payload)[0])


@given(st.booleans(), st.lists(inputs, max_size=6).map(tuple))
def test_msgspec_decodes_every_valid_reply(done: bool, items: Any) -> None:
    payload = jsoncodec.dumps(m.InputReply(done, items).to_payload())
    reply = m._input_reply_via_msgspec(payload, _msgspec_decode())
    assert reply is not None and isinstance(reply.inputs, m.LazyInputs)
    assert reply == m.InputReply(done, items)
    assert_same_outcome(payload)


@pytest.mark.parametrize("digits", [19, 20, 100, 4299, 4300, 4301, 5000])
@pytest.mark.parametrize("sign", ["", "-"])
def test_huge_integers_decode_alike(digits: int, sign: str) -> None:
    number = sign + "9" * digits
    payload = f'["done",[[{number},"ok",{number},[[{number},"u"]]]]]'.encode()
    assert_same_outcome(payload)


@pytest.mark.parametrize("digits", [640, 641, 1000])
def test_a_lower_int_digits_limit_holds_on_every_path(digits: int) -> None:
    payload = b'["done",[[' + b"9" * digits + b',"ok",0,[]]]]'
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        kind, error = assert_same_outcome(payload)
    finally:
        sys.set_int_max_str_digits(limit)
    assert kind == ("ok" if digits == 640 else "error")
    if kind == "error":
        assert error[1].value == "invalid_json"


def test_msgspec_shape_statuses_are_the_input_statuses() -> None:
    for status in m.InputStatus:
        payload = b'["more",[[0,"%s",0,[]]]]' % status.value.encode()
        reply = m._input_reply_via_msgspec(payload, _msgspec_decode())
        assert reply is not None and reply.inputs[0].status is status


def _run(code: str, *blocked: str) -> str:
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    result = subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


_BIG_REPLY = """
from pydisco.protocol import Frame, decode_frame, messages as m
entry = [0, "ok", 0, [[0, "disco://node/" + "x" * 200], [1, "disco://other/" + "y" * 200]]]
import json
big = json.dumps(["done", [[n, *entry[1:]] for n in range(1700)]]).encode()
small = b'["more",[[0,"ok","all",[[0,"dir://h/x"]]]]]'
"""


def test_msgspec_is_imported_with_the_first_long_input_reply() -> None:
    """A task with a few inputs never pays for importing msgspec; a long reply uses it."""
    code = _BIG_REPLY + (
        "import pydisco.worker\n"
        "assert 'msgspec' not in sys.modules\n"
        "reply = decode_frame(Frame('INPUT', small), 'master')\n"
        "assert reply.inputs[0].label == 'all' and 'msgspec' not in sys.modules\n"
        "assert len(big) >= m.MSGSPEC_INPUT_MIN > len(small)\n"
        "reply = decode_frame(Frame('INPUT', big), 'master')\n"
        "assert 'msgspec' in sys.modules and m.msgspec_input_decoder() is not None\n"
        "reply = decode_frame(Frame('INPUT', big), 'master')\n"
        "assert len(reply.inputs) == 1700 and reply.inputs[-1].input_id == 1699\n"
        "print('ok')\n"
    )
    assert _run(code) == "ok"


def test_without_msgspec_replies_decode_as_before() -> None:
    code = _BIG_REPLY + (
        "reply = decode_frame(Frame('INPUT', big), 'master')\n"
        "assert m.msgspec_input_decoder() is None and isinstance(reply.inputs, m.LazyInputs)\n"
        "assert reply == m.InputReply.from_payload(json.loads(big))\n"
        "try:\n"
        "    decode_frame(Frame('INPUT', b'[\"done\",[[1.0,\"ok\",0,[]]]]'), 'master')\n"
        "except m.LocalProtocolError as exc:\n"
        "    print(exc.kind.value)\n"
    )
    assert _run(code, "msgspec") == "invalid_payload"
