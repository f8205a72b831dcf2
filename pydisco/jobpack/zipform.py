"""Zip-form job packs, and telling the two forms apart.

A *zip-form* job pack is an ordinary ``.zip`` archive with ``jobdict.json`` at
its root, optionally ``jobenvs.json`` (a JSON object of strings) and
``jobdata`` (raw bytes); every other entry belongs to the job home. The form
of a file is decided by its first bytes, never by its name: ``D5 C0`` is a
binary job pack, ``PK\\x03\\x04`` or ``PK\\x05\\x06`` a zip.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import IO, Any, Literal

from pydisco import jsoncodec
from pydisco.jobpack.errors import BuildError, CorruptJobHome, JobPackTooLarge, NotAJobPack
from pydisco.jobpack.jobhome import (
    DAMAGED_DATA,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ENTRIES,
    METHODS,
    ZIP_FAILURES,
    copy_entries,
    open_zip,
)
from pydisco.jobpack.parts import MAGIC_BYTES, Header
from pydisco.jobpack.validation import DEFAULT_MAX_JSON_BYTES
from pydisco.jobpack.writer import HomeSource, emit_sections, encode_dicts

Form = Literal["binary", "zip"]
PathOrFile = str | os.PathLike[str] | IO[bytes]

#: Root entries of a zip-form pack that are not part of the job home.
JOBDICT_NAME = "jobdict.json"
JOBENVS_NAME = "jobenvs.json"
JOBDATA_NAME = "jobdata"
SPECIAL_NAMES = (JOBDICT_NAME, JOBENVS_NAME, JOBDATA_NAME)


def form_of(head: bytes) -> Form | None:
    """The form whose signature ``head`` (the first 4 bytes) carries, or ``None``."""
    if head[:2] == MAGIC_BYTES:
        return "binary"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    return None


def detect_form(source: PathOrFile) -> Form:
    """``"binary"`` or ``"zip"`` from the first bytes; raises :class:`NotAJobPack` otherwise.

    A file object is read from its current position, which is restored.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fp:
            head = fp.read(4)
        name = os.fspath(source)
    else:
        position = source.tell()
        head = source.read(4)
        source.seek(position)
        name = getattr(source, "name", "the stream")
    form = form_of(head)
    if form is None:
        raise NotAJobPack(
            f"{name} is neither a binary job pack (magic D5 C0) nor a zip-form job pack "
            f"(a .zip with jobdict.json); it starts with {head.hex(' ') or 'nothing'}."
        )
    return form


def infer_version(jobdict: dict[str, Any]) -> int:
    """2 when the job dict has ``pipeline`` or ``inputs``, 1 when it has ``input``, else 2."""
    if "pipeline" in jobdict or "inputs" in jobdict:
        return 2
    return 1 if "input" in jobdict else 2


def _read_json(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int) -> Any:
    try:
        with archive.open(info) as member:
            data = member.read(max_bytes + 1)
    except ZIP_FAILURES as exc:
        raise CorruptJobHome(
            f"{info.filename} could not be read from the zip-form job pack "
            f"({type(exc).__name__}: {exc}); rebuild it.",
            entry=info.filename,
        ) from None
    if len(data) > max_bytes:
        raise JobPackTooLarge(f"{info.filename} is larger than {max_bytes} bytes.")
    try:
        return jsoncodec.loads(data)
    except jsoncodec.JSONError as exc:
        raise BuildError(f"{info.filename} in the zip-form job pack is not JSON: {exc}.") from None


def _open(source: PathOrFile, stack: ExitStack) -> IO[bytes]:
    if isinstance(source, (str, os.PathLike)):
        return stack.enter_context(open(source, "rb"))
    return source


def zip_form_to_binary(
    source: PathOrFile,
    out: IO[bytes],
    *,
    version: int | None = None,
    check: bool = True,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Header:
    """Convert a zip-form job pack into a binary one written to ``out``; returns the header.

    Job home entries are re-zipped one at a time (bounded memory) and checked
    as extraction checks them. ``version`` defaults to :func:`infer_version`.
    """
    with ExitStack() as stack:
        fp = _open(source, stack)
        archive = stack.enter_context(open_zip(fp, max_entries=max_entries))
        infos = archive.infolist()
        by_name = {info.filename: info for info in infos}
        if JOBDICT_NAME not in by_name:
            raise NotAJobPack(
                "The zip archive has no jobdict.json at its root, so it is not a zip-form "
                "job pack; add jobdict.json (and optionally jobenvs.json and jobdata)."
            )
        for name in SPECIAL_NAMES:
            info = by_name.get(name)
            if info is not None and (info.compress_type not in METHODS or info.flag_bits & 1):
                raise CorruptJobHome(
                    f"{name} in the zip-form job pack is encrypted or uses compression method "
                    f"{info.compress_type}; only stored (0) and deflated (8) are read.",
                    entry=name,
                )
        jobdict = _read_json(archive, by_name[JOBDICT_NAME], DEFAULT_MAX_JSON_BYTES)
        if not isinstance(jobdict, dict):
            raise BuildError("jobdict.json must hold a JSON object.")
        jobenvs: Any = {}
        if JOBENVS_NAME in by_name:
            jobenvs = _read_json(archive, by_name[JOBENVS_NAME], DEFAULT_MAX_JSON_BYTES)
        if not isinstance(jobenvs, dict):
            raise BuildError("jobenvs.json must hold a JSON object of strings.")
        if version is None:
            version = infer_version(jobdict)
        dict_bytes, envs_bytes = encode_dicts(version, jobdict, jobenvs, check=check)
        home_infos = [i for i in infos if i.filename not in SPECIAL_NAMES]
        worker = jobdict.get("worker")
        home = HomeSource(
            None,
            lambda dst: copy_entries(
                archive,
                home_infos,
                dst,
                max_bytes=max_bytes,
                executable=worker if isinstance(worker, str) else None,
            ),
        )
        jobdata: Any = b""
        try:
            if JOBDATA_NAME in by_name:
                jobdata = stack.enter_context(archive.open(by_name[JOBDATA_NAME]))
            return emit_sections(
                out,
                version,
                dict_bytes=dict_bytes,
                envs_bytes=envs_bytes,
                home=home,
                jobdata=jobdata,
            )
        except DAMAGED_DATA as exc:
            raise CorruptJobHome(
                f"{JOBDATA_NAME} could not be read from the zip-form job pack "
                f"({type(exc).__name__}: {exc}); rebuild it.",
                entry=JOBDATA_NAME,
            ) from None


@contextmanager
def open_binary(source: PathOrFile, *, version: int | None = None) -> Iterator[IO[bytes]]:
    """A readable, seekable binary job pack for a file of either form.

    A binary pack is opened as is (a file object is yielded at its position);
    a zip-form pack is converted into a temporary file, removed on exit. This
    is what ``discotool submit`` uses to accept both forms.
    """
    form = detect_form(source)
    if form == "binary":
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as fp:
                yield fp
        else:
            yield source
        return
    with tempfile.TemporaryFile() as tmp:
        zip_form_to_binary(source, tmp, version=version)
        tmp.seek(0)
        yield tmp
