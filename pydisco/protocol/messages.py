"""Typed messages: one frozen class per message name and direction.

Every class has ``NAME`` (its wire name), ``SENDER`` (``"worker"`` or
``"master"``), :meth:`to_payload` and :meth:`from_payload`. Both check the
payload's shape exactly as the Disco 0.5.4 master does (facts sheet §2): an
integer is a JSON integer, never a float or a boolean; an object may carry
extra keys where Disco allows them and no others. A bad shape raises
:class:`~pydisco.protocol.errors.LocalProtocolError` of kind
``invalid_payload``; receive boundaries convert it to the remote kind.

Constructors check field types too, so a message that exists is a message
that can be sent; :meth:`from_payload` builds instances through the same
checks and nothing more.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from itertools import chain
from typing import Any, ClassVar, Final, Literal, NamedTuple, TypeAlias, TypeVar, overload

import attrs

from pydisco import jsoncodec
from pydisco.protocol.errors import ErrorKind, LocalProtocolError
from pydisco.protocol.framing import Frame, encode_frame

__all__ = [
    "ALL_LABELS",
    "GROUPINGS",
    "MASTER_MESSAGES",
    "MESSAGES_BY_ROLE",
    "TASK_KEYS",
    "WORKER_MESSAGES",
    "Done",
    "Error",
    "Fail",
    "Fatal",
    "Input",
    "InputErr",
    "InputReply",
    "InputRequest",
    "InputStatus",
    "LazyInputs",
    "MasterMessage",
    "MasterName",
    "Message",
    "Msg",
    "Ok",
    "Output",
    "Ping",
    "Replica",
    "Retry",
    "Role",
    "TaskInfo",
    "TaskReply",
    "TaskRequest",
    "Wait",
    "Worker",
    "WorkerMessage",
    "WorkerName",
    "classify_output",
    "decode_frame",
    "decode_json_frame",
    "encode_message",
    "message_from_payload",
    "msgspec_input_decoder",
]

#: Who sends a message: the two roles of a session.
Role: TypeAlias = Literal["worker", "master"]
#: The names of the messages a worker sends.
WorkerName: TypeAlias = Literal[
    "WORKER", "TASK", "INPUT", "INPUT_ERR", "MSG", "OUTPUT", "DONE", "ERROR", "FATAL", "PING"
]
#: The names of the messages a master sends.
MasterName: TypeAlias = Literal["OK", "TASK", "INPUT", "RETRY", "FAIL", "WAIT"]

#: The label a dir input carries under ``group_node`` and ``group_all``: read every line.
ALL_LABELS: Final = "all"
#: The five groupings, in the order the facts sheet lists them.
GROUPINGS: Final = ("split", "group_label", "group_node", "group_node_label", "group_all")
#: The keys of a TASK reply, in the order Disco's master writes them.
TASK_KEYS: Final = (
    "taskid",
    "master",
    "disco_port",
    "put_port",
    "ddfs_data",
    "disco_data",
    "stage",
    "grouping",
    "group",
    "jobfile",
    "jobname",
    "host",
)

Label: TypeAlias = int | Literal["all"]


def _invalid(name: str, detail: str) -> LocalProtocolError:
    return LocalProtocolError(
        f"Invalid {name} payload: {detail}.", ErrorKind.INVALID_PAYLOAD, name=name
    )


def _int(name: str, what: str, value: object) -> int:
    if type(value) is not int:
        raise _invalid(name, f"{what} must be a JSON integer, got {value!r}")
    return value


def _str(name: str, what: str, value: object) -> str:
    if type(value) is not str:
        raise _invalid(name, f"{what} must be a JSON string, got {value!r}")
    return value


def _list(name: str, what: str, value: object, length: int | None = None) -> list[Any]:
    if type(value) is not list:
        raise _invalid(name, f"{what} must be a JSON array, got {value!r}")
    if length is not None and len(value) != length:
        raise _invalid(name, f"{what} must have {length} elements, got {len(value)}")
    return value


def _int_list(name: str, what: str, value: object) -> tuple[int, ...]:
    items = _list(name, what, value)
    if not all(type(item) is int for item in items):
        raise _invalid(name, f"every element of {what} must be a JSON integer, got {value!r}")
    return tuple(items)


def _label(name: str, value: object) -> Label:
    if type(value) is int or value == ALL_LABELS:
        return value
    raise _invalid(name, f'label must be a JSON integer or "all", got {value!r}')


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_str(value: object) -> bool:
    return type(value) is str


def _all_instances(values: object, cls: type) -> bool:
    return type(values) is tuple and set(map(type, values)) <= {cls}


# --- values carried by messages -------------------------------------------------------------


class _ReplicaFields(NamedTuple):
    replica_id: int
    url: str


class Replica(_ReplicaFields):
    """One copy of an input: its id within the input, and where to read it.

    A tuple, so that a reply with thousands of inputs decodes quickly; the
    constructor checks the types like every message class does.
    """

    __slots__ = ()

    def __new__(cls, replica_id: int, url: str) -> Replica:
        if type(replica_id) is not int:
            raise _invalid("INPUT", f"replica id {replica_id!r} is not an integer")
        if type(url) is not str:
            raise _invalid("INPUT", f"replica url {url!r} is not a string")
        return _new_tuple(cls, (replica_id, url))

    def to_payload(self) -> list[Any]:
        return [self.replica_id, self.url]

    @classmethod
    def from_payload(cls, value: object, name: str = "INPUT") -> Replica:
        item = _list(name, "a replica", value, 2)
        return cls(_int(name, "replica id", item[0]), _str(name, "replica url", item[1]))


_new_tuple: Final = tuple.__new__
_new_replica: Final = partial(tuple.__new__, Replica)


def _replicas(name: str, value: object) -> tuple[Replica, ...]:
    if type(value) is list and _replica_shapes_ok(value):
        return tuple(map(_new_replica, value))
    return tuple([Replica.from_payload(item, name) for item in _list(name, "replicas", value)])


def _replica_shapes_ok(items: list[Any]) -> bool:
    for item in items:
        if type(item) is not list or len(item) != 2:
            return False
        if type(item[0]) is not int or type(item[1]) is not str:
            return False
    return True


class InputStatus(str, enum.Enum):
    """The status of an input in an INPUT reply (Disco 0.5.4 only ever sends ``ok``)."""

    OK = "ok"
    BUSY = "busy"
    FAILED = "failed"


_STATUSES: Final[Mapping[str, InputStatus]] = {status.value: status for status in InputStatus}


class _InputFields(NamedTuple):
    input_id: int
    status: InputStatus
    label: Label
    replicas: tuple[Replica, ...]


class Input(_InputFields):
    """One input of a task, as an INPUT reply lists it (a tuple, like :class:`Replica`)."""

    __slots__ = ()

    def __new__(
        cls, input_id: int, status: InputStatus, label: Label, replicas: tuple[Replica, ...]
    ) -> Input:
        if type(input_id) is not int:
            raise _invalid("INPUT", f"input id {input_id!r} is not an integer")
        if not isinstance(status, InputStatus):
            raise _invalid("INPUT", f"status {status!r} is not an InputStatus")
        if type(label) is not int and label != ALL_LABELS:
            raise _invalid("INPUT", f'label {label!r} is neither an integer nor "all"')
        if not _all_instances(replicas, Replica):
            raise _invalid("INPUT", f"replicas {replicas!r} must be a tuple of Replica")
        return _new_tuple(cls, (input_id, status, label, replicas))

    def to_payload(self) -> list[Any]:
        return [
            self.input_id,
            self.status.value,
            self.label,
            [replica.to_payload() for replica in self.replicas],
        ]

    @classmethod
    def from_payload(cls, value: object) -> Input:
        if type(value) is list and len(value) == 4:
            input_id, status, label, replicas = value
            parsed_status = _STATUSES.get(status) if type(status) is str else None
            if (
                type(input_id) is int
                and parsed_status is not None
                and (type(label) is int or label == ALL_LABELS)
                and type(replicas) is list
                and _replica_shapes_ok(replicas)
            ):
                return _new_tuple(
                    cls, (input_id, parsed_status, label, tuple(map(_new_replica, replicas)))
                )
        return cls._from_payload_slowly(value)

    @classmethod
    def _from_payload_slowly(cls, value: object) -> Input:
        """Like :meth:`from_payload`, one check at a time, to say exactly what is wrong."""
        item = _list("INPUT", "an input entry", value, 4)
        status = _str("INPUT", "input status", item[1])
        if status not in _STATUSES:
            raise _invalid(
                "INPUT", f'input status must be "ok", "busy" or "failed", got {status!r}'
            )
        return cls(
            _int("INPUT", "input id", item[0]),
            _STATUSES[status],
            _label("INPUT", item[2]),
            _replicas("INPUT", item[3]),
        )


_TASK_INTS: Final = ("taskid", "disco_port", "put_port")
_TASK_STRS: Final = (
    "master",
    "ddfs_data",
    "disco_data",
    "stage",
    "grouping",
    "jobfile",
    "jobname",
    "host",
)


@attrs.frozen(slots=True)
class TaskInfo:
    """What the master tells a worker about its task: exactly the 12 keys of a TASK reply."""

    taskid: int
    master: str
    disco_port: int
    put_port: int
    ddfs_data: str
    disco_data: str
    stage: str
    grouping: str
    group: tuple[int, str]
    jobfile: str
    jobname: str
    host: str

    def __attrs_post_init__(self) -> None:
        for key in _TASK_INTS:
            value = getattr(self, key)
            if type(value) is not int:
                raise _invalid("TASK", f"{key} must be a JSON integer, got {value!r}")
        for key in _TASK_STRS:
            value = getattr(self, key)
            if type(value) is not str:
                raise _invalid("TASK", f"{key} must be a JSON string, got {value!r}")
        if self.grouping not in GROUPINGS:
            raise _invalid(
                "TASK", f"grouping must be one of {', '.join(GROUPINGS)}, got {self.grouping!r}"
            )
        group = self.group
        if not (
            type(group) is tuple and len(group) == 2 and _is_int(group[0]) and _is_str(group[1])
        ):
            raise _invalid("TASK", f"group must be [integer label, string host], got {group!r}")

    @property
    def group_label(self) -> int:
        """The label of the task's group."""
        return self.group[0]

    @property
    def group_host(self) -> str:
        """The host of the task's group (``""`` when the grouping assigns none)."""
        return self.group[1]

    def to_payload(self) -> dict[str, Any]:
        payload = {key: getattr(self, key) for key in TASK_KEYS}
        payload["group"] = list(self.group)
        return payload

    @classmethod
    def from_payload(cls, value: object) -> TaskInfo:
        if type(value) is not dict:
            raise _invalid("TASK", f"the task must be a JSON object, got {value!r}")
        missing = [key for key in TASK_KEYS if key not in value]
        if missing:
            raise _invalid("TASK", f"missing key(s) {', '.join(missing)}")
        extra = sorted(set(value) - set(TASK_KEYS))
        if extra:
            raise _invalid(
                "TASK", f"unexpected key(s) {', '.join(extra)}; Disco's Python worker fails on them"
            )
        group = _list("TASK", "group", value["group"], 2)
        return cls(**{**value, "group": tuple(group)})


