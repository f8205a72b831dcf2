"""Zip-form job packs and form detection by content."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jobpack_helpers import read_pack, write_pack, zip_bytes

from pydisco import jobpack
from pydisco.jobpack import NotAJobPack

JOBDICT = {
    "prefix": "Z",
    "owner": "o",
    "worker": "bin/w",
    "pipeline": [["map", "split", False]],
    "inputs": [[0, 0, ["http://a/b"]]],
    "scheduler": {},
}


def zip_form(**extra: bytes) -> bytes:
    files = {"jobdict.json": json.dumps(JOBDICT).encode(), "bin/w": b"#!/bin/sh\n", **extra}
    return zip_bytes(files)


def test_detect_form_by_content_not_name(tmp_path: Path) -> None:
    (tmp_path / "pack.zip").write_bytes(write_pack(JOBDICT))
    (tmp_path / "pack.bin").write_bytes(zip_form())
    assert jobpack.detect_form(tmp_path / "pack.zip") == "binary"
    assert jobpack.detect_form(tmp_path / "pack.bin") == "zip"
    stream = io.BytesIO(b"xx" + zip_form())
    stream.seek(2)
    assert jobpack.detect_form(stream) == "zip"
    assert stream.tell() == 2
    with pytest.raises(NotAJobPack, match="neither"):
        jobpack.detect_form(io.BytesIO(b"PK\x01\x02"))


def test_conversion(tmp_path: Path) -> None:
    src = zip_form(**{"jobenvs.json": b'{"A": "b"}', "jobdata": b"\x00\x01", "lib/x.py": b"1"})
    out = io.BytesIO()
    header = jobpack.zip_form_to_binary(io.BytesIO(src), out)
    got = read_pack(out.getvalue())
    assert header.version == 2
    assert got["jobdict"] == JOBDICT
    assert got["jobenvs"] == {"A": "b"}
    assert got["jobdata"] == b"\x00\x01"
    assert got["files"] == {"bin/w": b"#!/bin/sh\n", "lib/x.py": b"1"}
    assert got["modes"]["bin/w"] == 0o755


def test_conversion_to_non_seekable_output(tmp_path: Path) -> None:
    class Sink(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: object) -> int:
            chunk = bytes(b)  # type: ignore[call-overload]
            self.data += chunk
            return len(chunk)

    sink = Sink()
    jobpack.zip_form_to_binary(io.BytesIO(zip_form()), sink)  # type: ignore[arg-type]
    assert jobpack.validate(io.BytesIO(bytes(sink.data))).worker == "bin/w"


def test_open_binary_for_both_forms(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(write_pack(JOBDICT))
    (tmp_path / "b").write_bytes(zip_form())
    for name in ("a", "b"):
        with jobpack.open_binary(tmp_path / name) as fp:
            assert jobpack.validate(fp).prefix == "Z"


def test_zip_form_errors() -> None:
    with pytest.raises(NotAJobPack, match=r"jobdict\.json"):
        jobpack.zip_form_to_binary(io.BytesIO(zip_bytes({"x": b""})), io.BytesIO())
    with pytest.raises(jobpack.BuildError, match="not JSON"):
        jobpack.zip_form_to_binary(io.BytesIO(zip_bytes({"jobdict.json": b"{"})), io.BytesIO())
    with pytest.raises(jobpack.InvalidJobPack):
        bad = zip_bytes({"jobdict.json": json.dumps({**JOBDICT, "prefix": "a.b"}).encode()})
        jobpack.zip_form_to_binary(io.BytesIO(bad), io.BytesIO())
    with pytest.raises(jobpack.UnsafeJobHome):
        jobpack.zip_form_to_binary(io.BytesIO(zip_form(**{"../x": b""})), io.BytesIO())


def test_version_inference_and_override() -> None:
    v1 = {k: v for k, v in JOBDICT.items() if k not in ("pipeline", "inputs")}
    v1.update({"input": ["http://a"], "nr_reduces": 1})
    assert jobpack.infer_version(v1) == 1
    assert jobpack.infer_version(JOBDICT) == 2
    out = io.BytesIO()
    src = zip_bytes({"jobdict.json": json.dumps(v1).encode(), "bin/w": b""})
    assert jobpack.zip_form_to_binary(io.BytesIO(src), out).version == 1
    with pytest.raises(jobpack.InvalidJobPack, match="pipeline"):
        jobpack.zip_form_to_binary(io.BytesIO(src), io.BytesIO(), version=2)


def test_compression_methods_are_normalised() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("jobdict.json", json.dumps(JOBDICT))
        archive.writestr("bin/w", b"x" * 1000, compress_type=zipfile.ZIP_BZIP2)
        archive.writestr("s", b"y", compress_type=zipfile.ZIP_STORED)
    out = io.BytesIO()
    jobpack.zip_form_to_binary(io.BytesIO(buffer.getvalue()), out)
    pack = jobpack.JobPack(io.BytesIO(out.getvalue()))
    with zipfile.ZipFile(pack.open_jobhome()) as home:  # type: ignore[arg-type]
        methods = {i.filename: i.compress_type for i in home.infolist()}
    assert methods == {"bin/w": zipfile.ZIP_DEFLATED, "s": zipfile.ZIP_STORED}


@given(
    home=st.dictionaries(
        st.lists(st.sampled_from(["a", "b", "lib", "x.py"]), min_size=1, max_size=3).map("/".join),
        st.binary(max_size=300),
        max_size=5,
    ),
    envs=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    jobdata=st.none() | st.binary(max_size=300),
)
def test_zip_form_roundtrip(
    home: dict[str, bytes], envs: dict[str, str], jobdata: bytes | None
) -> None:
    files = {
        "jobdict.json": json.dumps(JOBDICT).encode(),
        "jobenvs.json": json.dumps(envs).encode(),
    }
    if jobdata is not None:
        files["jobdata"] = jobdata
    home = {k: v for k, v in home.items() if not any(o.startswith(k + "/") for o in home)}
    files.update(home)
    out = io.BytesIO()
    jobpack.zip_form_to_binary(io.BytesIO(zip_bytes(files)), out)
    got = read_pack(out.getvalue())
    assert got["jobdict"] == JOBDICT
    assert got["jobenvs"] == envs
    assert got["jobdata"] == (jobdata or b"")
    assert got["files"] == home
