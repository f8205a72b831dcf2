"""The rule list is the one source of truth: ids are stable and the spec's table matches."""

from __future__ import annotations

import re

from pydisco.conformance import RULES, SCENARIOS
from pydisco.conformance.rules import GROUPS, RULES_BY_ID, rules_markdown
from tests.conformance.helpers import ROOT

DOC = ROOT / "protocol-spec" / "conformance.md"
SPEC = ROOT / "protocol-spec" / "README.md"
BEGIN, END = "<!-- rules:begin -->", "<!-- rules:end -->"


def test_rule_ids_are_unique_grouped_and_numbered():
    assert len(RULES_BY_ID) == len(RULES)
    for rule in RULES:
        assert re.fullmatch(r"[A-Z]+-[0-9]+", rule.id), rule.id
        assert rule.group in GROUPS, rule.id
        assert rule.profiles, rule.id


def test_every_rule_names_a_section_of_the_spec():
    text = SPEC.read_text(encoding="utf-8")
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    }
    for rule in RULES:
        assert rule.section == "conformance" or rule.section in anchors, (rule.id, rule.section)


def test_scenarios_name_known_rules():
    names = [s.name for s in SCENARIOS]
    assert len(set(names)) == len(names)
    for scenario in SCENARIOS:
        assert set(scenario.rules) <= set(RULES_BY_ID), scenario.name


def test_conformance_md_lists_every_rule():
    text = DOC.read_text(encoding="utf-8")
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert generated == rules_markdown().strip(), (
        "protocol-spec/conformance.md is stale: run "
        "`python -m pydisco.conformance` and paste its output between the markers"
    )
    for rule in RULES:
        assert f"`{rule.id}`" in text
