"""What a new user meets on a first failure against a running master (issue #13 walk-through).

A long ``raw://`` input (a local file sent to a remote master is one) is named by
its first characters and size in error messages, not quoted whole in every line
of the traceback; a ``--master`` on this machine reads local files in place, so
a file larger than ``raw://`` carries works there.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.dataurls import SHOWN_RAW_CHARS, shown_url
from tests.processes import discotool_argv, environment, run

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "book.txt"
WORDCOUNT = ROOT / "examples" / "jobs" / "wordcount.py"


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


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(discotool_argv("run", *args), env=environment(), cwd=cwd)


def test_a_worker_failure_names_a_long_raw_input_briefly() -> None:
    """What a remote master's events show when a job read a local file sent as raw://."""
    from pydisco.worker.run import failure_text

    text = BOOK.read_text()
    try:
        raise ValueError("bad line")
    except ValueError as exc:
        shown = failure_text(exc, None, "raw://" + text)
    assert shown.startswith("The worker failed while reading raw://It was a bright cold morning")
    assert f"... ({len(text.encode())} bytes):" in shown
    assert "Nobody counted the words" not in shown  # the book's last line


@pytest.mark.slow
def test_run_on_a_loopback_master_reads_a_large_local_file_in_place(
    live_master: Any, tmp_path: Path
) -> None:
    """More than raw:// carries (64 KiB): a --master on this machine reads the file itself."""
    big = tmp_path / "big.txt"
    big.write_text(BOOK.read_text() * 400)
    done = _run(f"{WORDCOUNT}:wordcount", str(big), "--master", live_master.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    counts = dict(line.split("\t") for line in done.stdout.splitlines())
    assert counts["the"] == str(7 * 400) and counts["counted"] == str(4 * 400)
