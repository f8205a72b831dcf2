"""Commands in real processes, as a user at a shell would run them: one way for every test.

The environment is the caller's minus everything that configures Disco, DDFS or
pydisco (so a developer's own ``DISCO_MASTER`` or token never reaches a test),
plus what the test sets. Output is text; the exit status is the test's to check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: Variables with these prefixes are never inherited from the caller.
CONFIG_PREFIXES = ("DISCO_", "DDFS_", "PYDISCO_")
#: A master address where nothing listens (the discard port): for commands that need none.
NO_MASTER = "http://127.0.0.1:9"


def environment(**settings: str) -> dict[str, str]:
    """The caller's environment without Disco, DDFS and pydisco settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    env.update(settings)
    return env


def discotool_argv(*args: str) -> list[str]:
    """``discotool ARGS`` as this interpreter runs it (``python -m pydisco``)."""
    return [sys.executable, "-m", "pydisco", *args]


def run(
    argv: Sequence[str | Path],
    *,
    env: dict[str, str],
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to its end, its output captured as text; a non-zero exit is not raised."""
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(
    argv: Sequence[str], *, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen[str]:
    """Start ``argv`` with its stdout and stderr piped as text; the caller waits for it."""
    return subprocess.Popen(
        list(argv), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def discotool(
    *args: str, cwd: Path, master: str = NO_MASTER, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``discotool ARGS`` in ``cwd`` with ``master`` as ``DISCO_MASTER``."""
    return run(discotool_argv(*args), env=environment(DISCO_MASTER=master), cwd=cwd, stdin=stdin)
