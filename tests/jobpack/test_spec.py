"""The spec document and the code agree on the lint codes and the reason texts."""

from __future__ import annotations

import re
from pathlib import Path

SPEC = Path(__file__).resolve().parents[2] / "protocol-spec" / "jobpack.md"
LINTING = Path(__file__).resolve().parents[2] / "pydisco" / "jobpack" / "linting.py"


def test_every_lint_code_is_documented() -> None:
    source = LINTING.read_text()
    codes = set(re.findall(r'(?:warn|LintWarning)\(\s*"([a-z0-9-]+)"', source))
    assert len(codes) > 20
    section = SPEC.read_text().split("\n## Lint\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.MULTILINE))
    assert codes == documented


def test_atom_reasons_are_documented() -> None:
    text = SPEC.read_text()
    for reason in (
        "invalid_job_inputs",
        "invalid_job_save_results",
        "invalid_job_save_info",
        "repeated_pipeline_stages",
        '"invalid header"',
        '"invalid prefix"',
    ):
        assert reason in text
