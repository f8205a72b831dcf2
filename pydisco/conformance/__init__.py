"""The conformance kit: run a worker executable as a Disco master does, and judge it.

``discotool conform -- CMD [ARGS...]`` starts the worker once per scenario
(:mod:`~pydisco.conformance.scenarios`) and profile, plays the master's side
(:mod:`~pydisco.conformance.driver`), and reports every rule
(:mod:`~pydisco.conformance.rules`) as passed, failed or not exercised
(:mod:`~pydisco.conformance.report`). It is built on :mod:`pydisco.protocol`
alone and never on :mod:`pydisco.worker`: it tests the wire, not our library.
"""

from pydisco.conformance.driver import KitSettings, RunResult
from pydisco.conformance.kit import KitResult, RuleResult, run_kit, select_scenarios
from pydisco.conformance.rules import RULES, RULES_BY_ID, Rule, Verdict
from pydisco.conformance.scenarios import SCENARIOS, SCENARIOS_BY_NAME, Scenario

__all__ = [
    "RULES",
    "RULES_BY_ID",
    "SCENARIOS",
    "SCENARIOS_BY_NAME",
    "KitResult",
    "KitSettings",
    "Rule",
    "RuleResult",
    "RunResult",
    "Scenario",
    "Verdict",
    "run_kit",
    "select_scenarios",
]
