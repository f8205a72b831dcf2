"""Reports (text, JSON, JUnit) and the ``discotool conform`` command line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from pydisco.conformance import KitResult, Verdict
from pydisco.conformance.report import render_text, write_json, write_junit
from tests.conformance.helpers import BROKEN, SH_WORKER, kit, python_command


@pytest.fixture(scope="module")
def wrong_size() -> KitResult:
    return kit(python_command(BROKEN / "wrong_size.py"), only=("basic",))


def test_text_report_names_the_rule_and_shows_the_transcript(wrong_size):
    out = io.StringIO()
    render_text(wrong_size, out)
    text = out.getvalue()
    assert "FAIL  OUT-4  disco-0.5.4" in text
    assert "----  IN-2" in text  # http inputs are not part of "basic": not exercised
    assert "worker> OUTPUT" in text  # evidence: the offending frame, timestamped
    assert "the file has" in text
    assert "failed" in text.splitlines()[-1]


def test_json_report_has_rules_runs_and_transcripts(wrong_size):
    out = io.StringIO()
    write_json(wrong_size, out)
    data = json.loads(out.getvalue())
    assert data["ok"] is False
    verdicts = {(r["id"], r["profile"]): r["verdict"] for r in data["rules"]}
    assert verdicts[("OUT-4", "spec")] == "fail"
    assert verdicts[("OUT-3", "spec")] == "pass"
    assert verdicts[("RP-1", "spec")] == "not exercised"
    run = data["runs"][0]
    assert run["scenario"] == "basic"
    assert any("worker> WORKER" in line for line in run["transcript"])


def test_junit_report(wrong_size, tmp_path):
    path = tmp_path / "conform.xml"
    write_junit(wrong_size, str(path))
    root = ET.parse(path).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["conform disco-0.5.4", "conform spec"]
    for suite in suites:
        failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
        assert failed == ["OUT-4 The reported size is the file's size"]
        skipped = [c for c in suite.findall("testcase") if c.find("skipped") is not None]
        assert int(suite.get("skipped")) == len(skipped) > 0
        assert "worker> OUTPUT" in suite.find("system-out").text


def test_verdict_lookup(wrong_size):
    from pydisco.protocol.session import Profile

    assert wrong_size.verdict("OUT-4", Profile.SPEC) is Verdict.FAIL
    assert wrong_size.verdict("SQ-3", Profile.SPEC) is None  # a disco-0.5.4 rule only


def _discotool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pydisco", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_passing_worker_exits_zero_and_writes_junit(tmp_path):
    junit = tmp_path / "out.xml"
    done = _discotool("conform", "--only", "basic,eof", "--junit", str(junit), "--", str(SH_WORKER))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failed" in done.stdout
    assert ET.parse(junit).getroot().tag == "testsuites"


def test_cli_failing_worker_exits_one_with_json(tmp_path):
    done = _discotool(
        "conform",
        "--json",
        "--profile",
        "spec",
        "--only",
        "basic",
        "--",
        sys.executable,
        str(BROKEN / "wrong_size.py"),
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["profiles"] == ["spec"]
    assert [r["id"] for r in data["rules"] if r["verdict"] == "fail"] == ["OUT-4"]


def test_cli_list_and_usage_errors():
    listed = _discotool("conform", "--list")
    assert listed.returncode == 0
    assert "many" in listed.stdout and "MSG-1" in listed.stdout
    assert _discotool("conform").returncode == 2
    assert _discotool("conform", "--only", "nosuch", "--", "true").returncode == 2
    missing = _discotool("conform", "--", "./no-such-worker")
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr


def test_rich_table_on_terminals(wrong_size):
    out = io.StringIO()
    render_text(wrong_size, out, color=True)
    text = out.getvalue()
    assert "OUT-4" in text
    assert "fail" in text


def test_cli_disco_profile_verbose_and_global_json() -> None:
    done = _discotool(
        "--json",
        "conform",
        "--profile",
        "disco-0.5.4",
        "--only",
        "basic",
        "-v",
        "--",
        sys.executable,
        str(BROKEN / "ping.py"),
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["profiles"] == ["disco-0.5.4"]
    assert [r["id"] for r in data["rules"] if r["verdict"] == "fail"] == ["SQ-3"]
    # -v: one line per scenario run, on stderr, naming what failed.
    progress = done.stderr.splitlines()
    assert len(progress) == 1 and progress[0].startswith("basic") and "FAIL SQ-3" in progress[0]