# --- messages sent by the worker -------------------------------------------------------------


_T = TypeVar("_T", bound="_TextMessage")


@attrs.frozen(slots=True)
class _TextMessage:
    """Base of the messages whose payload is one JSON string.

    Subclasses that add nothing but ``NAME`` and ``SENDER`` are plain
    subclasses with empty ``__slots__``: they inherit the attrs-made
    ``__init__``, ``__eq__`` (which compares classes too), ``__repr__`` (which
    prints the subclass's name) and frozenness, and stay slotted attrs classes
    (``attrs.has`` is true), without paying for generating those methods again
    at import, which the worker's start-up would.
    """

    NAME: ClassVar[str]
    SENDER: ClassVar[Role]

    text: str = attrs.field(default="")

    def __attrs_post_init__(self) -> None:
        if type(self.text) is not str:
            raise _invalid(self.NAME, f"the payload must be a JSON string, got {self.text!r}")

    def to_payload(self) -> str:
        return self.text

    @classmethod
    def from_payload(cls: type[_T], value: object) -> _T:
        return cls(_str(cls.NAME, "the payload", value))


@attrs.frozen(slots=True)
class Worker:
    """WORKER: the first message, announcing the protocol version and the worker's pid.

    Extra keys are allowed in the payload (Disco ignores them). The version is
    not checked here: the master records the pid first, then checks it.
    """

    NAME: ClassVar[Literal["WORKER"]] = "WORKER"
    SENDER: ClassVar[Literal["worker"]] = "worker"

    version: str
    pid: int

    def __attrs_post_init__(self) -> None:
        if type(self.version) is not str:
            raise _invalid("WORKER", f"version {self.version!r} is not a string")
        if type(self.pid) is not int:
            raise _invalid("WORKER", f"pid {self.pid!r} is not an integer")

    def to_payload(self) -> dict[str, Any]:
        return {"version": self.version, "pid": self.pid}

    @classmethod
    def from_payload(cls, value: object) -> Worker:
        if type(value) is not dict:
            raise _invalid("WORKER", f"the payload must be a JSON object, got {value!r}")
        for key in ("version", "pid"):
            if key not in value:
                raise _invalid("WORKER", f"missing key {key!r}")
        return cls(_str("WORKER", "version", value["version"]), _int("WORKER", "pid", value["pid"]))


