"""The parts of a job pack as typed values: the header, the job dict, its pipeline stages
and inputs; and the format's constants (magic, header size, limits).

The glossary words are used throughout: a *job pack* has a *header* and four
sections (*job dict*, *job envs*, *job home*, *job data*); a *pipeline* is a
sequence of *stages*, each with a *grouping*.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

#: The two magic bytes every binary job pack starts with.
MAGIC = 0xD5C0
MAGIC_BYTES = b"\xd5\xc0"
#: Size of the header; the job dict always starts here.
HEADER_SIZE = 128
#: Bytes of the header that carry information (magic, version, four offsets).
HEADER_USED = 20
#: The largest offset a header can hold (offsets are unsigned 32-bit).
MAX_OFFSET = 0xFFFFFFFF
#: ``max_cores`` when the scheduler object does not set it (2^31).
DEFAULT_MAX_CORES = 1 << 31
#: The largest body the master's ``POST /disco/job/new`` accepts (413 above it).
MASTER_MAX_BODY = 1 << 30

_HEADER = struct.Struct("!HHIIII")


class Grouping(str, enum.Enum):
    """How a stage groups the previous stage's outputs into tasks."""

    SPLIT = "split"
    GROUP_LABEL = "group_label"
    GROUP_NODE = "group_node"
    GROUP_NODE_LABEL = "group_node_label"
    GROUP_ALL = "group_all"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class PipelineStage:
    """One stage of a job dict's pipeline: unique name, grouping, whether it is concurrent."""

    name: str
    grouping: Grouping = attrs.field(converter=Grouping)
    concurrent: bool = False

    def to_json(self) -> list[Any]:
        """The ``[name, grouping, concurrent]`` triple of a version 2 job dict."""
        return [self.name, self.grouping.value, self.concurrent]


def _url_tuple(urls: Iterable[str]) -> tuple[str, ...]:
    if isinstance(urls, str):
        raise TypeError("urls must be a sequence of URL strings, not one string")
    return tuple(urls)


@attrs.frozen
class JobInput:
    """One job input: a label, a size hint, and its replica URLs.

    ``is_dir`` marks a version 1 ``dir://`` input, whose labels and sizes the
    master reads from the index when the job starts.
    """

    label: int = 0
    size_hint: int = 0
    urls: tuple[str, ...] = attrs.field(default=(), converter=_url_tuple)
    is_dir: bool = False

    def to_json(self) -> list[Any]:
        """The ``[label, size_hint, [url, ...]]`` triple of a version 2 job dict."""
        return [self.label, self.size_hint, list(self.urls)]


@attrs.frozen
class JobDict:
    """A job dict the master accepts, with version 1 converted to a pipeline.

    ``raw`` is the decoded JSON object as it was in the pack. Fields the master
    accepts with any JSON type are normalised here (``owner`` that is not a
    string is its compact JSON text; ``max_cores`` that is not an integer is
    the default); ``raw`` keeps the original.
    """

    version: int
    prefix: str
    worker: str
    owner: str
    pipeline: tuple[PipelineStage, ...]
    inputs: tuple[JobInput, ...]
    max_cores: int = DEFAULT_MAX_CORES
    save_results: bool = False
    save_info: str = "ddfs"
    force_local: bool = False
    force_remote: bool = False
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen
class Header:
    """The 128-byte job pack header (big-endian)."""

    version: int
    jobdict_offset: int
    jobenvs_offset: int
    jobhome_offset: int
    jobdata_offset: int
    magic: int = MAGIC

    @classmethod
    def parse(cls, data: bytes) -> Header:
        """Read the first 20 bytes of ``data``; the reserved bytes are ignored."""
        if len(data) < HEADER_USED:
            raise ValueError(f"a job pack header needs {HEADER_USED} bytes, got {len(data)}")
        magic, version, d, e, h, j = _HEADER.unpack_from(data)
        return cls(version, d, e, h, j, magic=magic)

    @classmethod
    def for_sections(
        cls, version: int, jobdict_size: int, jobenvs_size: int, jobhome_size: int
    ) -> Header:
        """The header of a pack whose sections have these sizes."""
        envs = HEADER_SIZE + jobdict_size
        home = envs + jobenvs_size
        data = home + jobhome_size
        return cls(version, HEADER_SIZE, envs, home, data)

    def pack(self) -> bytes:
        """The 128 header bytes, reserved bytes zero."""
        for name in ("jobdict_offset", "jobenvs_offset", "jobhome_offset", "jobdata_offset"):
            if not 0 <= getattr(self, name) <= MAX_OFFSET:
                raise OverflowError(f"{name} {getattr(self, name)} does not fit in 32 bits")
        head = _HEADER.pack(
            self.magic,
            self.version,
            self.jobdict_offset,
            self.jobenvs_offset,
            self.jobhome_offset,
            self.jobdata_offset,
        )
        return head.ljust(HEADER_SIZE, b"\0")

    @property
    def jobdict_size(self) -> int:
        """Bytes in the job dict section."""
        return self.jobenvs_offset - self.jobdict_offset

    @property
    def jobenvs_size(self) -> int:
        """Bytes in the job envs section."""
        return self.jobhome_offset - self.jobenvs_offset

    @property
    def jobhome_size(self) -> int:
        """Bytes in the job home section."""
        return self.jobdata_offset - self.jobhome_offset

    def is_valid_for(self, size: int) -> bool:
        """The master's header rule (facts 7.2 step 1) for a pack of ``size`` bytes."""
        return (
            size >= HEADER_USED
            and self.magic == MAGIC
            and self.jobdict_offset == HEADER_SIZE
            and self.jobenvs_offset > self.jobdict_offset
            and self.jobhome_offset >= self.jobenvs_offset
            and self.jobdata_offset >= self.jobhome_offset
            and size >= self.jobdata_offset
        )
