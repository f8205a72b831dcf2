"""protocol-spec/ is read by implementers who have nothing else: it cites nothing outside it,
and it states what a worker otherwise learns the hard way."""

from __future__ import annotations

import json
import re
from pathlib import Path

SPEC = Path(__file__).resolve().parents[2] / "protocol-spec"


def test_no_reference_to_documents_outside_the_spec() -> None:
    for path in sorted(SPEC.rglob("*")):
        if path.is_file() and path.suffix in (".md", ".json", ".py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"\bfacts\b", text, re.I), path


def test_raw_data_is_the_utf8_of_the_decoded_json_string() -> None:
    readme = (SPEC / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `raw://<data>`"))
    assert "UTF-8 encoding of the *decoded* string" in row
    example = json.loads('"raw://a\\nb"')[len("raw://") :].encode("utf-8")
    assert example == b"a\nb" and "the 3 bytes `a`, LF, `b`" in row
    assert "raw://é".encode()[len("raw://") :].hex(" ").upper() in row


def test_how_a_master_runs_the_worker_file() -> None:
    readme = (SPEC / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The worker process", 1)[1].split("\n## ", 1)[0]
    assert 'sh -c "nice -n 19 <path>"' in section
    assert "executes the same file directly" in section and "Exec format error" in section
