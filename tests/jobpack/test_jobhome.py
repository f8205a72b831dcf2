"""Job home safety: every unsafe archive kind, limits, permissions, cleanup."""

from __future__ import annotations

import io
import os
import stat
import threading
import zipfile
from pathlib import Path

import pytest
from jobpack_helpers import write_pack

from pydisco import jobpack
from pydisco.jobpack import ExtractionCancelled, JobHomeError, UnsafeJobHome

JOBDICT = {
    "prefix": "J",
    "owner": "o",
    "worker": "worker",
    "pipeline": [],
    "inputs": [],
    "scheduler": {},
}


def home(*entries: tuple[str, bytes, int], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


WORKER = ("worker", b"#!/bin/sh\n", stat.S_IFREG | 0o644)
REG = stat.S_IFREG | 0o644


def extract(data: bytes, dest: Path, **limits: int) -> list[str]:
    return jobpack.extract_jobhome(io.BytesIO(write_pack(JOBDICT, jobhome=data)), dest, **limits)


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("../escape", stat.S_IFREG | 0o644),
        ("a/../../escape", stat.S_IFREG | 0o644),
        ("/abs/path", stat.S_IFREG | 0o644),
        ("C:/windows", stat.S_IFREG | 0o644),
        ("..\\escape", stat.S_IFREG | 0o644),
        ("link", stat.S_IFLNK | 0o777),
        ("chr", stat.S_IFCHR | 0o600),
        ("blk", stat.S_IFBLK | 0o600),
        ("fifo", stat.S_IFIFO | 0o600),
        ("sock", stat.S_IFSOCK | 0o600),
    ],
)
def test_unsafe_entries_are_refused_before_writing(name: str, mode: int, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeJobHome) as info:
        extract(home(WORKER, (name, b"x", mode)), dest)
    assert info.value.entry == name
    assert repr(name) in str(info.value)
    assert not (dest / "worker").exists()
    assert sorted(os.listdir(tmp_path)) in ([], ["dest"])


def test_name_rules() -> None:
    from pydisco.jobpack.jobhome import name_problem

    assert name_problem("nul\0name") == "contains a NUL character"
    assert name_problem("") == "has an empty name"
    assert name_problem("ok/./name") == ""
    assert name_problem("a..b/c..") == ""


def test_symlink_already_in_destination_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "sub").symlink_to(outside)
    with pytest.raises(UnsafeJobHome, match="outside the job home"):
        extract(home(WORKER, ("sub/file", b"x", stat.S_IFREG | 0o644)), dest)
    assert list(outside.iterdir()) == []


def test_symlink_file_in_destination_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("keep")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "worker").symlink_to(target)
    with pytest.raises(UnsafeJobHome):
        extract(home(WORKER), dest)
    assert target.read_text() == "keep"


def test_entry_count_limit(tmp_path: Path) -> None:
    entries = [WORKER] + [(f"f{i}", b"", stat.S_IFREG | 0o644) for i in range(5)]
    with pytest.raises(UnsafeJobHome, match="entries"):
        extract(home(*entries), tmp_path / "d", max_entries=5)
    assert len(extract(home(*entries), tmp_path / "e", max_entries=6)) == 6


def test_size_limit_counts_decompressed_bytes(tmp_path: Path) -> None:
    bomb = home(
        WORKER, ("zeros", b"\0" * 3_000_000, stat.S_IFREG | 0o644), compression=zipfile.ZIP_DEFLATED
    )
    assert len(bomb) < 50_000
    with pytest.raises(UnsafeJobHome, match="zip bomb") as info:
        extract(bomb, tmp_path / "d", max_bytes=1_000_000)
    assert info.value.entry == "zeros"
    assert not (tmp_path / "d" / "zeros").exists()
    assert not (tmp_path / "d" / "worker").exists()  # created files are removed again


def test_size_limit_ignores_lying_headers(tmp_path: Path) -> None:
    """Declared sizes are patched to claim 10 bytes; the real data is still counted or refused."""
    data = bytearray(
        home(
            WORKER, ("big", b"A" * 500_000, stat.S_IFREG | 0o644), compression=zipfile.ZIP_DEFLATED
        )
    )
    # Patch the uncompressed size in the central directory entry of "big".
    at = data.rfind(b"PK\x01\x02")
    data[at + 24 : at + 28] = (10).to_bytes(4, "little")
    with pytest.raises((UnsafeJobHome, JobHomeError)):
        extract(bytes(data), tmp_path / "d", max_bytes=100_000)


