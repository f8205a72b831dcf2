"""Packs from an independent minimal writer read correctly, and vice versa."""

from __future__ import annotations

import io
from pathlib import Path

from jobpack_helpers import read_pack, write_pack, zip_bytes

from pydisco import jobpack


def test_independent_writer_to_library(tmp_path: Path) -> None:
    jobdict = {
        "prefix": "Interop",
        "owner": "a@b",
        "worker": "bin/worker",
        "pipeline": [["map", "split", False], ["reduce", "group_all", True]],
        "inputs": [[0, 5, ["http://n/a", "http://m/a"]]],
        "scheduler": {"max_cores": 2},
        "save_results": False,
    }
    home = zip_bytes({"bin/worker": b"#!/bin/sh\n", "conf/x": b"1"}, {"bin/worker": 0o700})
    data = write_pack(jobdict, {"K": "V"}, home, b"\x00data")
    path = tmp_path / "p.pack"
    path.write_bytes(data)
    with jobpack.JobPack.open(path) as pack:
        assert pack.jobdict.raw == jobdict
        assert pack.jobdict.worker == "bin/worker"
        assert pack.jobenvs == {"K": "V"}
        assert pack.read_jobdata() == b"\x00data"
        assert pack.jobhome_size == len(home)
        names = pack.extract_jobhome(tmp_path / "home")
    assert names == ["bin/worker", "conf/x"]
    assert (tmp_path / "home/bin/worker").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "home/conf/x").read_bytes() == b"1"
    assert jobpack.lint(path) == []


def test_library_writer_to_independent_reader(tmp_path: Path) -> None:
    src = tmp_path / "job"
    (src / "pkg").mkdir(parents=True)
    (src / "worker.py").write_text("#!/usr/bin/env python3\n")
    (src / "pkg" / "mod.py").write_text("X = 1\n")
    out = io.BytesIO()
    header = jobpack.build_jobpack(
        out,
        src,
        worker="worker.py",
        inputs=["http://h/in", ["http://h1/r", "http://h2/r"]],
        pipeline=["map:split", "reduce:group_label:concurrent"],
        prefix="Lib",
        owner="me@host",
        jobenvs={"A": "1"},
        jobdata=b"jd",
        max_cores=8,
    )
    data = out.getvalue()
    got = read_pack(data)
    assert header.jobdata_offset == len(data) - 2
    assert got["version"] == 2
    assert got["jobdict"] == {
        "prefix": "Lib",
        "owner": "me@host",
        "worker": "worker.py",
        "pipeline": [["map", "split", False], ["reduce", "group_label", True]],
        "inputs": [[0, 0, ["http://h/in"]], [0, 0, ["http://h1/r", "http://h2/r"]]],
        "scheduler": {"max_cores": 8},
        "save_results": False,
    }
    assert got["jobenvs"] == {"A": "1"}
    assert got["files"] == {"worker.py": b"#!/usr/bin/env python3\n", "pkg/mod.py": b"X = 1\n"}
    assert got["modes"]["worker.py"] == 0o755
    assert got["jobdata"] == b"jd"
    assert data[20:128] == b"\0" * 108


def test_version_1_both_ways(tmp_path: Path) -> None:
    """A classic (version 1) pack: the independent writer's is read, the library's is readable."""
    jobdict = {
        "prefix": "Classic",
        "owner": "a@b",
        "worker": "worker",
        "input": ["http://n/a", ["dir://n/idx", "dir://m/idx"], "raw://r"],
        "map?": True,
        "reduce?": True,
        "reduce_shuffle?": False,
        "nr_reduces": 2,
        "scheduler": {"force_local": True},
        "save_results": False,
    }
    path = tmp_path / "v1.pack"
    path.write_bytes(write_pack(jobdict, {}, zip_bytes({"worker": b"#!/bin/sh\n"}), version=1))
    with jobpack.JobPack.open(path) as pack:
        assert pack.header.version == 1
        typed = pack.jobdict
        assert typed.raw == jobdict
        assert [(s.name, str(s.grouping)) for s in typed.pipeline] == [
            ("map", "split"),
            ("map_shuffle", "group_node"),
            ("reduce", "group_label"),
        ]
        assert [list(i.urls) for i in typed.inputs] == [
            ["http://n/a"],
            ["dir://n/idx"],
            ["raw://r"],
        ]
        assert [i.is_dir for i in typed.inputs] == [False, True, False]

    home = tmp_path / "home"
    home.mkdir()
    (home / "worker").write_text("#!/bin/sh\n")
    written = jobpack.jobpack_bytes(
        jobdict=jobpack.make_jobdict_v1(
            prefix="Classic", worker="worker", owner="a@b", inputs=jobdict["input"], reduce=True
        ),
        jobenvs={"K": "V"},
        jobhome=home,
        version=1,
    )
    got = read_pack(written)
    assert got["version"] == 1
    assert got["jobdict"]["input"] == jobdict["input"]
    assert got["jobdict"]["map?"] is True and got["jobdict"]["reduce?"] is True
    assert got["jobenvs"] == {"K": "V"} and got["files"] == {"worker": b"#!/bin/sh\n"}
    assert got["modes"]["worker"] & 0o100
