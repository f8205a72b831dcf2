"""``discotool pack`` and ``discotool inspect``: a few real subprocesses, the rest in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from jobpack_helpers import read_pack, write_pack, zip_bytes

from pydisco.cli.main import cli


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pydisco", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    home = tmp_path / "word-count"
    (home / "lib").mkdir(parents=True)
    (home / "worker.py").write_text("#!/usr/bin/env python3\n")
    (home / "lib" / "util.py").write_text("X = 1\n")
    return home


def test_subprocess_directory_then_inspect(job_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "job.pack"
    done = run(
        "pack",
        str(job_dir),
        "--worker",
        "worker.py",
        "--input",
        "http://h/a",
        "--pipeline",
        "map:split,reduce:group_label:concurrent",
        "--env",
        "A=1",
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    got = read_pack(out.read_bytes())
    assert got["jobdict"]["prefix"] == "word-count"
    assert got["jobdict"]["pipeline"] == [["map", "split", False], ["reduce", "group_label", True]]
    assert got["jobenvs"] == {"A": "1"}
    shown = run("inspect", "--json", "--validate", str(out))
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["valid"] and info["form"] == "binary"
    assert {e["name"] for e in info["jobhome"]} == {"worker.py", "lib/util.py"}


def test_subprocess_zip_form_and_bad_file(tmp_path: Path) -> None:
    jobdict = {
        "prefix": "Z",
        "owner": "o",
        "worker": "w",
        "pipeline": [],
        "inputs": [],
        "scheduler": {},
    }
    src = tmp_path / "form.zip"
    src.write_bytes(zip_bytes({"jobdict.json": json.dumps(jobdict).encode(), "w": b""}))
    out = tmp_path / "out.pack"
    done = run("pack", str(src), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert read_pack(out.read_bytes())["jobdict"] == jobdict
    bad = tmp_path / "notes.zip"
    bad.write_text("hello")
    failed = run("inspect", str(bad))
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr


def test_inspect_text_for_zip_form(tmp_path: Path) -> None:
    jobdict = {
        "prefix": "Z",
        "owner": "o",
        "worker": "w",
        "pipeline": [["m", "split", False]],
        "inputs": [[0, 0, ["http://x"]]],
        "scheduler": {},
    }
    src = tmp_path / "form.zip"
    src.write_bytes(
        zip_bytes({"jobdict.json": json.dumps(jobdict).encode(), "w": b"x", "jobdata": b"123"})
    )
    code, out, _ = invoke("inspect", str(src))
    assert code == 0
    assert "form: zip" in out and "pipeline: m:split" in out and "job data: 3 bytes" in out
    assert "0755 file" in out


def test_validate_reports_master_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.pack"
    path.write_bytes(write_pack({"owner": "o"}))
    code, out, err = invoke("inspect", "--validate", str(path))
    assert code == 1
    assert "Job failed to start: \"jobpack missing key 'prefix'\"" in err
    assert "status: invalid" in out
    code, out, _ = invoke("inspect", "--json", str(path))
    assert code == 1 and json.loads(out)["error"]["field"] == "prefix"  # shown, and refused


def test_validate_prints_lint_warnings(tmp_path: Path) -> None:
    path = tmp_path / "p.pack"
    jobdict = {
        "prefix": "a b",
        "owner": "o",
        "worker": "w",
        "pipeline": [],
        "inputs": [],
        "scheduler": {},
    }
    path.write_bytes(write_pack(jobdict, jobhome=zip_bytes({"w": b""})))
    code, _, err = invoke("inspect", "--validate", str(path))
    assert code == 0
    assert "warning: prefix-charset" in err and "warning: pipeline-empty" in err


def test_extract(job_dir: Path, tmp_path: Path) -> None:
    pack = tmp_path / "p.pack"
    assert invoke("pack", str(job_dir), "--worker", "worker.py", "-o", str(pack))[0] == 0
    code, out, _ = invoke("inspect", str(pack), "--extract", str(tmp_path / "x"))
    assert code == 0, out
    assert (tmp_path / "x" / "lib" / "util.py").read_text() == "X = 1\n"
    unsafe = tmp_path / "u.pack"
    jobdict = {
        "prefix": "u",
        "owner": "o",
        "worker": "w",
        "pipeline": [],
        "inputs": [],
        "scheduler": {},
    }
    unsafe.write_bytes(write_pack(jobdict, jobhome=zip_bytes({"../evil": b"", "w": b""})))
    code, _, err = invoke("inspect", str(unsafe), "--extract", str(tmp_path / "y"))
    assert code == 1 and "'../evil'" in err
    assert not (tmp_path / "evil").exists()


def test_version_1(job_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "v1.pack"
    code, _, err = invoke(
        "pack",
        str(job_dir),
        "--worker",
        "worker.py",
        "--version",
        "1",
        "--reduce",
        "--nr-reduces",
        "4",
        "--input",
        "dir://h/idx",
        "-o",
        str(out),
    )
    assert code == 0, err
    jobdict = read_pack(out.read_bytes())["jobdict"]
    assert jobdict["map?"] is True and jobdict["reduce?"] is True and jobdict["nr_reduces"] == 4
    assert jobdict["input"] == ["dir://h/idx"]


def test_inputs_file_and_replicas(job_dir: Path, tmp_path: Path) -> None:
    listing = tmp_path / "inputs"
    listing.write_text("# comment\nhttp://a/1\nhttp://a/2 http://b/2\n\n")
    out = tmp_path / "p.pack"
    code, _, err = invoke(
        "pack",
        str(job_dir),
        "--worker",
        "worker.py",
        "--inputs-file",
        str(listing),
        "--jobdata",
        str(listing),
        "-o",
        str(out),
    )
    assert code == 0, err
    got = read_pack(out.read_bytes())
    assert got["jobdict"]["inputs"] == [
        [0, 0, ["http://a/1"]],
        [0, 0, ["http://a/2", "http://b/2"]],
    ]
    assert got["jobdata"] == listing.read_bytes()


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--pipeline", "map:nope"], 1, "unknown grouping"),
        (["--prefix", "a.b"], 1, "'/' or '.'"),
        (["--env", "novalue"], 2, "NAME=VALUE"),
        (["--version", "1", "--pipeline", "a:split"], 2, "--pipeline"),
        (["--worker", "missing.py"], 1, "not a file"),
        (["--version", "3"], 2, "'3' is not one of"),
        (["--no-such-flag"], 2, "No such option"),
    ],
)
def test_errors_are_one_line(
    job_dir: Path, tmp_path: Path, args: list[str], code: int, text: str
) -> None:
    full = ["pack", str(job_dir), "-o", str(tmp_path / "o")]
    if "--worker" not in args:
        full += ["--worker", "worker.py"]
    got, _, err = invoke(*full, *args)
    assert got == code
    assert text in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_zip_source_refuses_directory_options(tmp_path: Path) -> None:
    src = tmp_path / "f.zip"
    src.write_bytes(zip_bytes({"jobdict.json": b"{}"}))
    code, _, err = invoke("pack", str(src), "-o", str(tmp_path / "o"), "--worker", "x")
    assert code == 2 and "--worker" in err
    binary = tmp_path / "b.pack"
    binary.write_bytes(write_pack({}))
    code, _, err = invoke("pack", str(binary), "-o", str(tmp_path / "o"))
    assert code == 1 and "already a binary job pack" in err
