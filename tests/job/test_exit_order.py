"""The bundled master stops before the interpreter's thread pools do.

A script that dies while it reads results (``python count.py | head``) leaves
requests in flight; they need the master loop's thread pool, which refuses work
once interpreter shutdown began, so aiohttp printed "cannot schedule new futures
after interpreter shutdown". Stopped from the same hook as those pools (before
any :mod:`atexit` handler), the master is gone by the time ``atexit`` runs: the
script below checks exactly that, in a real process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """\
import atexit
import sys

import pydisco.job.remote as remote
from pydisco.job import map_reduce


def words(line):
    for word in line.split():
        yield word, 1


job = map_reduce(words)

if __name__ == "__main__":
    results = job.run(["raw://a b"], runner="local")
    next(iter(results))  # a result read, the master still up

    def check():
        print("stopped" if remote._bundled is None else "still running", flush=True)

    atexit.register(check)
    sys.exit(0)
"""


def test_the_bundled_master_is_stopped_before_atexit_handlers(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "script.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "stopped\n"