class TaskRequest(_TextMessage):
    """TASK from the worker: ask for the task description (payload ``""``)."""

    NAME: ClassVar[Literal["TASK"]] = "TASK"
    SENDER: ClassVar[Literal["worker"]] = "worker"
    __slots__ = ()


_INPUT_MODES: Final = ("all", "include", "exclude")


@attrs.frozen(slots=True)
class InputRequest:
    """INPUT from the worker: all inputs (``""``), or only ``include`` / all but ``exclude`` ids."""

    NAME: ClassVar[Literal["INPUT"]] = "INPUT"
    SENDER: ClassVar[Literal["worker"]] = "worker"

    mode: Literal["all", "include", "exclude"] = "all"
    ids: tuple[int, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.mode not in _INPUT_MODES:
            raise _invalid("INPUT", f"mode {self.mode!r} is unknown")
        if not _all_instances(self.ids, int):
            raise _invalid("INPUT", f"ids {self.ids!r} are not integers")
        if not (self.mode != "all" or not self.ids):
            raise _invalid(
                "INPUT", 'a request for all inputs carries no ids; use "include" or "exclude"'
            )

    def to_payload(self) -> str | list[Any]:
        return "" if self.mode == "all" else [self.mode, list(self.ids)]

    @classmethod
    def from_payload(cls, value: object) -> InputRequest:
        if value == "":
            return cls()
        if type(value) is str:
            raise _invalid("INPUT", f'a string payload must be "", got {value!r}')
        item = _list("INPUT", "the payload", value, 2)
        mode = item[0]
        if mode == "include":
            return cls("include", _int_list("INPUT", "the ids", item[1]))
        if mode == "exclude":
            return cls("exclude", _int_list("INPUT", "the ids", item[1]))
        raise _invalid("INPUT", f'the first element must be "include" or "exclude", got {mode!r}')


@attrs.frozen(slots=True)
class InputErr:
    """INPUT_ERR: every listed replica of input ``input_id`` failed; ask for others."""

    NAME: ClassVar[Literal["INPUT_ERR"]] = "INPUT_ERR"
    SENDER: ClassVar[Literal["worker"]] = "worker"

    input_id: int
    replica_ids: tuple[int, ...]

    def __attrs_post_init__(self) -> None:
        if type(self.input_id) is not int:
            raise _invalid("INPUT_ERR", f"input id {self.input_id!r} is not an integer")
        if not _all_instances(self.replica_ids, int):
            raise _invalid("INPUT_ERR", f"replica ids {self.replica_ids!r} are not integers")

    def to_payload(self) -> list[Any]:
        return [self.input_id, list(self.replica_ids)]

    @classmethod
    def from_payload(cls, value: object) -> InputErr:
        item = _list("INPUT_ERR", "the payload", value, 2)
        return cls(
            _int("INPUT_ERR", "input id", item[0]), _int_list("INPUT_ERR", "replica ids", item[1])
        )


_URL_SCHEME: Final = re.compile(r"[A-Za-z0-9+.\-]+:")


def classify_output(location: str) -> Literal["local", "remote", "invalid"]:
    """What an OUTPUT location is to the master, by mochiweb's URL split (facts §5.1).

    ``"remote"`` when it starts with a scheme (``x:``) or ``//``, ``"invalid"``
    for another absolute path, else ``"local"`` (a path in the job home).
    """
    if _URL_SCHEME.match(location) is not None or location.startswith("//"):
        return "remote"
    if location.startswith("/"):
        return "invalid"
    return "local"


@attrs.frozen(slots=True)
class Output:
    """OUTPUT: a result of the task, a path relative to the job home or a URL, with its label."""

    NAME: ClassVar[Literal["OUTPUT"]] = "OUTPUT"
    SENDER: ClassVar[Literal["worker"]] = "worker"

    label: int
    location: str
    size: int

    def __attrs_post_init__(self) -> None:
        if type(self.label) is not int:
            raise _invalid("OUTPUT", f"label {self.label!r} is not an integer")
        if type(self.location) is not str:
            raise _invalid("OUTPUT", f"location {self.location!r} is not a string")
        if type(self.size) is not int:
            raise _invalid("OUTPUT", f"size {self.size!r} is not an integer")

    def to_payload(self) -> list[Any]:
        return [self.label, self.location, self.size]

    @classmethod
    def from_payload(cls, value: object) -> Output:
        item = _list("OUTPUT", "the payload", value, 3)
        return cls(
            _int("OUTPUT", "label", item[0]),
            _str("OUTPUT", "location", item[1]),
            _int("OUTPUT", "size", item[2]),
        )


class Msg(_TextMessage):
    """MSG: a line of text for the job's events; answered with OK."""

    NAME: ClassVar[Literal["MSG"]] = "MSG"
    SENDER: ClassVar[Literal["worker"]] = "worker"
    __slots__ = ()


class Done(_TextMessage):
    """DONE: the task finished; Disco 0.5.4 sends no reply and kills the worker."""

    NAME: ClassVar[Literal["DONE"]] = "DONE"
    SENDER: ClassVar[Literal["worker"]] = "worker"
    __slots__ = ()


class Error(_TextMessage):
    """ERROR: the task failed and may be retried; no reply follows."""

    NAME: ClassVar[Literal["ERROR"]] = "ERROR"
    SENDER: ClassVar[Literal["worker"]] = "worker"
    __slots__ = ()


class Fatal(_TextMessage):
    """FATAL: the task failed and the whole job must stop; no reply follows."""

    NAME: ClassVar[Literal["FATAL"]] = "FATAL"
    SENDER: ClassVar[Literal["worker"]] = "worker"
    __slots__ = ()


class Ping(_TextMessage):
    """PING: a no-op. Fatal on Disco 0.5.4 (unknown message); lenient masters reply OK."""

    NAME: ClassVar[Literal["PING"]] = "PING"
    SENDER: ClassVar[Literal["worker"]] = "worker"
    __slots__ = ()


# --- messages sent by the master -------------------------------------------------------------


@attrs.frozen(slots=True)
class Ok(_TextMessage):
    """OK: acknowledges WORKER, MSG and OUTPUT (and PING, with ``"pong"``)."""

    NAME: ClassVar[Literal["OK"]] = "OK"
    SENDER: ClassVar[Literal["master"]] = "master"

    text: str = "ok"


class Fail(_TextMessage):
    """FAIL: no replica of the input is left to try."""

    NAME: ClassVar[Literal["FAIL"]] = "FAIL"
    SENDER: ClassVar[Literal["master"]] = "master"
    __slots__ = ()


@attrs.frozen(slots=True)
class TaskReply:
    """TASK from the master: the task description."""

    NAME: ClassVar[Literal["TASK"]] = "TASK"
    SENDER: ClassVar[Literal["master"]] = "master"

    task: TaskInfo

    def to_payload(self) -> dict[str, Any]:
        return self.task.to_payload()

    @classmethod
    def from_payload(cls, value: object) -> TaskReply:
        return cls(TaskInfo.from_payload(value))


class LazyInputs(Sequence[Input]):
    """The inputs of a decoded INPUT reply: validated already, built on first access.

    :meth:`InputReply.from_json` checks every shape rule over the raw JSON
    lists in one pass of C-level operations and keeps the lists; the typed
    :class:`Input` and :class:`Replica` values are made when the sequence is
    first read, once. It compares, hashes and prints like the tuple of those
    values, so a decoded reply equals one built from a tuple.
    """

    __slots__ = ("_entries", "_items")

    _entries: Sequence[Sequence[Any]] | None
    _items: tuple[Input, ...] | None

    def __init__(self, items: Sequence[Input] = ()) -> None:
        items = tuple(items)
        if not _all_instances(items, Input):
            raise _invalid("INPUT", "inputs must be Input values")
        self._entries = None
        self._items = items

    @classmethod
    def _trusted(cls, entries: Sequence[Sequence[Any]]) -> LazyInputs:
        """Wrap ``entries``, accepted by :func:`_json_inputs_ok` or msgspec, held by nobody else.

        Rows and replicas are lists from a JSON decoder, or tuples from msgspec.
        """
        lazy = object.__new__(cls)
        lazy._entries = entries
        lazy._items = None
        return lazy

    def _built(self) -> tuple[Input, ...]:
        items = self._items
        if items is None:
            entries = self._entries
            if entries is None:  # another thread has just built them (items first)
                built = self._items
                assert built is not None
                return built
            items = self._items = tuple(
                [
                    _new_tuple(
                        Input,
                        (input_id, _STATUSES[status], label, tuple(map(_new_replica, replicas))),
                    )
                    for input_id, status, label, replicas in entries
                ]
            )
            self._entries = None
        return items

    def __len__(self) -> int:
        entries = self._entries
        return len(entries) if entries is not None else len(self._built())

    @overload
    def __getitem__(self, index: int) -> Input: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Input, ...]: ...

    def __getitem__(self, index: int | slice) -> Input | tuple[Input, ...]:
        return self._built()[index]

    def __iter__(self) -> Iterator[Input]:
        return iter(self._built())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyInputs):
            return self._built() == other._built()
        if isinstance(other, tuple):
            return self._built() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._built())

    def __repr__(self) -> str:
        return repr(self._built())

    def __reduce__(self) -> tuple[Any, ...]:
        return (LazyInputs, (self._built(),))


