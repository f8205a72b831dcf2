"""protocol-spec/README.md carries the conformance kit's rule table, generated from the kit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pydisco.conformance.rules import RULES, rules_markdown

README = Path(__file__).resolve().parents[2] / "protocol-spec" / "README.md"
BEGIN, END = "<!-- rules:begin -->", "<!-- rules:end -->"


def test_rule_table_matches_the_kit() -> None:
    text = README.read_text(encoding="utf-8")
    table = text.split(BEGIN + "\n", 1)[1].split(END, 1)[0]
    assert table == rules_markdown(in_spec=True), (
        "protocol-spec/README.md is stale: run `python -m pydisco.conformance --spec` "
        "and paste its output between the markers"
    )
    assert all(f"`{rule.id}`" in table for rule in RULES)


def test_spec_links_stay_inside_the_spec() -> None:
    table = rules_markdown(in_spec=True)
    assert "README.md#" not in table
    assert "](conformance.md#the-reference-behaviour)" in table
    assert "](README.md#" in rules_markdown()


def test_the_module_prints_both_tables() -> None:
    for args, expected in (([], rules_markdown()), (["--spec"], rules_markdown(in_spec=True))):
        done = subprocess.run(
            [sys.executable, "-m", "pydisco.conformance", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout == expected
