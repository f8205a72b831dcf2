"""The scenarios: what the kit's master offers the worker, and what it expects back.

Every scenario builds a fresh job home under a temporary ``disco_data``
(``<disco_data>/<host>/<hexhash>/<jobname>/``, with a real minimal job pack as
``jobfile``) and describes the task: its stage and grouping, its inputs (each
with the rule under which reading it is judged and the lines it must yield),
when further inputs arrive, and how the master ends the session.

What the kit assumes about the worker under test (the *reference
behaviour*, documented in ``protocol-spec/conformance.md``): it copies the
data of every input it is given into local outputs (any number of outputs,
any labels; Disco's convention is the input's label, or 0 for ``"all"``),
and it may send MSGs. Every line of every input is unique within a
scenario, so the kit can tell which input a line of output came from.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal

import attrs

from pydisco.conformance.httpserver import DataServer
from pydisco.conformance.rules import BOTH
from pydisco.protocol.messages import TaskInfo
from pydisco.protocol.session import Profile
from pydisco.resultsindex import format_index_line

__all__ = ["SCENARIOS", "SCENARIOS_BY_NAME", "KitInput", "Plan", "Scenario", "Setup"]

HOST: Final = "localhost"
#: Seconds between two batches of inputs in the "more" scenario.
BATCH_DELAY: Final = 0.2

Label = int | Literal["all"]


@attrs.frozen(slots=True)
class KitInput:
    """One input of the task, as the kit's master holds it."""

    input_id: int
    label: Label
    urls: tuple[str, ...]
    #: The lines (without newline) the worker's outputs must contain.
    lines: tuple[bytes, ...]
    #: The rule under which reading this input is judged.
    rule: str
    #: Lines that must not appear in the outputs, and the rule that forbids them.
    forbidden: tuple[bytes, ...] = ()
    forbidden_rule: str = ""
    #: Replica ids known to fail.
    bad_replicas: frozenset[int] = frozenset()
    #: The batch that brings the input (0: there from the start).
    batch: int = 0


@attrs.frozen(slots=True)
class Plan:
    """What the master does in one scenario."""

    inputs: tuple[KitInput, ...]
    stage: str = "map"
    grouping: str = "split"
    group: tuple[int, str] = (0, HOST)
    #: How the task should end: DONE (success) or ERROR (the input cannot be read).
    expect: Literal["DONE", "ERROR", "EXIT"] = "DONE"
    #: Whether the master answers DONE/ERROR/FATAL with OK (a lenient master).
    closing_ok: bool = False
    #: The master closes stdin instead of answering TASK.
    eof_at_task: bool = False
    #: Scale of the time limit for big scenarios.
    time_factor: float = 1.0

    @property
    def batches(self) -> int:
        return max((item.batch for item in self.inputs), default=0)


