"""What a new user meets on a first failure against a running master (issue #13 walk-through).

A local file sent to a master as ``raw://`` data is named by its first characters
and size in error messages, not quoted whole in every line of the traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.dataurls import SHOWN_RAW_CHARS, shown_url

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "book.txt"

BROKEN_JOB = """\
from pydisco.job import map_reduce

def broken(line):
    raise ValueError("bad line")

bad = map_reduce(broken)
"""


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_a_shown_raw_url_is_one_short_line(data: str) -> None:
    url = "raw://" + data
    shown = shown_url(url)
    if len(data) <= SHOWN_RAW_CHARS:
        assert shown == url
    else:
        assert "\n" not in shown and len(shown) < 6 * SHOWN_RAW_CHARS + 40
        assert shown.endswith(f"... ({len(data.encode('utf-8', 'surrogatepass'))} bytes)")


def test_other_urls_are_shown_as_they_are() -> None:
    long_path = "file:///" + "a" * 500
    assert shown_url(long_path) == long_path
    assert shown_url("http://host/x") == "http://host/x"


@pytest.mark.slow
def test_a_failing_job_on_a_master_names_a_local_input_briefly(
    live_master: Any, tmp_path: Path
) -> None:
    (tmp_path / "bad.py").write_text(BROKEN_JOB)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCO_", "PYDISCO_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pydisco", "run", "bad.py", str(BOOK), "--master", live_master.url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1
    assert "ValueError: bad line" in done.stderr and "Probable cause of failure" in done.stderr
    size = BOOK.stat().st_size
    assert "while reading raw://It was a bright cold morning" in done.stderr
    assert f"... ({size} bytes)" in done.stderr
    assert "Nobody counted the words" not in done.stderr  # the book's last line
