"""The kit's loop: run the selected scenarios under the selected profiles, gather verdicts."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from pydisco.conformance.driver import KitSettings, RunResult, run_scenario
from pydisco.conformance.httpserver import DataServer
from pydisco.conformance.process import resolve_command
from pydisco.conformance.rules import RULES, Rule, Verdict
from pydisco.conformance.scenarios import SCENARIOS, SCENARIOS_BY_NAME, Scenario
from pydisco.conformance.transcript import Check
from pydisco.protocol.session import Profile

__all__ = ["KitResult", "RuleResult", "run_kit", "select_scenarios"]

#: Failing evidence kept per rule in the summary (every run keeps its own in full).
_EVIDENCE_PER_RULE = 12


@attrs.frozen(slots=True)
class RuleResult:
    """The verdict on one rule under one profile, over every scenario run."""

    rule: Rule
    profile: Profile
    verdict: Verdict
    #: Scenarios whose runs failed the rule (or, for a pass, exercised it).
    scenarios: tuple[str, ...]
    evidence: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.rule.id,
            "title": self.rule.title,
            "section": self.rule.section,
            "profile": self.profile.value,
            "verdict": self.verdict.value,
            "scenarios": list(self.scenarios),
            "evidence": list(self.evidence),
        }


@attrs.frozen(slots=True)
class KitResult:
    """Everything one ``discotool conform`` run found."""

    command: tuple[str, ...]
    profiles: tuple[Profile, ...]
    rules: tuple[RuleResult, ...]
    runs: tuple[RunResult, ...]
    duration: float

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.rules if r.verdict is Verdict.FAIL)

    @property
    def ok(self) -> bool:
        return not self.failed

    def verdict(self, rule_id: str, profile: Profile) -> Verdict | None:
        for result in self.rules:
            if result.rule.id == rule_id and result.profile is profile:
                return result.verdict
        return None

    def to_json(self) -> dict[str, Any]:
        counts = {v.value: sum(r.verdict is v for r in self.rules) for v in Verdict}
        return {
            "command": list(self.command),
            "profiles": [p.value for p in self.profiles],
            "ok": self.ok,
            "summary": counts,
            "duration": round(self.duration, 3),
            "rules": [r.to_json() for r in self.rules],
            "runs": [r.to_json() for r in self.runs],
        }


def select_scenarios(only: Iterable[str] = ()) -> list[Scenario]:
    """The scenarios named in ``only`` (all when empty); unknown names raise ValueError."""
    names = [name for item in only for name in item.split(",") if name]
    unknown = [name for name in names if name not in SCENARIOS_BY_NAME]
    if unknown:
        known = ", ".join(SCENARIOS_BY_NAME)
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; known: {known}")
    return [s for s in SCENARIOS if not names or s.name in names]


def _judge(
    rule: Rule, profile: Profile, runs: Sequence[tuple[RunResult, dict[str, list[Check]]]]
) -> RuleResult:
    failed: list[str] = []
    passed: list[str] = []
    evidence: list[str] = []
    for run, grouped in runs:
        if run.profile is not profile:
            continue
        for check in grouped.get(rule.id, ()):
            if check.passed:
                if run.scenario not in passed:
                    passed.append(run.scenario)
                continue
            if run.scenario not in failed:
                failed.append(run.scenario)
            if len(evidence) < _EVIDENCE_PER_RULE:
                evidence.append(f"[{run.scenario}]")
                evidence.extend(check.evidence)
    if failed:
        return RuleResult(rule, profile, Verdict.FAIL, tuple(failed), tuple(evidence))
    if passed:
        return RuleResult(rule, profile, Verdict.PASS, tuple(passed), ())
    return RuleResult(rule, profile, Verdict.NOT_EXERCISED, (), ())


def run_kit(
    command: Sequence[str],
    profiles: Sequence[Profile] = (Profile.DISCO_054, Profile.SPEC),
    scenarios: Sequence[Scenario] | None = None,
    settings: KitSettings | None = None,
    progress: Callable[[RunResult], None] | None = None,
) -> KitResult:
    """Run ``command`` through every scenario under every profile it applies to."""
    started = time.monotonic()
    argv = resolve_command(command)
    chosen = list(SCENARIOS if scenarios is None else scenarios)
    settings = settings or KitSettings()
    runs: list[RunResult] = []
    with DataServer() as server, tempfile.TemporaryDirectory(prefix="discotool-conform-") as tmp:
        for scenario in chosen:
            for profile in profiles:
                if profile not in scenario.profiles:
                    continue
                root = Path(tmp) / f"{scenario.name}-{profile.value}"
                root.mkdir()
                result = run_scenario(scenario, profile, argv, root, server, settings)
                runs.append(result)
                if progress is not None:
                    progress(result)
    grouped = [(run, run.by_rule()) for run in runs]
    rules = tuple(
        _judge(rule, profile, grouped)
        for profile in profiles
        for rule in RULES
        if rule.applies_to(profile)
    )
    return KitResult(
        tuple(command), tuple(profiles), rules, tuple(runs), time.monotonic() - started
    )
