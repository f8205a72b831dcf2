"""Each deliberately broken worker fails exactly the rules it breaks, and no other.

The workers in ``broken/`` are one correct plain-Python worker (``common.py``,
no pydisco) with one flaw switched on each. The fixtures the brief asks for
run every scenario but the 10,000-input one (it exercises no flaw and is
covered by the example workers, so IN-6 is "not exercised" here); the
further fixtures, one per remaining rule, run only the scenarios that
matter to them, to keep the suite fast.
"""

from __future__ import annotations

import attrs
import pytest

from tests.conformance.helpers import BROKEN, SETTINGS, explain, failures, kit, python_command

D, S = "disco-0.5.4", "spec"
BOTH = (D, S)


def _both(*rules: str) -> set[tuple[str, str]]:
    return {(rule, profile) for rule in rules for profile in BOTH}


#: Fixture name -> the (rule, profile) pairs it must fail, and only those.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "correct": set(),
    "wrong_length": _both("FR-1"),
    "stray_stdout": _both("FR-2"),
    "no_worker": {("HS-1", S), ("HS-3", D)},
    "wrong_version": _both("HS-2"),
    "task_before_worker": {("HS-1", S)},
    "absolute_output": _both("OUT-1"),
    "missing_output": _both("OUT-3"),
    "wrong_size": _both("OUT-4"),
    "ignores_more": _both("IN-7"),
    "reprocesses": _both("IN-8"),
    "fatal_missing_replica": _both("RP-3"),
    "hangs_after_done": _both("END-3"),
    "floods_msg": _both("MSG-1"),
    "ignores_eof": _both("EOF-1"),
}


#: Further fixtures: name -> (the scenarios to run, the (rule, profile) pairs it must fail).
FURTHER: dict[str, tuple[tuple[str, ...], set[tuple[str, str]]]] = {
    "wrong_pid": (("basic",), _both("HS-3")),
    "bad_payload": (("basic",), _both("FR-3")),
    "pipelines": (("basic",), {("SQ-2", S)}),
    "ping": (("basic",), {("SQ-3", D)}),
    "colon_path": (("basic",), _both("OUT-2")),
    "negative_label": (("basic",), _both("OUT-5")),
    "dot_disco": (("basic",), _both("OUT-6")),
    "crash": (("basic",), _both("END-1")),
    "after_done": (("basic",), _both("END-2")),
    "reads_every_dir_line": (("dir-label", "dir-all"), _both("IN-4")),
    "input_err_first": (("replica-fallback", "replica-fail"), {("RP-1", D)}),
    "bad_input_err": (("replica-fallback", "replica-fail"), _both("RP-2")),
    "input_before_task": (("basic",), {("SQ-1", S)}),
    "skips_raw": (("basic",), _both("IN-1")),
    "percent_decodes": (("basic",), _both("IN-1", "IN-9")),
    "skips_http": (("http",), _both("IN-2")),
    "skips_disco": (("disco",), _both("IN-3")),
    "dir_all_as_label0": (("dir-all",), _both("IN-5")),
    "stops_at_1000": (("many",), _both("IN-6")),
    "garbage_output": (("basic",), _both("IN-9")),
}


#: Kit settings that keep a fixture's verdict independent of the machine's speed.
SETTINGS_FOR = {
    # A worker that hangs on purpose need not be given long to show it.
    "hangs_after_done": attrs.evolve(SETTINGS, exit_timeout=0.1, closing_grace=0.0),
    # It hangs once stdin closes mid-session; after DONE it exits by itself, which the kit
    # waits for instead of racing it with the close.
    "ignores_eof": attrs.evolve(SETTINGS, exit_timeout=0.5, closing_grace=SETTINGS.timeout),
    # A frozen throttle clock: the flood is fatal at its 10th MSG however slowly it runs.
    "floods_msg": attrs.evolve(SETTINGS, msg_clock=lambda: 0.0),
}


def test_every_fixture_is_listed():
    on_disk = {p.stem for p in BROKEN.glob("*.py")} - {"common"}
    assert on_disk == set(EXPECTED) | set(FURTHER)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_worker_fails_exactly_its_rules(name):
    settings = SETTINGS_FOR.get(name, SETTINGS)
    result = kit(python_command(BROKEN / f"{name}.py"), skip=("many",), settings=settings)
    # Every other rule passed or was not exercised.
    assert failures(result) == EXPECTED[name], explain(result)
    assert result.ok is (not EXPECTED[name])


@pytest.mark.parametrize("name", sorted(FURTHER))
def test_further_broken_worker_fails_exactly_its_rules(name):
    scenarios, expected = FURTHER[name]
    result = kit(python_command(BROKEN / f"{name}.py"), only=scenarios)
    assert failures(result) == expected, explain(result)
