"""Reading and writing stream: memory stays bounded however big the job home is."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydisco import jobpack

SIZE = 48 * 1024 * 1024
LIMIT = 12 * 1024 * 1024


def peak(action: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def make_home(root: Path) -> str:
    home = root / "home"
    home.mkdir()
    (home / "worker").write_text("#!/bin/sh\n")
    digest = hashlib.sha256()
    with (home / "big.bin").open("wb") as out:
        for _ in range(SIZE // (1 << 20)):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def test_write_and_read_large_pack_in_bounded_memory(tmp_path: Path) -> None:
    expected = make_home(tmp_path)
    pack_path = tmp_path / "big.pack"

    def write() -> None:
        with pack_path.open("wb") as out, (tmp_path / "home" / "big.bin").open("rb") as data:
            jobpack.build_jobpack(
                out,
                tmp_path / "home",
                worker="worker",
                jobdata=data,
                compression=zipfile.ZIP_STORED,
            )

    assert peak(write) < LIMIT
    assert pack_path.stat().st_size > 2 * SIZE

    def read() -> None:
        with jobpack.JobPack.open(pack_path) as pack:
            digest = hashlib.sha256()
            with pack.open_jobdata() as section:
                while chunk := section.read(1 << 20):
                    digest.update(chunk)
            assert digest.hexdigest() == expected
            pack.extract_jobhome(tmp_path / "out")

    assert peak(read) < LIMIT
    digest = hashlib.sha256()
    with (tmp_path / "out" / "big.bin").open("rb") as extracted:
        while chunk := extracted.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == expected


def test_zip_form_conversion_in_bounded_memory(tmp_path: Path) -> None:
    src = tmp_path / "form.zip"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(
            "jobdict.json",
            '{"prefix":"p","owner":"o","worker":"w","pipeline":[],"inputs":[],"scheduler":{}}',
        )
        archive.writestr("w", b"")
        with archive.open("big", "w", force_zip64=True) as member:
            for _ in range(SIZE // (1 << 20)):
                member.write(os.urandom(1 << 20))

    def convert() -> None:
        with (tmp_path / "out.pack").open("wb") as out:
            jobpack.zip_form_to_binary(src, out)

    assert peak(convert) < LIMIT
    with jobpack.JobPack.open(tmp_path / "out.pack") as pack:
        assert {e.name: e.size for e in pack.jobhome_entries()}["big"] == SIZE
