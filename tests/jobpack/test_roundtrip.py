"""Writing then reading gives back what was written (hypothesis), in every input form."""

from __future__ import annotations

import io
import os
import string
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from jobpack_helpers import read_pack, zip_bytes

from pydisco import jobpack
from pydisco.jobpack import Grouping, JobInput, JobPack, PipelineStage

names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
safe = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=12)
stages = st.lists(
    st.builds(PipelineStage, names, st.sampled_from(list(Grouping)), st.booleans()),
    max_size=5,
    unique_by=lambda s: s.name,
)
urls = st.lists(st.text(max_size=20).map(lambda s: "http://h/" + s), max_size=3)
inputs = st.lists(
    st.builds(JobInput, st.integers(-5, 2**40), st.integers(0, 2**40), urls), max_size=5
)
envs = st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5)
files = st.dictionaries(
    st.lists(safe, min_size=1, max_size=3).map("/".join), st.binary(max_size=2000), max_size=6
)


def v2_dict(
    prefix: str, pipeline: list[PipelineStage], job_inputs: list[JobInput]
) -> dict[str, Any]:
    return jobpack.make_jobdict_v2(
        prefix=prefix, worker="worker", owner="me@here", inputs=job_inputs, pipeline=pipeline
    )


@given(
    prefix=names.filter(lambda p: "/" not in p and "." not in p),
    pipeline=stages,
    job_inputs=inputs,
    jobenvs=envs,
    home=files,
    jobdata=st.binary(max_size=3000),
)
def test_roundtrip_v2(
    prefix: str,
    pipeline: list[PipelineStage],
    job_inputs: list[JobInput],
    jobenvs: dict[str, str],
    home: dict[str, bytes],
    jobdata: bytes,
) -> None:
    jobdict = v2_dict(prefix, pipeline, job_inputs)
    home_zip = zip_bytes({"worker": b"#!/bin/sh\n", **home})
    data = jobpack.jobpack_bytes(
        jobdict=jobdict, jobenvs=jobenvs, jobhome=home_zip, jobdata=jobdata
    )
    with JobPack(io.BytesIO(data)) as pack:
        assert pack.jobdict.prefix == prefix
        assert pack.jobdict.pipeline == tuple(pipeline)
        assert pack.jobdict.inputs == tuple(job_inputs)
        assert pack.jobenvs == jobenvs
        assert pack.read_jobdata() == jobdata
        with pack.open_jobhome() as section:
            assert section.read() == home_zip
    # The independent reader agrees.
    independent = read_pack(data)
    assert independent["jobdict"] == jobdict
    assert independent["jobdata"] == jobdata


@given(home=files, jobdata=st.binary(max_size=500))
def test_roundtrip_directory_home(home: dict[str, bytes], jobdata: bytes) -> None:
    with tempfile.TemporaryDirectory() as root:
        src = Path(root, "src")
        src.mkdir()
        for name, content in {"worker": b"#!/bin/sh\n", **home}.items():
            path = src.joinpath(*name.split("/"))
            if path.exists() or any(p.is_file() for p in path.parents if p != src):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        out = io.BytesIO()
        jobpack.build_jobpack(out, src, worker="worker", inputs=["http://h/a"], jobdata=jobdata)
        out.seek(0)
        dest = Path(root, "dest")
        with JobPack(out) as pack:
            pack.extract_jobhome(dest)
            assert pack.read_jobdata() == jobdata
        for path in src.rglob("*"):
            if path.is_file():
                assert dest.joinpath(path.relative_to(src)).read_bytes() == path.read_bytes()
        assert os.stat(dest / "worker").st_mode & 0o777 == 0o755