def test_count_bomb_refused_from_end_record_before_parsing(tmp_path: Path) -> None:
    data = bytearray(home(WORKER))
    at = data.rfind(b"PK\x05\x06")
    data[at + 10 : at + 12] = (65535).to_bytes(2, "little")  # claim 65535 entries
    with pytest.raises(UnsafeJobHome, match="65535"):
        extract(bytes(data), tmp_path / "d", max_entries=1000)


def test_permissions(tmp_path: Path) -> None:
    data = home(
        WORKER,
        ("script", b"", stat.S_IFREG | 0o4777),
        ("private", b"", stat.S_IFREG | 0o600),
        ("nomode", b"", 0),
        ("dir/", b"", stat.S_IFDIR | 0o700),
    )
    extract(data, tmp_path)
    mode = lambda name: stat.S_IMODE(os.stat(tmp_path / name).st_mode)  # noqa: E731
    assert mode("worker") == 0o755
    assert mode("script") == 0o755  # setuid and world-write dropped
    assert mode("private") == 0o644
    assert mode("nomode") == 0o644
    assert (tmp_path / "dir").is_dir()


def test_worker_must_exist_and_stay_inside(tmp_path: Path) -> None:
    with pytest.raises(JobHomeError, match="not a file in the job home"):
        jobpack.extract_jobhome(
            io.BytesIO(write_pack(JOBDICT, jobhome=home(WORKER))), tmp_path / "a", worker="other"
        )
    with pytest.raises(UnsafeJobHome):
        jobpack.extract_jobhome(
            io.BytesIO(write_pack(JOBDICT, jobhome=home(WORKER))), tmp_path / "b", worker="/bin/sh"
        )


def test_not_a_zip(tmp_path: Path) -> None:
    for data in (b"", b"garbage that is not a zip"):
        with pytest.raises(JobHomeError, match="not a zip"):
            extract(data, tmp_path / "d")


def test_building_refuses_special_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "worker").write_text("x")
    os.mkfifo(src / "fifo")
    with pytest.raises(jobpack.BuildError, match="not a regular file"):
        jobpack.build_jobpack(io.BytesIO(), src, worker="worker")
    (src / "fifo").unlink()
    (src / "dirlink").symlink_to(tmp_path)
    with pytest.raises(jobpack.BuildError, match="symbolic link to a directory"):
        jobpack.build_jobpack(io.BytesIO(), src, worker="worker")


def test_build_checks_worker(tmp_path: Path) -> None:
    (tmp_path / "w").write_text("x")
    for worker in ("absent", "../w", "/w"):
        with pytest.raises(jobpack.BuildError):
            jobpack.build_jobpack(io.BytesIO(), tmp_path, worker=worker)


def test_extracting_next_to_the_pack_never_overwrites_it(tmp_path: Path) -> None:
    """The master keeps the pack as <job home>/jobfile; an entry must not clobber it."""
    pack = tmp_path / "jobfile"
    data = write_pack(JOBDICT, jobhome=home(WORKER, ("jobfile", b"evil", stat.S_IFREG | 0o644)))
    pack.write_bytes(data)
    with pytest.raises(UnsafeJobHome, match="job pack being extracted"):
        jobpack.extract_jobhome(pack, tmp_path)
    assert pack.read_bytes() == data


class _SetAfter(threading.Event):
    """An event that reads as set from its ``n``-th check on (a deterministic kill)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_cancel_stops_extraction_and_removes_what_was_written(tmp_path: Path) -> None:
    big = bytes(3 << 20)  # three read chunks per entry
    data = home(WORKER, ("a/one", big, REG), ("a/two", big, REG), ("three", big, REG))
    dest = tmp_path / "new" / "home"
    with pytest.raises(ExtractionCancelled, match="killed") as info:
        jobpack.extract_jobhome(
            io.BytesIO(write_pack(JOBDICT, jobhome=data)), dest, cancel=_SetAfter(5)
        )
    assert info.value.entry == "a/two"
    assert not (tmp_path / "new").exists()
