"""Master settings and the node table (Disco's "config table").

The node table is Disco's ``{"hosts": [[spec, slots], ...], "blacklist": [...],
"gc_blacklist": [...]}``. A spec is a host name or a range ``node01:10``
(``node01`` .. ``node10``, zero-padded to the width of the upper bound).
Slot counts are strings in the table, as Disco writes them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from pydisco.integers import parse_decimal
from pydisco.jobpack import HomeLimits
from pydisco.loopback import is_loopback_host
from pydisco.master.errors import ConfigError
from pydisco.protocol.limits import (
    DRAIN_TIMEOUT_SECONDS,
    PARTIAL_FRAME_TIMEOUT_SECONDS,
    PID_TIMEOUT_SECONDS,
)

__all__ = [
    "DEFAULT_MAX_FAILURE_RATE",
    "DISCO_VERSION",
    "MasterSettings",
    "NodeTable",
    "expand_spec",
    "parse_nodes_option",
]

#: What ``GET /disco/version`` answers: the Disco release we speak.
DISCO_VERSION = "0.5.4"
#: ``max_failure_rate`` default: failures allowed per task (Disco's TASK_MAX_FAILURES).
DEFAULT_MAX_FAILURE_RATE = 100
#: The largest job pack ``POST /disco/job/new`` accepts (1 GiB).
MAX_JOBPACK_BYTES = 1 << 30
#: The largest control request body (Disco's limit for ``/disco/ctrl/*``).
MAX_CTRL_BODY_BYTES = 32 << 20
#: Job home limits checked at submit (the whole job home is read, nothing written):
#: decompressed bytes, entries, and an entry's declared size over its compressed size.
MAX_JOBHOME_BYTES = 1 << 30
MAX_JOBHOME_ENTRIES = 10_000
MAX_JOBHOME_RATIO = 1100
#: The node table's bounds: nodes in all (ranges included), slots per node, and the
#: length of a spec (so a range's bounds are small numbers, parsed without work).
MAX_NODES = 1024
MAX_SLOTS = 1024
MAX_SPEC_CHARS = 255
#: ``save_settings``: each setting's accepted range (inclusive).
SETTING_RANGES = {"max_failure_rate": (0, 1_000_000), "accept_new_jobs": (0, 1)}
#: Disco's defaults for ports that go into TASK replies.
DEFAULT_DISCO_PORT = 8989
DEFAULT_PUT_PORT = 8990


@attrs.define
class MasterSettings:
    """Everything a master run can be told; defaults follow Disco 0.5.4.

    Timers are Disco's (``pydisco.protocol.limits``); tests shorten them.
    ``retry_delay=None`` sleeps Disco's ``min(n, 60) s + 1..30 s`` before a
    retry; a number sleeps exactly that many seconds.
    """

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    #: Initial node table spec (``--nodes``): ``"host[=slots],..."``; None keeps the saved one.
    nodes: str | None = None
    #: Required on every mutating request when set (and to listen off loopback).
    token: str | None = None
    allow_remote: bool = False
    #: The TASK ``master`` URL; default: this server's own URL.
    master_url: str | None = None
    #: Disco's DISCO_NAME; the master's job dirs live in ``<data>/_<name>``.
    name: str | None = None
    #: Disco's DDFS_PUT_PORT: where blobs are uploaded (0 picks a free port at start).
    put_port: int = DEFAULT_PUT_PORT
    #: Disco's DDFS_DATA; None: ``<data_dir>-ddfs``, beside the data directory.
    ddfs_data: Path | None = None
    #: The largest blob one upload may store.
    ddfs_max_blob_bytes: int = 1 << 40
    #: Blob uploads in progress at once; more are answered 503 (clients retry).
    ddfs_max_uploads: int = 32
    #: User attributes one tag may hold (Disco's 1000); more answer 403 ``Too many attributes``.
    ddfs_max_attributes: int = 1000
    #: Seconds a delayed tag update (``?delayed=1``) waits to be batched (Disco: 1).
    ddfs_delayed_seconds: float = 1.0
    retry_delay: float | None = None
    max_failure_rate: int = DEFAULT_MAX_FAILURE_RATE
    accept_new_jobs: int = 1
    pid_timeout: float = PID_TIMEOUT_SECONDS
    partial_timeout: float = PARTIAL_FRAME_TIMEOUT_SECONDS
    drain_timeout: float = DRAIN_TIMEOUT_SECONDS
    #: Workers run this much nicer than the master, as under ``nice -n <nice>`` (Disco
    #: uses 19; set on each worker once started, without a ``nice`` process); 0: as is.
    nice: int = 0
    #: Also listen on each node's loopback address (127.x.y.z) at the same port.
    listen_on_nodes: bool = True
    #: Seconds between attempts to connect a node that is not connected (Disco: 10 s).
    node_retry: float = 10.0
    max_jobpack_bytes: int = MAX_JOBPACK_BYTES
    #: The clock the MSG throttle counts with (seconds). Tests pass a frozen one, so
    #: "N messages within a second" does not depend on how fast the machine is.
    msg_clock: Callable[[], float] = attrs.field(default=time.monotonic, repr=False)
    #: Seconds a task may run before its worker is killed and the task fails; None
    #: (Disco's behaviour) is no limit. A job's ``scheduler.task_timeout`` may be shorter.
    task_timeout: float | None = None
    jobhome_max_bytes: int = MAX_JOBHOME_BYTES
    jobhome_max_entries: int = MAX_JOBHOME_ENTRIES
    jobhome_max_ratio: int = MAX_JOBHOME_RATIO

    def jobhome_limits(self) -> HomeLimits:
        """The job home limits as the keyword arguments of the jobpack checks."""
        return HomeLimits(
            max_bytes=self.jobhome_max_bytes,
            max_entries=self.jobhome_max_entries,
            max_ratio=self.jobhome_max_ratio,
        )

    @property
    def disco_name(self) -> str:
        """Disco's DISCO_NAME: ``disco_<port>`` unless given."""
        return self.name or f"disco_{self.port}"

    @property
    def ddfs_root(self) -> Path:
        """Disco's DDFS_DATA: ``ddfs_data``, or ``<data_dir>-ddfs`` beside the data directory
        (not inside it: ``/disco/...`` serves the data directory, and tag files hold tokens)."""
        if self.ddfs_data is not None:
            return self.ddfs_data
        return self.data_dir.with_name(self.data_dir.name + "-ddfs")

    @property
    def master_root(self) -> Path:
        """Disco's DISCO_MASTER_ROOT: ``<data>/_<name>``."""
        return self.data_dir / f"_{self.disco_name}"