_INT: Final = frozenset({int})
_LIST: Final = frozenset({list})
_INT_OR_STR: Final = frozenset({int, str})
_STATUS_TEXTS: Final = frozenset(_STATUSES)
_flatten: Final = chain.from_iterable
_FLAGS: Final = ("done", "more")


def _json_inputs_ok(entries: list[Any]) -> bool:
    """Whether every entry of a JSON-decoded inputs list is ``[int, status, label, replicas]``.

    Only for values straight from a JSON decoder (lists, dicts, strs, ints,
    floats, bools, None). Every pass is C-level: ``zip(*rows, strict=True)``
    unpacked into n columns proves that every row has exactly n elements,
    and there a row can only be a list once its columns have the right types
    (a string's columns are strings, an object's are its string keys).
    False sends the caller to the one-check-at-a-time path for the exact error.
    """
    if not entries:
        return True
    try:
        ids, statuses, labels, replica_lists = zip(*entries, strict=True)
        if set(map(type, ids)) != _INT or not set(statuses) <= _STATUS_TEXTS:
            return False
        label_types = set(map(type, labels))
        if label_types != _INT:
            if not label_types <= _INT_OR_STR:
                return False
            texts = set(labels)
            texts.discard(ALL_LABELS)
            if not set(map(type, texts)) <= _INT:
                return False
        if set(map(type, replica_lists)) != _LIST:
            return False
        replicas = list(_flatten(replica_lists))
        if replicas:
            replica_ids, urls = zip(*replicas, strict=True)
            if set(map(type, replica_ids)) != _INT:
                return False
            "".join(urls)  # a TypeError unless every url is a str
    except (TypeError, ValueError):  # not iterable, unhashable, rows of other lengths
        return False
    return True