@attrs.frozen(slots=True)
class Setup:
    """Where one scenario run happens."""

    root: Path
    disco_data: Path
    ddfs_data: Path
    jobname: str
    jobhome: Path
    server: DataServer

    def url(self, path: str) -> str:
        return self.server.url(path)

    def node_file(self, relative: str, data: bytes) -> str:
        """Write ``data`` under ``disco_data`` and return its ``disco://`` URL."""
        target = self.disco_data.joinpath(*relative.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return f"disco://{HOST}/disco/{relative}"

    def task(self, plan: Plan, taskid: int = 0) -> TaskInfo:
        return TaskInfo(
            taskid=taskid,
            master=f"http://{HOST}:{self.server.port}",
            disco_port=self.server.port,
            put_port=self.server.port,
            ddfs_data=str(self.ddfs_data),
            disco_data=str(self.disco_data),
            stage=plan.stage,
            grouping=plan.grouping,
            group=plan.group,
            jobfile=str(self.jobhome / "jobfile"),
            jobname=self.jobname,
            host=HOST,
        )


@attrs.frozen(slots=True)
class Scenario:
    """A named situation the kit puts the worker in."""

    name: str
    description: str
    #: The rules this scenario is designed to exercise (every run judges all it can).
    rules: tuple[str, ...]
    build: Callable[[Setup], Plan]
    profiles: tuple[Profile, ...] = BOTH


def hexhash(text: str) -> str:
    """The first byte of the MD5 of ``text``, as two hex digits (Disco's job dir hash)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()[:2]


def make_setup(root: Path, scenario: str, server: DataServer) -> Setup:
    """Create the directories and job home of one scenario run under ``root``."""
    disco_data = root / "data"
    ddfs_data = root / "ddfs"
    jobname = f"Conform_{scenario.replace('-', '_')}@5a1:c0f4e:1"
    jobhome = disco_data / HOST / hexhash(jobname) / jobname
    jobhome.mkdir(parents=True)
    ddfs_data.mkdir()
    server.reset(disco_data)
    return Setup(root, disco_data, ddfs_data, jobname, jobhome, server)


def write_jobfile(setup: Setup, plan: Plan, worker: str) -> None:
    """A minimal but valid version 2 job pack, and the job home's extraction marker."""
    jobdict = {
        "prefix": setup.jobname.split("@")[0],
        "worker": worker,
        "owner": "discotool-conform@localhost",
        "scheduler": {},
        "pipeline": [[plan.stage, plan.grouping, plan.batches > 0]],
        "inputs": [[0, 0, list(item.urls)] for item in plan.inputs if item.batch == 0],
    }
    sections = [json.dumps(jobdict).encode(), b"{}", _EMPTY_ZIP, b""]
    offsets = [128]
    for section in sections[:-1]:
        offsets.append(offsets[-1] + len(section))
    header = struct.pack("!HHIIII", 0xD5C0, 2, *offsets).ljust(128, b"\0")
    (setup.jobhome / "jobfile").write_bytes(header + b"".join(sections))
    (setup.jobhome / ".jobhome").write_bytes(b"")


# An empty zip archive: just the end-of-central-directory record.
_EMPTY_ZIP: Final = b"PK\x05\x06" + b"\0" * 18


def _text(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _split(data: bytes) -> tuple[bytes, ...]:
    return tuple(data.split(b"\n")[:-1])


def _raw(input_id: int, lines: list[str], rule: str = "IN-1", batch: int = 0) -> KitInput:
    data = _text(lines)
    url = "raw://" + data.decode("utf-8")
    return KitInput(input_id, 0, (url,), _split(data), rule, batch=batch)


# --- the scenarios ----------------------------------------------------------------------------


def _basic(setup: Setup) -> Plan:
    return Plan(
        (
            _raw(0, ["basic:0 hello, 100%25 raw"]),
            _raw(1, ["basic:1 first line", "basic:1 second line"]),
            _raw(2, ["basic:2 gr\u00fc\u00dfe \u2603 \u20ac \U0001f600"]),
        )
    )


def _http(setup: Setup) -> Plan:
    small = _text(["http:0 small file"])
    big = _text([f"http:1 line {n:05d} " + "x" * 40 for n in range(2000)])
    setup.server.add("/data/http/0", small)
    setup.server.add("/data/http/1", big)
    return Plan(
        (
            KitInput(0, 0, (setup.url("/data/http/0"),), _split(small), "IN-2"),
            KitInput(1, 0, (setup.url("/data/http/1"),), _split(big), "IN-2"),
        )
    )


def _disco(setup: Setup) -> Plan:
    data = _text(["disco:0 a file on this node", "disco:0 second line"])
    prev = "Previous@5a0:0:0"
    url = setup.node_file(f"{HOST}/{hexhash(prev)}/{prev}/7b/map:0-1/map-0", data)
    return Plan((KitInput(0, 0, (url,), _split(data), "IN-3"),))


_DIR_LABELS: Final = (0, 1, 2, 1)


def _index(setup: Setup, name: str) -> tuple[str, dict[int, list[bytes]]]:
    prev = "Previous@5a0:0:0"
    base = f"{HOST}/{hexhash(prev)}/{prev}"
    by_label: dict[int, list[bytes]] = {}
    index = []
    for n, label in enumerate(_DIR_LABELS):
        data = _text([f"{name}:part{n} label {label}", f"{name}:part{n} more"])
        url = setup.node_file(f"{base}/3c/reduce:0-1/part-{n}", data)
        index.append(format_index_line(label, url, len(data)))
        by_label.setdefault(label, []).extend(_split(data))
    dir_url = setup.node_file(
        f"{base}/.disco/map-0-1700000000000000.results", "".join(index).encode()
    )
    return "dir://" + dir_url[len("disco://") :], by_label


def _dir_label(setup: Setup) -> Plan:
    url, by_label = _index(setup, "dirlabel")
    forbidden = tuple(line for label, lines in by_label.items() if label != 1 for line in lines)
    entry = KitInput(0, 1, (url,), tuple(by_label[1]), "IN-4", forbidden, "IN-4")
    return Plan((entry,), stage="reduce", grouping="group_label", group=(1, HOST))


def _dir_all(setup: Setup) -> Plan:
    url, by_label = _index(setup, "dirall")
    lines = tuple(line for label in sorted(by_label) for line in by_label[label])
    entry = KitInput(0, "all", (url,), lines, "IN-5")
    return Plan((entry,), stage="reduce", grouping="group_all", group=(0, ""))


#: Inputs in the "many" scenario.
MANY_INPUTS: Final = 10_000


def _many(setup: Setup) -> Plan:
    inputs = tuple(_raw(n, [f"many:{n}"], "IN-6") for n in range(MANY_INPUTS))
    return Plan(inputs, time_factor=4.0)


def _more(setup: Setup) -> Plan:
    inputs = (
        _raw(0, ["more:0 at the start"], "IN-7"),
        _raw(1, ["more:1 at the start"], "IN-7"),
        _raw(2, ["more:2 arrives later"], "IN-7", batch=1),
        _raw(3, ["more:3 arrives last"], "IN-7", batch=2),
    )
    return Plan(inputs, group=(0, HOST))


def _fallback(setup: Setup) -> Plan:
    data0 = _text(["fallback:0 from the second replica"])
    data1 = _text(["fallback:1 from the raw replica"])
    setup.server.add("/data/fallback/0", data0)
    first = (setup.url("/missing/fallback/0"), setup.url("/data/fallback/0"))
    second = (setup.url("/broken/fallback/1"), "raw://" + data1.decode())
    return Plan(
        (
            KitInput(0, 0, first, _split(data0), "RP-1", bad_replicas=frozenset({0})),
            KitInput(1, 0, second, _split(data1), "RP-1", bad_replicas=frozenset({0})),
        )
    )


def _all_fail(setup: Setup, closing_ok: bool = False) -> Plan:
    bad = (setup.url("/missing/allfail/1"), setup.url("/broken/allfail/1"))
    return Plan(
        (
            _raw(0, ["allfail:0 readable"]),
            KitInput(1, 0, bad, (), "RP-3", bad_replicas=frozenset({0, 1})),
        ),
        expect="ERROR",
        closing_ok=closing_ok,
    )


def _end_ok(setup: Setup) -> Plan:
    return Plan((_raw(0, ["endok:0 the master answers DONE"]),), closing_ok=True)


#: Lines of the input in the "msg-lines" scenario.
MSG_LINES: Final = 300


def _msg_lines(setup: Setup) -> Plan:
    return Plan((_raw(0, [f"msglines:0 line {n}" for n in range(MSG_LINES)]),))


def _eof(setup: Setup) -> Plan:
    return Plan((_raw(0, ["eof:0 never read"]),), expect="EXIT", eof_at_task=True)


SCENARIOS: Final[tuple[Scenario, ...]] = (
    Scenario(
        "basic",
        "Three raw:// inputs (one multi-line, one non-ASCII, one with a literal %25).",
        ("HS-1", "HS-2", "HS-3", "HS-4", "FR-1", "FR-2", "FR-3", "IN-1", "OUT-1", "END-1"),
        _basic,
    ),
    Scenario("http", "Two http:// inputs served by the kit (one of 100 KB).", ("IN-2",), _http),
    Scenario(
        "disco", "A disco:// input naming this node: a file under disco_data.", ("IN-3",), _disco
    ),
    Scenario(
        "dir-label",
        "A dir:// index with labels 0, 1, 2; the task's group label is 1.",
        ("IN-4",),
        _dir_label,
    ),
    Scenario("dir-all", 'The same index under group_all: label "all".', ("IN-5",), _dir_all),
    Scenario("many", f"{MANY_INPUTS} raw:// inputs in one INPUT reply.", ("IN-6",), _many),
    Scenario(
        "more",
        'Inputs arrive over time: "more", a withheld INPUT reply, then "done".',
        ("IN-7", "IN-8"),
        _more,
    ),
    Scenario(
        "replica-fallback",
        "The first replica of each input fails (HTTP 404, HTTP 500); the second works.",
        ("RP-1", "RP-2"),
        _fallback,
    ),
    Scenario(
        "replica-fail",
        "Every replica of an input fails; the task must end with ERROR.",
        ("RP-2", "RP-3", "END-2", "END-3"),
        _all_fail,
    ),
    Scenario(
        "replica-fail-ok",
        "As replica-fail, and a lenient master answers ERROR with OK.",
        ("RP-3", "END-2", "END-3"),
        lambda setup: _all_fail(setup, closing_ok=True),
        profiles=(Profile.SPEC,),
    ),
    Scenario(
        "end-ok",
        "One raw:// input; a lenient master answers DONE with OK.",
        ("END-2", "END-3"),
        _end_ok,
        profiles=(Profile.SPEC,),
    ),
    Scenario(
        "msg-lines",
        f"A raw:// input of {MSG_LINES} lines (a line-echoing worker must pace its MSGs).",
        ("MSG-1",),
        _msg_lines,
    ),
    Scenario("eof", "The master closes stdin instead of answering TASK.", ("EOF-1",), _eof),
)

SCENARIOS_BY_NAME: Final = {scenario.name: scenario for scenario in SCENARIOS}