_RANGE = re.compile(r"^(?P<base>.*?)(?P<low>[0-9]+):(?P<high>[0-9]+)$")
_NODE_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])$")


def node_name_problem(name: str) -> str:
    """Why ``name`` cannot name a node (its data lives in ``<data>/<name>``), or ``""``."""
    if not _NODE_NAME.match(name):
        return (
            "a node name starts with a letter or digit and holds only letters, digits, "
            "'.', '_' and '-' (so never '.', '..' or a master directory like '_disco_8989'), "
            "or is an IPv6 address in brackets such as '[::1]'"
        )
    return ""


def expand_spec(spec: str) -> list[str]:
    """The host names a node spec stands for (``node01:10`` -> node01..node10).

    A range may stand for at most :data:`MAX_NODES` names; its size is known
    before any name is made.
    """
    if not isinstance(spec, str) or not spec or len(spec) > MAX_SPEC_CHARS:
        raise ConfigError(
            f"Invalid node spec {spec!r:.80}: expected a host name or 'name01:10' of at most "
            f"{MAX_SPEC_CHARS} characters."
        )
    match = _RANGE.match(spec)
    if match is None:
        problem = node_name_problem(spec)
        if problem:
            raise ConfigError(f"Invalid node name {spec!r}: {problem}.")
        return [spec]
    base, low, high = match["base"], match["low"], match["high"]
    if not base or int(high) < int(low) or node_name_problem(base + low):
        raise ConfigError(f"Invalid node range {spec!r}: expected e.g. 'node01:10'.")
    if int(high) - int(low) + 1 > MAX_NODES:
        raise ConfigError(
            f"The node range {spec!r} stands for {int(high) - int(low) + 1} nodes, more than "
            f"the limit of {MAX_NODES}."
        )
    width = len(high)
    return [f"{base}{n:0{width}d}" for n in range(int(low), int(high) + 1)]


def _slots(value: Any) -> int:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    slots = parse_decimal(text) if len(text) <= 6 else None
    if slots is None:
        raise ConfigError(f"Invalid slot count {value!r:.40}: expected a positive integer string.")
    if not 1 <= slots <= MAX_SLOTS:
        raise ConfigError(f"Invalid slot count {value!r}: expected 1 to {MAX_SLOTS}.")
    return slots


def check_settings(values: Any) -> dict[str, int]:
    """Validate ``save_settings`` values: strings holding integers (Disco's form), in range.

    Unknown keys are refused, naming them. Raises :class:`ConfigError`.
    """
    if not isinstance(values, dict):
        raise ConfigError('The settings must be a JSON object such as {"max_failure_rate": "3"}.')
    unknown = sorted(set(values) - set(SETTING_RANGES))
    if unknown:
        raise ConfigError(
            f"Unknown setting(s) {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(SETTING_RANGES)}."
        )
    checked = {}
    for key, value in values.items():
        low, high = SETTING_RANGES[key]
        text = value if isinstance(value, str) else None
        if text is None or not re.fullmatch(r"-?[0-9]{1,12}", text):
            raise ConfigError(f"{key}: a string holding an integer expected, got {value!r:.40}")
        if not low <= int(text) <= high:
            raise ConfigError(f"{key}: must be from {low} to {high}, got {text}")
        checked[key] = int(text)
    return checked


