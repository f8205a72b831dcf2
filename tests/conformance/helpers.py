"""What the conformance tests share: paths of the workers, and one way to run the kit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pydisco.conformance import KitResult, KitSettings, Verdict, run_kit, select_scenarios
from pydisco.protocol.session import Profile

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "workers"
SH_WORKER = EXAMPLES / "sh" / "worker.sh"
NODE_WORKER = EXAMPLES / "node" / "worker.js"
PYTHON_WORKER = EXAMPLES / "python" / "echo_worker.py"
BROKEN = Path(__file__).resolve().parent / "broken"
BOTH = (Profile.DISCO_054, Profile.SPEC)

#: Limits for tests: generous for loaded CI machines (a correct worker never waits for
#: them: each ends at an event), short only where a test makes a worker hang on purpose.
SETTINGS = KitSettings(timeout=20.0, exit_timeout=5.0, first_message=20.0)


def node() -> str:
    """The ``node`` executable; CI has it, so its absence is an error, not a skip."""
    found = shutil.which("node")
    if found is None:
        pytest.fail("node is not installed; the Node.js example worker cannot be tested")
    return found


def python_command(script: Path) -> list[str]:
    return [sys.executable, str(script)]


def kit(
    command: list[str],
    *,
    skip: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
    settings: KitSettings = SETTINGS,
) -> KitResult:
    scenarios = [s for s in select_scenarios(only) if s.name not in skip]
    return run_kit(command, BOTH, scenarios, settings)


def failures(result: KitResult) -> set[tuple[str, str]]:
    """(rule id, profile) of every failed rule."""
    return {(r.rule.id, r.profile.value) for r in result.rules if r.verdict is Verdict.FAIL}


def explain(result: KitResult) -> str:
    """The failures with their evidence, for assertion messages."""
    lines = []
    for rule in result.failed:
        lines.append(f"{rule.rule.id} [{rule.profile.value}]")
        lines.extend("    " + line for line in rule.evidence)
    return "\n".join(lines)


C_WORKER = EXAMPLES / "c" / "worker.c"


def compile_c(target: Path) -> Path:
    """Build the C example worker; CI has a C compiler, so its absence is an error."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("no C compiler (cc or gcc); the C example worker cannot be tested")
    subprocess.run(
        [compiler, "-std=c99", "-O2", "-Wall", "-Werror", "-o", str(target), str(C_WORKER)],
        check=True,
        capture_output=True,
    )
    return target
