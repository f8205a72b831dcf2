"""Every option of ``discotool pack`` and ``discotool inspect`` not covered in test_cli.py,
and their failures: one line on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import io
import json
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from jobpack_helpers import read_pack, write_pack, zip_bytes

from pydisco.cli.main import cli

JOBDICT = {
    "prefix": "Opts",
    "owner": "o@h",
    "worker": "worker.py",
    "pipeline": [["map", "split", False]],
    "inputs": [[0, 0, ["raw://x"]]],
    "scheduler": {},
}


def invoke(*args: str) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout_bytes, result.stderr


def one_line_error(code: int, err: str) -> None:
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("Error: "), err
    assert "Traceback" not in err


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    home = tmp_path / "opts-job"
    (home / "data").mkdir(parents=True)
    (home / "worker.py").write_text("#!/usr/bin/env python3\n")
    (home / "data" / "table.txt").write_text("a b c\n" * 100)
    return home


def test_pack_job_dict_options_and_stdout(job_dir: Path) -> None:
    code, out, err = invoke(
        "pack",
        str(job_dir),
        "--worker",
        "worker.py",
        "--prefix",
        "Named",
        "--owner",
        "alice@example",
        "--max-cores",
        "3",
        "--save-results",
        "--version",
        "2",
        "--input",
        "raw://one",
        "-o",
        "-",
    )
    assert code == 0, err
    got = read_pack(out)
    assert got["version"] == 2
    assert got["jobdict"] == {
        "prefix": "Named",
        "owner": "alice@example",
        "worker": "worker.py",
        "pipeline": [["map", "split", False]],
        "inputs": [[0, 0, ["raw://one"]]],
        "scheduler": {"max_cores": 3},
        "save_results": True,
    }
    assert set(got["files"]) == {"worker.py", "data/table.txt"}


def test_pack_stored_keeps_files_uncompressed(job_dir: Path, tmp_path: Path) -> None:
    methods = {}
    for flag in ("--stored", None):
        out = tmp_path / f"{flag or 'deflated'}.pack"
        args = ["pack", str(job_dir), "--worker", "worker.py", "-o", str(out)]
        code, _, err = invoke(*args, *([flag] if flag else []))
        assert code == 0, err
        data = out.read_bytes()
        _, _, home_at, data_at = struct.unpack_from("!IIII", data, 4)
        home = data[home_at:data_at]
        with zipfile.ZipFile(io.BytesIO(home)) as archive:
            methods[flag] = {i.filename: i.compress_type for i in archive.infolist()}
        assert read_pack(data)["files"]["data/table.txt"] == b"a b c\n" * 100
    assert set(methods["--stored"].values()) == {zipfile.ZIP_STORED}
    assert methods[None]["data/table.txt"] == zipfile.ZIP_DEFLATED


def test_pack_version_1_flags_give_the_converted_pipeline(job_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "v1.pack"
    code, _, err = invoke(
        "pack",
        str(job_dir),
        "--worker",
        "worker.py",
        "--version",
        "1",
        "--no-map",
        "--reduce",
        "--reduce-shuffle",
        "--nr-reduces",
        "3",
        "--replicas",
        "raw://a raw://a-again",
        "--input",
        "raw://one two",
        "-o",
        str(out),
    )
    assert code == 0, err
    jobdict = read_pack(out.read_bytes())["jobdict"]
    assert jobdict["input"][0] == "raw://one two"  # --input is one URL, spaces and all
    jobdict["input"] = jobdict["input"][1:]
    assert jobdict["map?"] is False and jobdict["reduce_shuffle?"] is True
    assert jobdict["input"] == [["raw://a", "raw://a-again"]]
    code, shown, err = invoke("inspect", "--json", "--validate", str(out))
    assert code == 0, err
    info = json.loads(shown)
    assert info["header"]["version"] == 1
    assert info["pipeline"] == [
        ["reduce", "group_label", False],
        ["reduce_shuffle", "group_node", False],
    ]


def test_zip_form_version_override(tmp_path: Path) -> None:
    src = tmp_path / "form.zip"
    v1 = {"prefix": "Z", "owner": "o", "worker": "w", "input": ["raw://x"], "map?": True}
    v1 |= {"nr_reduces": 1, "scheduler": {}}
    src.write_bytes(zip_bytes({"jobdict.json": json.dumps(v1).encode(), "w": b""}))
    code, out, err = invoke("pack", str(src), "-o", "-")
    assert code == 0, err
    assert read_pack(out)["version"] == 1  # inferred from the keys
    code, out, err = invoke("pack", str(src), "--version", "2", "-o", "-")
    assert code == 1 and out == b""
    one_line_error(code, err)
    assert "no 'pipeline' key" in err  # judged as version 2, as asked


def test_inspect_text_of_a_binary_pack_lists_everything(tmp_path: Path) -> None:
    home = zip_bytes(
        {"worker.py": b"#!/bin/sh\n", "lib/data.bin": b"\0" * 1234}, {"worker.py": 0o700}
    )
    path = tmp_path / "p.pack"
    path.write_bytes(write_pack(JOBDICT, {"LANG": "C", "K": "v"}, home, b"payload"))
    code, out, err = invoke("inspect", str(path))
    assert code == 0, err
    text = out.decode()
    assert "form: binary" in text and "header: magic 0xD5C0, version 2" in text
    assert "  jobdict  offset 128" in text
    assert '"prefix":' in text and '"Opts"' in text and "pipeline: map:split" in text
    assert "label 0 size 0: raw://x" in text
    assert "  LANG=C" in text and "  K=v" in text
    assert f"job home: {len(home)} bytes" in text
    lines = text.splitlines()
    assert any(line.split() == ["0700", "file", "10", "worker.py"] for line in lines), text
    assert any(line.split() == ["0644", "file", "1234", "lib/data.bin"] for line in lines), text
    assert "job data: 7 bytes" in text and "status: valid" in text


def test_inspect_reads_a_pipe(tmp_path: Path) -> None:
    """A pack piped on stdin (not seekable) is inspected like a file."""
    data = write_pack(JOBDICT, jobhome=zip_bytes({"worker.py": b""}))
    done = subprocess.run(
        [sys.executable, "-m", "pydisco", "inspect", "--json", "/dev/stdin"],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["valid"] and info["size"] == len(data)


def _unsafe_home(kind: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("worker.py", b"")
        if kind == "bomb":
            zeros = zipfile.ZipInfo("zeros")
            zeros.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(zeros, b"\0" * 2_000_000)
        elif kind == "many":
            for n in range(20):
                archive.writestr(f"f{n}", b"")
        else:
            name, mode = {
                "dotdot": ("a/../../evil", stat.S_IFREG | 0o644),
                "absolute": ("/tmp/evil", stat.S_IFREG | 0o644),
                "symlink": ("evil", stat.S_IFLNK | 0o777),
                "device": ("evil", stat.S_IFCHR | 0o600),
            }[kind]
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            archive.writestr(info, b"/etc/passwd")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("kind", "limits", "message"),
    [
        ("dotdot", [], "'a/../../evil'"),
        ("absolute", [], "'/tmp/evil'"),
        ("symlink", [], "symlink"),
        ("device", [], "'evil'"),
        ("bomb", ["--max-bytes", "1000000"], "zip bomb"),
        ("many", ["--max-entries", "10"], "entries"),
    ],
)
def test_extract_refuses_every_unsafe_kind_in_one_line(
    kind: str, limits: list[str], message: str, tmp_path: Path
) -> None:
    path = tmp_path / "unsafe.pack"
    path.write_bytes(write_pack(JOBDICT, jobhome=_unsafe_home(kind)))
    dest = tmp_path / "dest"
    code, _, err = invoke("inspect", str(path), "--extract", str(dest), *limits)
    assert code == 1
    one_line_error(code, err)
    assert message in err, err
    assert not (dest / "worker.py").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) in (["unsafe.pack"], ["dest", "unsafe.pack"])


def test_extract_limits_let_a_pack_within_them_through(tmp_path: Path) -> None:
    path = tmp_path / "many.pack"
    path.write_bytes(write_pack(JOBDICT, jobhome=_unsafe_home("many")))
    code, out, err = invoke(
        "inspect", str(path), "--extract", str(tmp_path / "d"), "--max-entries", "21"
    )
    assert code == 0, err
    assert b"extracted 21 entries" in out
    assert (tmp_path / "d" / "worker.py").stat().st_mode & 0o777 == 0o755  # as the master does


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "neither a binary job pack"),
        (write_pack(JOBDICT)[:100], "header"),
        (write_pack(JOBDICT)[:140], "past the end"),
        (b"PK\x03\x04 not really a zip", "zip"),
        (b"\xd5\xc0\x00\x07" + b"\0" * 124, "header"),
    ],
)
def test_inspect_validate_broken_files_one_line(data: bytes, needle: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.pack"
    path.write_bytes(data)
    code, _, err = invoke("inspect", "--validate", str(path))
    assert code == 1
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and needle in errors[0].lower(), err
