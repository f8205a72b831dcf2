"""Reports of a kit run: plain text, a rich table on terminals, JSON and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import IO

from pydisco.conformance.driver import RunResult
from pydisco.conformance.kit import KitResult, RuleResult
from pydisco.conformance.rules import Verdict

__all__ = ["progress_line", "render_text", "write_json", "write_junit"]

_MARK = {Verdict.PASS: "PASS", Verdict.FAIL: "FAIL", Verdict.NOT_EXERCISED: "----"}


def progress_line(run: RunResult) -> str:
    """One line per finished scenario run."""
    failed = sorted({c.rule for c in run.checks if not c.passed})
    status = "ok" if not failed else "FAIL " + " ".join(failed)
    return (
        f"{run.scenario:<17} {run.profile.value:<12} {run.duration:6.2f}s  {status}"
        f"  ({run.outcome})"
    )


def _summary(result: KitResult) -> str:
    counts = {v: sum(r.verdict is v for r in result.rules) for v in Verdict}
    return (
        f"{counts[Verdict.PASS]} passed, {counts[Verdict.FAIL]} failed, "
        f"{counts[Verdict.NOT_EXERCISED]} not exercised "
        f"({len(result.runs)} scenario runs, {result.duration:.1f}s)"
    )


def _failure_details(result: KitResult) -> list[str]:
    lines: list[str] = []
    for rule in result.failed:
        lines.append("")
        lines.append(f"{rule.rule.id} [{rule.profile.value}] {rule.rule.title}")
        lines.append(f"  spec: protocol-spec/README.md#{rule.rule.section}")
        lines.extend(f"  {line}" for line in rule.evidence)
    return lines


def render_text(result: KitResult, out: IO[str], color: bool = False) -> None:
    """The terminal report: one row per rule and profile, then the failures' evidence."""
    if color:
        _render_rich(result, out)
    else:
        for rule in result.rules:
            where = ", ".join(rule.scenarios) if rule.verdict is Verdict.FAIL else ""
            out.write(
                f"{_MARK[rule.verdict]}  {rule.rule.id:<6} {rule.profile.value:<12} "
                f"{rule.rule.title}{'  [' + where + ']' if where else ''}\n"
            )
    for line in _failure_details(result):
        out.write(line + "\n")
    out.write("\n" + _summary(result) + "\n")


def _render_rich(result: KitResult, out: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    style = {Verdict.PASS: "green", Verdict.FAIL: "bold red", Verdict.NOT_EXERCISED: "dim"}
    table = Table(title=f"discotool conform -- {' '.join(result.command)}")
    for column in ("Rule", "Profile", "Verdict", "Title", "Failed in"):
        table.add_column(column)
    for rule in result.rules:
        table.add_row(
            rule.rule.id,
            rule.profile.value,
            f"[{style[rule.verdict]}]{rule.verdict.value}[/]",
            rule.rule.title,
            ", ".join(rule.scenarios) if rule.verdict is Verdict.FAIL else "",
        )
    Console(file=out, highlight=False).print(table)


def write_json(result: KitResult, out: IO[str]) -> None:
    """The whole result, with every run's transcript, as one JSON document."""
    json.dump(result.to_json(), out, indent=2, ensure_ascii=False)
    out.write("\n")


def _testcase(suite: ET.Element, rule: RuleResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"discotool.conform.{rule.profile.value}",
        name=f"{rule.rule.id} {rule.rule.title}",
        time="0",
    )
    if rule.verdict is Verdict.FAIL:
        failure = ET.SubElement(
            case, "failure", message=f"failed in {', '.join(rule.scenarios)}", type=rule.rule.id
        )
        failure.text = "\n".join(rule.evidence)
    elif rule.verdict is Verdict.NOT_EXERCISED:
        ET.SubElement(case, "skipped", message="not exercised by the worker")


def write_junit(result: KitResult, path: str) -> None:
    """JUnit XML: one test suite per profile, one test case per rule."""
    root = ET.Element("testsuites", name="discotool conform", time=f"{result.duration:.3f}")
    for profile in result.profiles:
        rules = [r for r in result.rules if r.profile is profile]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"conform {profile.value}",
            tests=str(len(rules)),
            failures=str(sum(r.verdict is Verdict.FAIL for r in rules)),
            skipped=str(sum(r.verdict is Verdict.NOT_EXERCISED for r in rules)),
            errors="0",
        )
        for rule in rules:
            _testcase(suite, rule)
        runs = [r for r in result.runs if r.profile is profile]
        out = ET.SubElement(suite, "system-out")
        out.text = "\n\n".join(
            f"== {run.scenario} ({run.outcome})\n" + "\n".join(run.transcript) for run in runs
        )
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
