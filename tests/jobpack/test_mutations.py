"""Damaged job packs: every failure is a JobPackError naming what is wrong, never a foreign one.

The pack below is small and valid; the tests flip bits, truncate it and splice
bytes into it, then hand it to the reader, the validator, the full job home
check, the extractor and ``discotool inspect``. Besides the random mutations,
each foreign exception zipfile can raise gets its own hand-made pack.
"""

from __future__ import annotations

import contextlib
import io
import json
import stat
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from jobpack_helpers import write_pack

from pydisco import jobpack
from pydisco.cli.main import cli
from pydisco.jobpack import JobHomeError, JobPack, JobPackError

JOBDICT = {
    "prefix": "J",
    "owner": "o",
    "worker": "worker",
    "pipeline": [["map", "split", False]],
    "inputs": [[0, 0, ["raw://a"]]],
    "scheduler": {},
}


def _home() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, method in (
            ("worker", b"#!/bin/sh\necho hello\n" * 4, zipfile.ZIP_DEFLATED),
            ("lib/util.py", b"X = 1\n" * 40, zipfile.ZIP_DEFLATED),
            ("README", b"plain stored text\n", zipfile.ZIP_STORED),
        ):
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            info.compress_type = method
            archive.writestr(info, data)
    return buffer.getvalue()


HOME = _home()
PACK = write_pack(JOBDICT, {"A": "1"}, jobhome=HOME, jobdata=b"data")
HOME_AT = len(PACK) - len(HOME) - 4


def _exercise(data: bytes) -> None:
    """Every entry point either works or raises a JobPackError (OSError for the files)."""
    with contextlib.suppress(JobPackError):
        jobpack.validate(io.BytesIO(data))
    pack = JobPack(io.BytesIO(data), strict=False)
    for attr in ("raw_jobdict", "raw_jobenvs"):
        with contextlib.suppress(JobPackError):
            getattr(pack, attr)
    try:
        assert pack.header.version >= 0
    except JobPackError:
        return
    with contextlib.suppress(JobPackError):
        pack.jobhome_entries()
    verified = True
    try:
        pack.verify_jobhome(worker="worker")
    except JobPackError as exc:
        verified = False
        assert str(exc)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "home"
        try:
            pack.extract_jobhome(target, worker="worker")
        except JobPackError:
            assert not target.exists(), "a failed extraction left its target behind"
            assert not verified, "the full check passed a job home that cannot be extracted"


