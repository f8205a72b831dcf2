"""Building test job packs (binary and zip form) around ``workers/testworker.py``.

Loaded by ``tests/client/conftest.py`` and ``tests/cli/conftest.py``.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

from pydisco.jobpack import build_jobpack, jobpack_bytes
from pydisco.worker.runtime import install_runtime

WORKER = Path(__file__).parent / "workers" / "testworker.py"


def job_home(tmp_path: Path) -> Path:
    """A job home with the test worker and the worker runtime."""
    home = tmp_path / "home"
    if not home.exists():
        home.mkdir()
        shutil.copy(WORKER, home / "testworker.py")
        install_runtime(str(home))
    return home


def pack_bytes(
    tmp_path: Path,
    inputs: Sequence[str] = ("raw://hello",),
    *,
    pipeline: Sequence[str] = ("map:split",),
    envs: dict[str, str] | None = None,
    prefix: str = "ClientTest",
) -> bytes:
    out = io.BytesIO()
    build_jobpack(
        out,
        job_home(tmp_path),
        worker="testworker.py",
        inputs=list(inputs),
        pipeline=list(pipeline),
        prefix=prefix,
        owner="tester@localhost",
        jobenvs=envs or {},
    )
    return out.getvalue()


def write_pack(tmp_path: Path, name: str = "job.pack", **kwargs: object) -> Path:
    path = tmp_path / name
    path.write_bytes(pack_bytes(tmp_path, **kwargs))  # type: ignore[arg-type]
    return path


def write_zip_pack(
    tmp_path: Path, inputs: Sequence[str] = ("raw://zipped",), name: str = "job.zip"
) -> Path:
    """A zip-form job pack: jobdict.json, jobenvs.json and the job home entries."""
    home = job_home(tmp_path)
    jobdict = {
        "prefix": "ZipTest",
        "owner": "tester@localhost",
        "worker": "testworker.py",
        "pipeline": [["map", "split", False]],
        "inputs": [[0, 0, [url]] for url in inputs],
        "scheduler": {},
        "save_results": False,
    }
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("jobdict.json", json.dumps(jobdict))
        archive.writestr("jobenvs.json", "{}")
        for file in sorted(home.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(home).as_posix())
    return path


def bad_pack(tmp_path: Path) -> Path:
    """A binary job pack whose job dict lacks ``prefix`` (the master refuses it)."""
    jobdict = {
        "owner": "tester@localhost",
        "worker": "testworker.py",
        "pipeline": [["map", "split", False]],
        "inputs": [[0, 0, ["raw://x"]]],
        "scheduler": {},
        "save_results": False,
    }
    path = tmp_path / "bad.pack"
    path.write_bytes(jobpack_bytes(jobdict=jobdict, check=False))
    return path
