"""Every lint code, each from a pack that real Disco accepts, and a clean pack with none."""

from __future__ import annotations

import io
import re
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jobpack_helpers import write_pack, write_raw, zip_bytes

from pydisco import jobpack
from pydisco.jobpack import MASTER_MAX_BODY

LINTING = Path(__file__).resolve().parents[2] / "pydisco" / "jobpack" / "linting.py"

GOOD_HOME = zip_bytes({"worker": b"#!/bin/sh\n"}, {"worker": 0o755})
V2: dict[str, Any] = {
    "prefix": "Lint",
    "owner": "o@h",
    "worker": "worker",
    "pipeline": [["map", "split", False], ["reduce", "group_label", False]],
    "inputs": [[0, 0, ["raw://x"]]],
    "scheduler": {},
}
V1: dict[str, Any] = {
    "prefix": "Lint",
    "owner": "o@h",
    "worker": "worker",
    "input": ["raw://x"],
    "map?": True,
    "nr_reduces": 1,
    "scheduler": {},
}


def _home(name: str, data: bytes, mode: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        worker = zipfile.ZipInfo("worker")
        worker.create_system = 3
        worker.external_attr = (stat.S_IFREG | 0o755) << 16
        archive.writestr(worker, b"#!/bin/sh\n")
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = mode << 16
        archive.writestr(info, data)
    return buffer.getvalue()


#: code -> (job dict, job envs, job home); each pack gives exactly that one warning.
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], bytes]] = {
    "worker-not-string": ({**V2, "worker": ["w"]}, {}, GOOD_HOME),
    "worker-path": ({**V2, "worker": "../worker"}, {}, GOOD_HOME),
    "max-cores": ({**V2, "scheduler": {"max_cores": 0}}, {}, GOOD_HOME),
    "scheduler-ignored": ({**V2, "scheduler": {"force_remote": True}}, {}, GOOD_HOME),
    "save-info-not-string": ({**V2, "save_info": [100, 100, 102, 115]}, {}, GOOD_HOME),
    "unused-key": ({**V2, "nr_reduces": 3}, {}, GOOD_HOME),
    "jobenv-name": (V2, {"A=B": "1"}, GOOD_HOME),
    "jobenv-value": (V2, {"A": "nul\u0000inside"}, GOOD_HOME),
    "prefix-not-string": ({**V2, "prefix": [76, 105]}, {}, GOOD_HOME),
    "prefix-empty": ({**V2, "prefix": ""}, {}, GOOD_HOME),
    "prefix-charset": ({**V2, "prefix": "a b"}, {}, GOOD_HOME),
    "pipeline-empty": ({**V2, "pipeline": []}, {}, GOOD_HOME),
    "stage-name-empty": ({**V2, "pipeline": [["", "split", False]]}, {}, GOOD_HOME),
    "concurrent-first-stage": ({**V2, "pipeline": [["map", "split", True]]}, {}, GOOD_HOME),
    "concurrent-split-stage": (
        {**V2, "pipeline": [["map", "split", False], ["again", "split", True]]},
        {},
        GOOD_HOME,
    ),
    "inputs-empty": ({**V2, "inputs": []}, {}, GOOD_HOME),
    "input-no-urls": ({**V2, "inputs": [[0, 0, []]]}, {}, GOOD_HOME),
    "input-negative": ({**V2, "inputs": [[-1, 0, ["raw://x"]]]}, {}, GOOD_HOME),
    "input-no-scheme": ({**V2, "inputs": [[0, 0, ["/data/file"]]]}, {}, GOOD_HOME),
    "input-dir-v2": ({**V2, "inputs": [[0, 0, ["dir://h/x"]]]}, {}, GOOD_HOME),
    "input-dir-replicas": ({**V1, "input": [["dir://h/x", "dir://g/x"]]}, {}, GOOD_HOME),
    "jobhome-empty": (V2, {}, b""),
    "jobhome-invalid": (V2, {}, b"not a zip archive at all"),
    "jobhome-unsafe": (V2, {}, _home("../escape", b"x", stat.S_IFREG | 0o644)),
    "worker-missing": (V2, {}, zip_bytes({"other": b""})),
    "worker-not-executable": (V2, {}, zip_bytes({"worker": b"#!/bin/sh\n"}, {"worker": 0o644})),
}


def _codes(pack: Path | io.BytesIO) -> list[str]:
    return [w.code for w in jobpack.lint(pack)]


def test_every_lint_code_has_a_case() -> None:
    source = LINTING.read_text()
    codes = set(re.findall(r'(?:warn|LintWarning)\(\s*"([a-z0-9-]+)"', source))
    assert codes == set(CASES) | {"pack-too-large"}


@pytest.mark.parametrize("code", sorted(CASES))
def test_lint_code(code: str) -> None:
    jobdict, envs, home = CASES[code]
    version = 1 if "input" in jobdict else 2
    data = write_pack(jobdict, envs, home, version=version)
    # Real Disco accepts it: validation passes; only lint complains, once, about this.
    jobpack.validate(io.BytesIO(data))
    assert _codes(io.BytesIO(data)) == [code]


@pytest.mark.parametrize("jobdict", [V1, V2])
def test_a_clean_pack_has_no_warnings(jobdict: dict[str, Any]) -> None:
    version = 1 if "input" in jobdict else 2
    assert _codes(io.BytesIO(write_pack(jobdict, {"A": "1"}, GOOD_HOME, version=version))) == []


def test_pack_too_large(tmp_path: Path) -> None:
    """A pack over the master's body limit (a sparse file: its job data is a hole)."""
    path = tmp_path / "big.pack"
    path.write_bytes(
        write_raw(
            b'{"prefix":"Lint","owner":"o","worker":"worker",'
            b'"pipeline":[["map","split",false]],"inputs":[[0,0,["raw://x"]]],'
            b'"scheduler":{}}',
            b"{}",
            GOOD_HOME,
            b"x",
        )
    )
    with path.open("r+b") as f:
        f.truncate(MASTER_MAX_BODY + 1)
    assert _codes(path) == ["pack-too-large"]