def _inspect(data: bytes, *extra: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.pack"
        path.write_bytes(data)
        target = Path(tmp) / "out"
        result = CliRunner().invoke(
            cli, ["inspect", str(path), "--validate", "--extract", str(target), *extra]
        )
        # A bug would escape as an exception (and a traceback in a real process).
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        assert "Traceback" not in result.stderr, result.stderr
        assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
        if result.exit_code:
            assert not target.exists(), "inspect --extract left an empty target"
            assert "status: valid" not in result.stdout
        return result.exit_code, result.stderr


@settings(max_examples=60)
@given(st.lists(st.integers(0, len(PACK) * 8 - 1), min_size=1, max_size=3))
def test_bit_flips(bits: list[int]) -> None:
    data = bytearray(PACK)
    for bit in bits:
        data[bit // 8] ^= 1 << (bit % 8)
    _exercise(bytes(data))


@settings(max_examples=60)
@given(st.lists(st.integers(0, len(HOME) * 8 - 1), min_size=1, max_size=2))
def test_bit_flips_in_the_job_home(bits: list[int]) -> None:
    data = bytearray(PACK)
    for bit in bits:
        data[HOME_AT + bit // 8] ^= 1 << (bit % 8)
    _exercise(bytes(data))


@settings(max_examples=40)
@given(st.integers(0, len(PACK)))
def test_truncations(at: int) -> None:
    _exercise(PACK[:at])


@settings(max_examples=40)
@given(
    st.integers(0, len(PACK)),
    st.integers(0, len(PACK)),
    st.integers(1, 64),
    st.booleans(),
)
def test_splices(at: int, source: int, length: int, replace: bool) -> None:
    piece = PACK[source : source + length]
    end = at + len(piece) if replace else at
    _exercise(PACK[:at] + piece + PACK[end:])


@settings(max_examples=15)
@given(st.integers(0, len(HOME) - 1), st.integers(0, 255))
def test_inspect_on_damaged_job_homes(at: int, value: int) -> None:
    data = bytearray(PACK)
    data[HOME_AT + at] = value
    _inspect(bytes(data))


# One hand-made pack per foreign exception zipfile raises.


def _local_header_offsets(home: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(home)) as archive:
        return {info.filename: info.header_offset for info in archive.infolist()}


def _central_offsets(home: bytes) -> dict[str, int]:
    found: dict[str, int] = {}
    at = home.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", home, at + 28)[0]
        found[home[at + 46 : at + 46 + name_len].decode()] = at
        at = home.find(b"PK\x01\x02", at + 4)
    return found


def _with_home(home: bytes) -> bytes:
    return write_pack(JOBDICT, {}, jobhome=home)


def _damaged(kind: str) -> bytes:
    home = bytearray(HOME)
    local = _local_header_offsets(HOME)["worker"]
    central = _central_offsets(HOME)["worker"]
    data_at = local + 30 + len("worker")
    if kind == "zlib":  # invalid deflate block type
        home[data_at] = 0xFF
    elif kind == "eof":  # declared compressed size cuts the deflate stream in half
        size = struct.unpack_from("<I", home, central + 20)[0]
        for at in (central + 20, local + 18):
            struct.pack_into("<I", home, at, size // 2)
    elif kind == "encrypted":
        for at in (local + 6, central + 8):
            home[at] |= 1
    elif kind == "version":
        home[central + 6] = 85
    elif kind == "crc":
        home[central + 16] ^= 0xFF
        home[local + 14] ^= 0xFF
        home[data_at + 3] ^= 0x01
    elif kind == "method":
        for at in (local + 8, central + 10):
            home[at] = 14  # LZMA: not a method Disco's unzip knows
    return _with_home(bytes(home))


KINDS = ["zlib", "eof", "encrypted", "version", "crc", "method"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_foreign_failure_is_a_job_home_error(kind: str, tmp_path: Path) -> None:
    pack = JobPack(io.BytesIO(_damaged(kind)))
    with pytest.raises(JobHomeError) as info:
        pack.verify_jobhome()
    assert "'worker'" in str(info.value)
    assert info.value.entry == "worker"
    target = tmp_path / "home"
    with pytest.raises(JobHomeError):
        pack.extract_jobhome(target)
    assert not target.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_inspect_refuses_each_damaged_pack(kind: str) -> None:
    code, stderr = _inspect(_damaged(kind))
    assert code == 1
    assert "'worker'" in stderr


def test_inspect_validate_passes_a_sound_pack() -> None:
    code, stderr = _inspect(PACK)
    assert code == 0, stderr


def _zip_form() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("jobdict.json", json.dumps(JOBDICT))
        archive.writestr("jobenvs.json", '{"A": "1"}')
        archive.writestr("jobdata", b"some job data " * 8)
        info = zipfile.ZipInfo("worker", (1980, 1, 1, 0, 0, 0))
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, b"#!/bin/sh\necho hello\n" * 4)
    return buffer.getvalue()


ZIP_FORM = _zip_form()


@settings(max_examples=60)
@given(st.lists(st.integers(0, len(ZIP_FORM) * 8 - 1), min_size=1, max_size=2), st.booleans())
def test_zip_form_mutations(bits: list[int], cut: bool) -> None:
    data = bytearray(ZIP_FORM)
    for bit in bits:
        data[bit // 8] ^= 1 << (bit % 8)
    damaged = bytes(data[: bits[0] // 8] if cut else data)
    out = io.BytesIO()
    try:
        jobpack.zip_form_to_binary(io.BytesIO(damaged), out, check=False)
    except JobPackError as exc:
        assert str(exc)
        return
    _exercise(out.getvalue())