@attrs.frozen(slots=True)
class InputReply:
    """INPUT from the master: some of the task's inputs, and whether the set is complete.

    ``inputs`` is a tuple of :class:`Input` when built directly, and a
    :class:`LazyInputs` (equal to that tuple) when decoded from a frame.
    """

    NAME: ClassVar[Literal["INPUT"]] = "INPUT"
    SENDER: ClassVar[Literal["master"]] = "master"

    done: bool
    inputs: Sequence[Input]

    def __attrs_post_init__(self) -> None:
        if type(self.done) is not bool:
            raise _invalid("INPUT", f"done {self.done!r} is not a boolean")
        if type(self.inputs) is not LazyInputs and not _all_instances(self.inputs, Input):
            raise _invalid("INPUT", "inputs must be a tuple of Input")

    def to_payload(self) -> list[Any]:
        return ["done" if self.done else "more", [entry.to_payload() for entry in self.inputs]]

    @classmethod
    def from_payload(cls, value: object) -> InputReply:
        """The reply with ``value`` as payload, checked and built eagerly (any Python value)."""
        item = _list("INPUT", "the payload", value, 2)
        if item[0] not in ("done", "more"):
            raise _invalid("INPUT", f'the flag must be "done" or "more", got {item[0]!r}')
        entries = _list("INPUT", "the inputs", item[1])
        return cls(item[0] == "done", tuple(map(Input.from_payload, entries)))

    @classmethod
    def from_json(cls, value: object) -> InputReply:
        """Like :meth:`from_payload`, for a value fresh from a JSON decoder (which it keeps).

        Accepts and rejects exactly what :meth:`from_payload` does, with the
        same errors, but checks in one fast pass and builds the inputs lazily
        (:class:`LazyInputs`).
        """
        if type(value) is list and len(value) == 2:
            flag, entries = value
            if flag in _FLAGS and type(entries) is list and _json_inputs_ok(entries):
                return cls(flag == "done", LazyInputs._trusted(entries))
        return cls.from_payload(value)


