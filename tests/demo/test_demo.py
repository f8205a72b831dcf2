"""`make demo` runs end to end: the word count on the bundled master matches a local count."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


def test_demo_counts_words_on_the_bundled_master() -> None:
    # Small input: the same code path, a fraction of the time. The timeout only guards
    # against a hang; the test ends when the demo does.
    done = subprocess.run(
        [sys.executable, str(DEMO), "--bytes-per-file", "40000"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checked against a single-process count" in done.stdout
    assert "[ready]" in done.stdout
    assert "  1. " in done.stdout and " 10. " in done.stdout