def test_every_jobhome_source_gives_the_same_pack(tmp_path: Path) -> None:
    home = zip_bytes({"w": b"x"})
    (tmp_path / "home.zip").write_bytes(home)
    jobdict = v2_dict("p", [], [])
    expected = jobpack.jobpack_bytes(jobdict=jobdict, jobhome=home, jobdata=b"D")
    assert (
        jobpack.jobpack_bytes(jobdict=jobdict, jobhome=tmp_path / "home.zip", jobdata=b"D")
        == expected
    )
    assert (
        jobpack.jobpack_bytes(jobdict=jobdict, jobhome=io.BytesIO(home), jobdata=io.BytesIO(b"D"))
        == expected
    )


def test_non_seekable_output_and_input(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "worker").write_bytes(b"#!/bin/sh\n")
    r, w = os.pipe()
    with os.fdopen(w, "wb") as out, os.fdopen(r, "rb") as pipe_in:
        chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: chunks.append(pipe_in.read()))
        reader.start()
        jobpack.build_jobpack(out, tmp_path / "src", worker="worker", jobdata=b"xyz")
        out.close()
        reader.join()
    with JobPack(io.BytesIO(chunks[0])) as pack:
        assert pack.read_jobdata() == b"xyz"
        assert [e.name for e in pack.jobhome_entries()] == ["worker"]
    # A non-seekable job home stream is spooled.
    r, w = os.pipe()
    home = zip_bytes({"worker": b"x"})
    os.write(w, home)
    os.close(w)
    with os.fdopen(r, "rb") as pipe_in:
        data = jobpack.jobpack_bytes(jobdict=v2_dict("p", [], []), jobhome=pipe_in)
    assert read_pack(data)["files"] == {"worker": b"x"}


def test_version_1_roundtrip() -> None:
    jobdict = jobpack.make_jobdict_v1(
        prefix="c",
        worker="w",
        inputs=["http://a", ["http://b", "http://c"]],
        reduce=True,
        nr_reduces=4,
        reduce_shuffle=True,
    )
    data = jobpack.jobpack_bytes(jobdict=jobdict, version=1, jobhome=zip_bytes({"w": b""}))
    jd = jobpack.validate(io.BytesIO(data))
    assert jd.version == 1
    assert [s.name for s in jd.pipeline] == ["map", "map_shuffle", "reduce", "reduce_shuffle"]
    assert jd.inputs[1].urls == ("http://b", "http://c")


def test_writer_refuses_invalid_jobdict_unless_told() -> None:
    bad = {
        "prefix": "a.b",
        "owner": "o",
        "worker": "w",
        "pipeline": [],
        "inputs": [],
        "scheduler": {},
    }
    try:
        jobpack.jobpack_bytes(jobdict=bad)
    except jobpack.InvalidJobPack as exc:
        assert exc.reason == '"invalid prefix"'
    else:
        raise AssertionError("expected InvalidJobPack")
    data = jobpack.jobpack_bytes(jobdict=bad, check=False)
    assert read_pack(data)["jobdict"] == bad


def test_zip_directory_stores_modes(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "run.sh").chmod(0o750)
    (tmp_path / "data").write_text("d")
    (tmp_path / "data").chmod(0o600)
    buffer = io.BytesIO()
    jobpack.zip_directory(tmp_path, buffer, compression=zipfile.ZIP_STORED)
    with zipfile.ZipFile(buffer) as archive:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
    assert modes == {"data": 0o600, "run.sh": 0o750}


def test_pack_written_inside_its_own_job_home_leaves_itself_out(tmp_path: Path) -> None:
    (tmp_path / "worker").write_text("#!/bin/sh\n")
    (tmp_path / "old.pack").write_bytes(b"stale")
    with (tmp_path / "job.pack").open("wb") as out:
        jobpack.write_jobpack(
            out,
            jobdict=v2_dict("p", [], []),
            jobhome=tmp_path,
            exclude=[tmp_path / "old.pack"],
        )
    with JobPack.open(tmp_path / "job.pack") as pack:
        assert [e.name for e in pack.jobhome_entries()] == ["worker"]
