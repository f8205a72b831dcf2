"""Output piped into a reader that stops early (``| head``): exit 0, nothing on stderr.

The reader end of the pipe is closed before the command writes, so every write
fails with EPIPE whatever the machine's speed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _into_closed_pipe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "pydisco", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)


@pytest.fixture(scope="module")
def tour_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pipes") / "tour.pack"
    args = ("pack", str(ROOT / "examples" / "tour"), "--worker", "worker.py", "-o", str(out))
    made = subprocess.run(
        [sys.executable, "-m", "pydisco", *args], capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    return out


@pytest.mark.parametrize(
    "args",
    [("inspect", "{pack}"), ("inspect", "--json", "{pack}"), ("pack", "examples/tour", "-o", "-")],
)
def test_a_closed_pipe_is_a_quiet_success(args: tuple[str, ...], tour_pack: Path) -> None:
    argv = [a.format(pack=tour_pack) for a in args]
    if argv[0] == "pack":
        argv += ["--worker", "worker.py"]
    done = _into_closed_pipe(*argv, cwd=ROOT)
    assert done.stderr == ""
    assert done.returncode == 0
