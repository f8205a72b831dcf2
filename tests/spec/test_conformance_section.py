"""protocol-spec/README.md lists exactly the conformance kit's rules, in order."""

from __future__ import annotations

import re
from pathlib import Path

from pydisco.conformance.rules import RULES

README = Path(__file__).resolve().parents[2] / "protocol-spec" / "README.md"
ROW = re.compile(
    r"^\| `(?P<id>[A-Z]+-\d+)` \| (?P<title>.+?) \| (?P<profiles>[a-z0-9.-]+) \| (?P<link>.+) \|$"
)
PROFILE_NAMES = {
    ("disco-0.5.4", "spec"): "both",
    ("spec",): "spec",
    ("disco-0.5.4",): "disco-0.5.4",
}


def _rows() -> list[re.Match[str]]:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- rules:begin -->", 1)[1].split("<!-- rules:end -->", 1)[0]
    lines = [line for line in block.strip().splitlines()[2:]]
    matches = [ROW.match(line) for line in lines]
    assert all(matches), [line for line, m in zip(lines, matches, strict=True) if m is None]
    return [m for m in matches if m is not None]


def _anchors() -> set[str]:
    headings = re.findall(r"^#+ (.+)$", README.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}


def test_rule_table_matches_the_kit() -> None:
    rows = _rows()
    assert [m["id"] for m in rows] == [rule.id for rule in RULES]
    for row, rule in zip(rows, RULES, strict=True):
        assert row["title"] == rule.title
        assert row["profiles"] == PROFILE_NAMES[tuple(p.value for p in rule.profiles)]


def test_rule_links_point_at_sections_that_exist() -> None:
    anchors = _anchors()
    for row, rule in zip(_rows(), RULES, strict=True):
        if rule.section == "conformance":
            assert "conformance.md#the-reference-behaviour" in row["link"]
        else:
            assert row["link"] == f"[{rule.section}](#{rule.section})"
            assert rule.section in anchors, rule.section