_InputDecode: TypeAlias = Callable[[bytes], tuple[str, list[Any]]]

#: INPUT replies at least this long are decoded by msgspec (when it is there). Importing
#: msgspec costs a worker more CPU than the JSON path spends on a reply of a few thousand
#: inputs, so a task with a handful of inputs never imports it for its INPUT reply.
MSGSPEC_INPUT_MIN: Final = 64 * 1024


@functools.cache
def msgspec_input_decoder() -> _InputDecode | None:
    """msgspec's decoder for the INPUT reply shape, made on first use; None without msgspec.

    msgspec is a dependency of pydisco; only the worker runtime shipped in a
    job home (pure Python) may run where it is missing.
    """
    try:
        import msgspec
    except ImportError:
        return None
    shape = tuple[
        Literal["done", "more"],
        list[tuple[int, Literal["ok", "busy", "failed"], Label, list[tuple[int, str]]]],
    ]
    decode: _InputDecode = msgspec.json.Decoder(shape).decode
    return decode


def _input_reply_via_msgspec(payload: bytes, decode: _InputDecode) -> InputReply | None:
    """The INPUT reply in ``payload`` if msgspec parses and checks it in one C pass, else None.

    msgspec (strict: no bools or floats as integers, fixed tuple lengths, the
    literal flags, statuses and ``"all"``, strict JSON with UTF-8 checked, no
    lone surrogates, integers within ``sys.get_int_max_str_digits()`` and
    4300 characters) accepts a subset of what ``jsoncodec`` + :meth:`InputReply.from_json`
    accept, with equal values; ``tests/protocol/test_lazy_inputs.py`` checks
    that. Everything else, including every invalid payload, returns None and
    goes the JSON way, so errors are the same word for word.
    """
    try:
        flag, entries = decode(payload)
    except ValueError:  # msgspec's DecodeError and ValidationError
        return None
    return InputReply(flag == "done", LazyInputs._trusted(entries))