@attrs.define
class NodeTable:
    """The node table: specs as given, and what they expand to."""

    hosts: list[list[str]] = attrs.field(factory=list)
    blacklist: list[str] = attrs.field(factory=list)
    gc_blacklist: list[str] = attrs.field(factory=list)

    @classmethod
    def from_json(cls, value: Any) -> NodeTable:
        """Read Disco's config file value (an object, or a legacy bare list of hosts)."""
        if isinstance(value, list):
            value = {"hosts": value}
        if not isinstance(value, dict):
            raise ConfigError("The node table must be a JSON object or a list of [host, slots].")
        table = cls(
            hosts=cls.check_hosts(value.get("hosts", [])),
            blacklist=_str_list(value.get("blacklist", []), "blacklist"),
            gc_blacklist=_str_list(value.get("gc_blacklist", []), "gc_blacklist"),
        )
        table.prune()
        return table

    @staticmethod
    def check_hosts(value: Any) -> list[list[str]]:
        """Validate ``[[spec, slots], ...]``; errors say "invalid config" or "duplicate nodes"."""
        if not isinstance(value, list):
            raise ConfigError("invalid config")
        rows: list[list[str]] = []
        seen: set[str] = set()
        if not value:
            raise ConfigError("invalid config: the node table must list at least one node")
        for row in value:
            if (
                not isinstance(row, list)
                or len(row) != 2
                or not all(isinstance(v, str) for v in row)
            ):
                raise ConfigError("invalid config")
            spec, slots = row
            try:
                names = expand_spec(spec)
                _slots(slots)
            except ConfigError as exc:
                raise ConfigError(f"invalid config: {exc}") from None
            if seen.intersection(names):
                raise ConfigError("duplicate nodes")
            seen.update(names)
            if len(seen) > MAX_NODES:
                raise ConfigError(f"invalid config: more than {MAX_NODES} nodes in all")
            rows.append([spec, slots])
        return rows

    def to_json(self) -> dict[str, Any]:
        """Disco's config file object."""
        return {"hosts": self.hosts, "blacklist": self.blacklist, "gc_blacklist": self.gc_blacklist}

    def nodes(self) -> dict[str, int]:
        """Host name -> slots, in table order."""
        result: dict[str, int] = {}
        for spec, slots in self.hosts:
            for name in expand_spec(spec):
                result[name] = _slots(slots)
        return result

    def prune(self) -> None:
        """Keep only blacklisted hosts that are in the table, as Disco does."""
        known = self.nodes()
        self.blacklist = [h for h in dict.fromkeys(self.blacklist) if h in known]
        self.gc_blacklist = [h for h in dict.fromkeys(self.gc_blacklist) if h in known]


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"The node table's {what} must be a list of host names.")
    return list(value)


def default_node(host: str) -> str:
    """The node a master listening on ``host`` is, when no table says otherwise.

    Disco's ``localhost`` for ``127.0.0.1``, ``localhost`` and the wildcard
    addresses (which include ``127.0.0.1``); otherwise the address listened on,
    so that result URLs name a host that serves them: ``127.0.0.2``, and
    ``[::1]`` (bracketed, as in URLs) for ``::1``.
    """
    if host in ("127.0.0.1", "localhost", "0.0.0.0", "::", ""):
        return "localhost"
    return f"[{host}]" if ":" in host else host


def default_table(host: str = "127.0.0.1") -> NodeTable:
    """Disco's default: this machine as one node (:func:`default_node`), a slot per CPU."""
    return NodeTable(hosts=[[default_node(host), str(os.cpu_count() or 1)]])


def url_authority(host: str, port: int) -> str:
    """``host:port`` for a URL; an IPv6 address is bracketed (``[::1]:8989``)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def parse_nodes_option(spec: str) -> NodeTable:
    """A node table spec (the ``nodes`` setting): ``host[=slots],...`` (slots default to the CPUs).

    A spec may be a range (``node01:10=2``). Hosts named by loopback addresses
    (``127.0.0.2=2,127.0.0.3=2``) give several real nodes on one machine.
    """
    rows: list[list[str]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, slots = part.partition("=")
        rows.append([name.strip(), slots.strip() or str(os.cpu_count() or 1)])
    if not rows:
        raise ConfigError(
            f"The node table {spec!r} names no node; expected e.g. '127.0.0.2=2,127.0.0.3=2'.",
            settings=("nodes",),
        )
    try:
        return NodeTable(hosts=NodeTable.check_hosts(rows))
    except ConfigError as exc:
        raise ConfigError(f"The node table {spec!r}: {exc}", settings=("nodes",)) from None


def loopback_addresses(names: Iterable[str]) -> list[str]:
    """The node names that are IPv4 loopback addresses other than 127.0.0.1."""
    return [
        name
        for name in names
        if name != "127.0.0.1" and "." in name and ":" not in name and is_loopback_host(name)
    ]
