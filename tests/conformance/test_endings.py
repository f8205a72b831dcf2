"""How the kit treats a task's end and the WORKER pid, shown on real worker processes.

FATAL is judged like ERROR and DONE: with no reply (as Disco 0.5.4 does) the
worker must exit when its stdin closes; with an OK reply (a lenient master)
it may exit at once. And a worker started through a wrapper may announce the
pid of a descendant, which a master can still kill.
"""

from __future__ import annotations

import re
import sys

import attrs

from pydisco.conformance import Verdict
from pydisco.protocol.session import Profile
from tests.conformance.helpers import BROKEN, SETTINGS, explain, failures, kit, python_command


def _after(transcript: tuple[str, ...], pattern: str) -> list[str]:
    """The transcript lines after the first one matching ``pattern``."""
    for n, line in enumerate(transcript):
        if re.search(pattern, line):
            return list(transcript[n + 1 :])
    raise AssertionError(f"no line matches {pattern!r}:\n" + "\n".join(transcript))


def test_fatal_with_and_without_an_ok_reply() -> None:
    # The kit waits for the worker's own exit after FATAL instead of racing it with
    # closing stdin, so a slow machine cannot turn "exited after FATAL" into "after EOF".
    result = kit(
        python_command(BROKEN / "fatal_missing_replica.py"),
        only=("replica-fail", "replica-fail-ok"),
        settings=attrs.evolve(SETTINGS, closing_grace=SETTINGS.timeout),
    )
    # The flaw (FATAL instead of ERROR) is RP-3; ending the run with FATAL is otherwise right.
    assert failures(result) == {("RP-3", "disco-0.5.4"), ("RP-3", "spec")}, explain(result)
    for profile in (Profile.DISCO_054, Profile.SPEC):
        assert result.verdict("END-2", profile) is Verdict.PASS
        assert result.verdict("END-3", profile) is Verdict.PASS
    runs = {(run.scenario, run.profile): run for run in result.runs}
    assert set(runs) == {
        ("replica-fail", Profile.DISCO_054),
        ("replica-fail", Profile.SPEC),
        ("replica-fail-ok", Profile.SPEC),
    }
    for key, run in runs.items():
        assert run.outcome.startswith(("FATAL", "exited")), (key, run.outcome)
        later = _after(run.transcript, r"worker> FATAL \d+ ")
        replies = [line for line in later if "master>" in line]
        if key[0] == "replica-fail-ok":
            assert replies and "master> OK" in replies[0], later
        else:
            assert replies == [], later
        # It did not wait for a reply that a Disco 0.5.4 master never sends.
        assert any("exited after FATAL" in line for line in later), later


def test_a_descendant_pid_is_accepted_and_a_stranger_is_not(tmp_path) -> None:
    # The shell stays the started process; the worker is its child and announces its own pid.
    script = tmp_path / "wrapper.sh"
    script.write_text(f'#!/bin/sh\n"{sys.executable}" "{BROKEN / "correct.py"}"\nexit $?\n')
    script.chmod(0o755)
    wrapped = kit([str(script)], only=("basic",))
    assert wrapped.ok, explain(wrapped)
    for profile in (Profile.DISCO_054, Profile.SPEC):
        assert wrapped.verdict("HS-3", profile) is Verdict.PASS
    evidence = [c for run in wrapped.runs for c in run.checks if c.rule == "HS-3"]
    started = re.search(r"\(pid (\d+)\)", wrapped.runs[0].transcript[0])
    assert started is not None
    assert all("or one of its descendants" in " ".join(c.evidence) for c in evidence)
    announced = re.search(r'"pid": ?(\d+)', "\n".join(wrapped.runs[0].transcript))
    assert announced is not None and announced.group(1) != started.group(1)

    stranger = kit(python_command(BROKEN / "wrong_pid.py"), only=("basic",))
    assert failures(stranger) == {("HS-3", "disco-0.5.4"), ("HS-3", "spec")}