@attrs.frozen(slots=True)
class Retry:
    """RETRY: replicas of the input to try next, failed-recently ones last."""

    NAME: ClassVar[Literal["RETRY"]] = "RETRY"
    SENDER: ClassVar[Literal["master"]] = "master"

    replicas: tuple[Replica, ...]

    def __attrs_post_init__(self) -> None:
        if not _all_instances(self.replicas, Replica):
            raise _invalid("RETRY", "replicas must be Replica values")

    def to_payload(self) -> list[Any]:
        return [replica.to_payload() for replica in self.replicas]

    @classmethod
    def from_payload(cls, value: object) -> Retry:
        return cls(_replicas("RETRY", value))


@attrs.frozen(slots=True)
class Wait:
    """WAIT: try the input again after ``seconds`` (documented; Disco 0.5.4 never sends it)."""

    NAME: ClassVar[Literal["WAIT"]] = "WAIT"
    SENDER: ClassVar[Literal["master"]] = "master"

    seconds: int

    def __attrs_post_init__(self) -> None:
        if not (_is_int(self.seconds) and self.seconds >= 0):
            raise _invalid("WAIT", f"seconds must be a non-negative integer, got {self.seconds!r}")

    def to_payload(self) -> int:
        return self.seconds

    @classmethod
    def from_payload(cls, value: object) -> Wait:
        return cls(_int("WAIT", "the payload", value))


WorkerMessage: TypeAlias = (
    Worker | TaskRequest | InputRequest | InputErr | Msg | Output | Done | Error | Fatal | Ping
)
MasterMessage: TypeAlias = Ok | TaskReply | InputReply | Retry | Fail | Wait
Message: TypeAlias = WorkerMessage | MasterMessage

