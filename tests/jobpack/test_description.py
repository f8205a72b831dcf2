"""The job pack description (``pydisco.jobpack.description``): what ``inspect`` prints,
built by the library so that the command line only prints it."""

from __future__ import annotations

import io
import json
from typing import Any

from jobpack_helpers import write_pack, zip_bytes

from pydisco.jobpack import HomeLimits, JobPack
from pydisco.jobpack.description import (
    describe,
    describe_text,
    worker_head_warnings,
    worker_warnings,
)

JOBDICT = {
    "prefix": "Described",
    "owner": "o@h",
    "worker": "worker.py",
    "pipeline": [["map", "split", False], ["reduce", "group_label", True]],
    "inputs": [[0, 0, ["raw://x"]], [1, 7, ["dir://h/a", "dir://h/b"]]],
    "scheduler": {},
}
LIMITS = HomeLimits(max_entries=100, max_bytes=1 << 20, max_ratio=1100)
HOME = zip_bytes({"worker.py": b"#!/usr/bin/env python3\n"}, {"worker.py": 0o755})


def _describe(data: bytes) -> dict[str, Any]:
    return describe(JobPack(io.BytesIO(data), strict=False), "binary", LIMITS)


def test_a_valid_pack_is_described_whole_and_as_json() -> None:
    info = _describe(write_pack(JOBDICT, {"A": "1"}, HOME, b"data"))
    assert json.loads(json.dumps(info)) == info  # JSON-ready
    assert info["valid"] is True and "error" not in info
    assert info["header"]["magic"] == "0xD5C0" and info["header"]["version"] == 2
    assert info["jobdict"] == JOBDICT and info["jobenvs"] == {"A": "1"}
    assert info["jobdata_size"] == 4
    assert [e["name"] for e in info["jobhome"]] == ["worker.py"]
    assert info["pipeline"] == [["map", "split", False], ["reduce", "group_label", True]]
    assert info["inputs"][1] == {
        "label": 1,
        "size_hint": 7,
        "urls": ["dir://h/a", "dir://h/b"],
        "is_dir": False,  # only a version 1 dir:// input is one
    }
    lines = describe_text(info)
    assert lines[0] == "form: binary" and lines[-1] == "status: valid"
    assert "pipeline: map:split, reduce:group_label:concurrent" in lines
    assert "  A=1" in lines and "job data: 4 bytes" in lines


def test_an_invalid_pack_is_described_with_the_masters_reason() -> None:
    broken = {k: v for k, v in JOBDICT.items() if k != "prefix"}
    info = _describe(write_pack(broken, None, HOME))
    assert info["valid"] is False and "pipeline" not in info
    assert info["error"]["reason"] == "\"jobpack missing key 'prefix'\""
    assert info["jobdict"] == broken  # what could be read is still shown
    lines = describe_text(info)
    assert lines[-2].startswith("status: invalid: ")
    assert (
        lines[-1] == "  master would answer: Job failed to start: \"jobpack missing key 'prefix'\""
    )


def test_a_truncated_pack_is_described_as_far_as_it_goes() -> None:
    info = _describe(write_pack(JOBDICT)[:10])
    assert info["header"] is None and info["valid"] is False
    assert describe_text(info)[:3] == ["form: binary", "size: 10 bytes", "header: (too short)"]


def test_a_broken_job_home_is_named_and_makes_the_pack_invalid() -> None:
    info = _describe(write_pack(JOBDICT, None, b"PK\x03\x04 not a zip"))
    assert info["jobhome"] is None and info["jobhome_error"]
    assert info["valid"] is False and info["error"]["field"] == "jobhome"
    assert any(line.startswith("  (unreadable: ") for line in describe_text(info))


def test_worker_warnings() -> None:
    assert worker_warnings("w", b"#!", 0o755) == []
    no_shebang, not_executable = worker_warnings("w", b"ELF", 0o644)
    assert "'#!'" in no_shebang and "chmod +x" in not_executable
    assert worker_warnings("w", b"#!", None) == []
    plain = zip_bytes({"worker.py": b"print(1)\n"})
    pack = JobPack(io.BytesIO(write_pack(JOBDICT, None, plain)), strict=False)
    assert len(worker_head_warnings(pack)) == 1
    assert worker_head_warnings(JobPack(io.BytesIO(write_pack(JOBDICT, None, HOME)))) == []


def test_inspect_prints_exactly_the_description(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from pydisco.cli.main import cli

    path = tmp_path / "job.pack"
    path.write_bytes(write_pack(JOBDICT, {"A": "1"}, HOME, b"data"))
    limits = HomeLimits(max_entries=100, max_bytes=1 << 20, max_ratio=1100)
    with path.open("rb") as handle:
        expected = describe(JobPack(handle, strict=False), "binary", limits)
    args = ["inspect", str(path), "--max-entries", "100", "--max-bytes", str(1 << 20)]
    shown = CliRunner().invoke(cli, [*args, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout) == expected
    text = CliRunner().invoke(cli, args)
    assert text.stdout.splitlines() == describe_text(expected)
