"""Open a binary job pack and read its sections without loading the whole file."""

from __future__ import annotations

import os
import threading
import zipfile
from contextlib import nullcontext
from types import TracebackType
from typing import IO, Any

from pydisco import jsoncodec
from pydisco.jobpack.errors import InvalidJobPack, JobPackError, JobPackTooLarge
from pydisco.jobpack.jobhome import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_RATIO,
    JobHomeEntry,
    extract_zip,
    file_identity,
    list_entries,
    open_zip,
    verify_zip,
)
from pydisco.jobpack.parts import HEADER_SIZE, HEADER_USED, Header, JobDict
from pydisco.jobpack.sections import SectionReader
from pydisco.jobpack.validation import DEFAULT_MAX_JSON_BYTES, check_pack

PathOrFile = str | os.PathLike[str] | IO[bytes]


class JobPack:
    """A binary job pack opened from a path or a seekable binary file object.

    With ``strict=True`` (the default) the pack is validated as the master
    validates it when opened, raising :class:`InvalidJobPack`. With
    ``strict=False`` it opens anything and defers errors to the attributes
    that need a valid pack (``inspect`` uses this to show broken packs).
    The pack is the bytes from the file object's position at open to its end.
    """

    def __init__(
        self,
        fileobj: IO[bytes],
        *,
        strict: bool = True,
        close: bool = False,
        max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
    ) -> None:
        self._fp = fileobj
        self._close = close
        self._base = fileobj.tell()
        self.size = fileobj.seek(0, os.SEEK_END) - self._base
        fileobj.seek(self._base)
        self._head = fileobj.read(HEADER_SIZE)
        self._max_json = max_json_bytes
        self._checked: tuple[Header, JobDict, dict[str, str]] | None = None
        self._error: InvalidJobPack | None = None
        try:
            self._checked = check_pack(
                self._head, self.size, self._read, max_json_bytes=max_json_bytes
            )
        except InvalidJobPack as exc:
            self._error = exc
            if strict:
                self.close()
                raise

    @classmethod
    def open(cls, source: PathOrFile, *, strict: bool = True) -> JobPack:
        """Open a path (closed with the pack) or wrap an open binary file object."""
        if isinstance(source, (str, os.PathLike)):
            fp = open(source, "rb")  # noqa: SIM115 - owned by the JobPack
            try:
                return cls(fp, strict=strict, close=True)
            except BaseException:
                fp.close()
                raise
        return cls(source, strict=strict)

    def __enter__(self) -> JobPack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying file if this pack opened it."""
        if self._close:
            self._fp.close()

    def _read(self, start: int, end: int) -> bytes:
        self._fp.seek(self._base + start)
        return self._fp.read(end - start)

    # Validity.

    @property
    def error(self) -> InvalidJobPack | None:
        """Why the master would refuse this pack, or ``None`` when it would accept it."""
        return self._error

    def _valid(self) -> tuple[Header, JobDict, dict[str, str]]:
        if self._checked is None:
            assert self._error is not None
            raise self._error
        return self._checked

    @property
    def header(self) -> Header:
        """The header. Raises :class:`InvalidJobPack` only when it is not even 20 bytes long."""
        if self._checked is not None:
            return self._checked[0]
        if len(self._head) < HEADER_USED:
            assert self._error is not None
            raise self._error
        return Header.parse(self._head)

    @property
    def jobdict(self) -> JobDict:
        """The validated job dict (version 1 converted to a pipeline)."""
        return self._valid()[1]

    @property
    def jobenvs(self) -> dict[str, str]:
        """The validated job envs."""
        return self._valid()[2]

    @property
    def raw_jobdict(self) -> Any:
        """The job dict section decoded as JSON, whatever it holds (valid or not)."""
        if self._checked is not None:
            return self._checked[1].raw
        return self._decode_section(
            "job dict", self.header.jobdict_offset, self.header.jobenvs_offset
        )

    @property
    def raw_jobenvs(self) -> Any:
        """The job envs section decoded as JSON, whatever it holds."""
        if self._checked is not None:
            return self._checked[2]
        return self._decode_section(
            "job envs", self.header.jobenvs_offset, self.header.jobhome_offset
        )

    def _decode_section(self, name: str, start: int, end: int) -> Any:
        start, end = self._clamp(start, end)
        if end - start > self._max_json:
            raise JobPackTooLarge(
                f"The {name} section is {end - start} bytes; too large to decode."
            )
        try:
            return jsoncodec.loads(self._read(start, end))
        except jsoncodec.JSONError as exc:
            raise JobPackError(f"The {name} section is not valid JSON: {exc}.") from None

    def _clamp(self, start: int, end: int) -> tuple[int, int]:
        start = min(max(start, 0), self.size)
        return start, min(max(end, start), self.size)

    # Sections.

    def _section(self, start: int, end: int) -> SectionReader:
        start, end = self._clamp(start, end)
        return SectionReader(self._fp, self._base + start, self._base + end)

    @property
    def jobhome_size(self) -> int:
        """Bytes in the job home section."""
        h = self.header
        start, end = self._clamp(h.jobhome_offset, h.jobdata_offset)
        return end - start

    @property
    def jobdata_size(self) -> int:
        """Bytes in the job data section (from its offset to the end of the file)."""
        start, end = self._clamp(self.header.jobdata_offset, self.size)
        return end - start

    def open_jobhome(self) -> SectionReader:
        """A seekable reader over the job home section (a zip archive)."""
        h = self.header
        return self._section(h.jobhome_offset, h.jobdata_offset)

    def open_jobdata(self) -> SectionReader:
        """A seekable reader over the job data section."""
        return self._section(self.header.jobdata_offset, self.size)

    def read_jobdata(self, max_bytes: int | None = None) -> bytes:
        """The job data as bytes; raises :class:`JobPackTooLarge` above ``max_bytes``."""
        if max_bytes is not None and self.jobdata_size > max_bytes:
            raise JobPackTooLarge(
                f"The job data is {self.jobdata_size} bytes, more than {max_bytes}; "
                "use open_jobdata() to stream it."
            )
        with self.open_jobdata() as reader:
            return reader.read()

    def jobhome_entries(self, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> list[JobHomeEntry]:
        """The job home listing (raises :class:`JobHomeError` if it is not a zip)."""
        return list_entries(self.open_jobhome(), max_entries=max_entries)  # type: ignore[arg-type]

    def verify_jobhome(
        self,
        *,
        worker: str | None = None,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_ratio: int = DEFAULT_MAX_RATIO,
        cancel: threading.Event | None = None,
    ) -> None:
        """Check the whole job home without writing anything (names, types, sizes, every
        entry's CRC); raises a :class:`JobHomeError` naming the entry and the limit.

        ``worker`` (when given) must be a file of the job home.
        """
        archive = open_zip(self.open_jobhome(), max_entries=max_entries)  # type: ignore[arg-type]
        with archive:
            verify_zip(
                archive,
                worker=worker,
                max_entries=max_entries,
                max_bytes=max_bytes,
                max_ratio=max_ratio,
                cancel=cancel,
            )

    def extract_jobhome(
        self,
        dest: str | os.PathLike[str],
        *,
        worker: str | None = None,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_ratio: int = DEFAULT_MAX_RATIO,
        cancel: threading.Event | None = None,
    ) -> list[str]:
        """Safely extract the job home into ``dest`` (see :func:`extract_jobhome`)."""
        if worker is None:
            worker = self.jobdict.worker
        archive: zipfile.ZipFile = open_zip(self.open_jobhome(), max_entries=max_entries)  # type: ignore[arg-type]
        with archive:
            own = file_identity(self._fp)
            return extract_zip(
                archive,
                dest,
                worker=worker,
                max_entries=max_entries,
                max_bytes=max_bytes,
                max_ratio=max_ratio,
                protect=[own] if own is not None else [],
                cancel=cancel,
            )


def validate(source: PathOrFile | JobPack) -> JobDict:
    """Check a binary job pack as the master does; returns its job dict.

    Raises :class:`InvalidJobPack` with Disco's own reason text on the first
    failure, in the master's order.
    """
    if isinstance(source, JobPack):
        return source.jobdict
    with JobPack.open(source) as pack:
        return pack.jobdict


def extract_jobhome(
    source: PathOrFile | JobPack,
    dest: str | os.PathLike[str],
    *,
    worker: str | None = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_ratio: int = DEFAULT_MAX_RATIO,
    cancel: threading.Event | None = None,
) -> list[str]:
    """Extract a job pack's job home into ``dest`` safely; returns the entry names.

    ``worker`` defaults to the job dict's worker and gets mode 0755, as the
    master does. Raises :class:`UnsafeJobHome` naming the offending entry for
    absolute names, ``..``, escapes, symbolic links, devices, and more than
    ``max_entries`` entries or ``max_bytes`` decompressed bytes;
    :class:`CorruptJobHome` for an entry that cannot be decompressed; and
    :class:`ExtractionCancelled` once ``cancel`` is set. Whatever fails, what
    was written is removed.
    """
    opened = (
        nullcontext(source)
        if isinstance(source, JobPack)
        else JobPack.open(source, strict=worker is None)
    )
    with opened as pack:
        return pack.extract_jobhome(
            dest,
            worker=worker,
            max_entries=max_entries,
            max_bytes=max_bytes,
            max_ratio=max_ratio,
            cancel=cancel,
        )