_WORKER_CLASSES: Final[tuple[type[WorkerMessage], ...]] = (
    Worker,
    TaskRequest,
    InputRequest,
    InputErr,
    Msg,
    Output,
    Done,
    Error,
    Fatal,
    Ping,
)
_MASTER_CLASSES: Final[tuple[type[MasterMessage], ...]] = (
    Ok,
    TaskReply,
    InputReply,
    Retry,
    Fail,
    Wait,
)
#: The classes of the messages a worker sends, by name.
WORKER_MESSAGES: Final[Mapping[str, type[WorkerMessage]]] = {
    cls.NAME: cls for cls in _WORKER_CLASSES
}
#: The classes of the messages a master sends, by name.
MASTER_MESSAGES: Final[Mapping[str, type[MasterMessage]]] = {
    cls.NAME: cls for cls in _MASTER_CLASSES
}
#: Both tables, keyed by the role that sends the messages.
MESSAGES_BY_ROLE: Final[Mapping[Role, Mapping[str, type[Message]]]] = {
    "worker": WORKER_MESSAGES,
    "master": MASTER_MESSAGES,
}


def encode_message(message: Message) -> bytes:
    """The wire bytes of ``message``: its name and compact ASCII JSON payload."""
    return encode_frame(message.NAME, jsoncodec.dumps(message.to_payload()))


def _message_class(name: str, sender: Role, payload: bytes = b"") -> type[Message]:
    cls = MESSAGES_BY_ROLE[sender].get(name)
    if cls is None:
        raise LocalProtocolError(
            f"{name!r} is not a message a {sender} sends.",
            ErrorKind.UNKNOWN_MESSAGE,
            name=name,
            context=payload,
        )
    return cls


@overload
def decode_frame(frame: Frame, sender: Literal["worker"]) -> WorkerMessage: ...


@overload
def decode_frame(frame: Frame, sender: Literal["master"]) -> MasterMessage: ...


@overload
def decode_frame(frame: Frame, sender: Role) -> Message: ...


def decode_frame(frame: Frame, sender: Role) -> Message:
    """The typed message in ``frame``, as sent by ``sender`` (``"worker"`` or ``"master"``).

    Checks in Disco's order: the payload must be JSON, the name must be a
    message that ``sender`` may send, and the payload must have its shape.
    Raises :class:`LocalProtocolError` (kinds ``invalid_json``,
    ``unknown_message``, ``invalid_payload``); sessions convert it.

    An INPUT reply of :data:`MSGSPEC_INPUT_MIN` bytes or more is decoded by
    msgspec in one pass when msgspec is there (:func:`msgspec_input_decoder`);
    whatever msgspec refuses, every shorter frame and every frame on a node
    without msgspec go through :func:`decode_json_frame` (the same messages).
    """
    if frame.name == "INPUT" and sender == "master" and len(frame.payload) >= MSGSPEC_INPUT_MIN:
        decode = msgspec_input_decoder()
        if decode is not None:
            reply = _input_reply_via_msgspec(frame.payload, decode)
            if reply is not None:
                return reply
    return decode_json_frame(frame, sender)


def decode_json_frame(frame: Frame, sender: Role) -> Message:
    """:func:`decode_frame` through :mod:`~pydisco.jsoncodec` alone (no msgspec)."""
    try:
        value = jsoncodec.loads(frame.payload)
    except jsoncodec.JSONError as exc:
        raise LocalProtocolError(
            f"The payload of {frame.name!r} is not valid JSON ({exc}).",
            ErrorKind.INVALID_JSON,
            name=frame.name,
            context=frame.payload,
        ) from None
    cls = _message_class(frame.name, sender, frame.payload)
    if cls is InputReply:
        return InputReply.from_json(value)
    return cls.from_payload(value)


@overload
def message_from_payload(name: str, sender: Literal["worker"], value: object) -> WorkerMessage: ...


@overload
def message_from_payload(name: str, sender: Literal["master"], value: object) -> MasterMessage: ...


@overload
def message_from_payload(name: str, sender: Role, value: object) -> Message: ...


def message_from_payload(name: str, sender: Role, value: object) -> Message:
    """The typed message ``name`` sent by ``sender`` with the decoded payload ``value``."""
    return _message_class(name, sender).from_payload(value)
