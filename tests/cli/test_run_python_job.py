"""``discotool run`` with a Python job (``module:name`` or ``file.py:name``) on its own master."""

from __future__ import annotations

import collections
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.cli.run import _text, classify_target
from tests.processes import discotool  # its master is never used: run starts its own

from .conftest import InProcess, support

# Several whole jobs per test, each on its own master: see tests/job/test_on_master.py.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
WORDCOUNT = ROOT / "examples" / "jobs" / "wordcount.py"
FAILING = ROOT / "tests" / "job" / "failing_job.py"
TEXT = "the quick brown fox\njumps over the lazy dog\nthe dog sleeps\n"


def test_wordcount_file_spec_prints_decoded_records(tmp_path: Path) -> None:
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text(TEXT)
    two.write_text(TEXT * 3)
    result = discotool(
        "run", f"{WORDCOUNT}:wordcount", str(one), str(two), "raw://fox fox", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    counted = {word: int(count) for word, count in (line.split("\t") for line in lines)}
    assert len(counted) == len(lines)  # each word once: the reduce saw all its counts
    assert counted == collections.Counter((TEXT * 4 + "fox fox").split())
    assert "Submitted wordcount@" in result.stderr
    assert "ready" in result.stderr.splitlines()[-1]


def test_module_spec_from_the_current_directory_with_json(tmp_path: Path) -> None:
    (tmp_path / "lengths_job.py").write_text(
        "from pydisco.job import map_reduce\n\n"
        "def lengths(line):\n"
        "    for word in line.split():\n"
        "        yield len(word), [word]\n\n"
        "def collect(length, words):\n"
        "    yield length, sorted(w for ws in words for w in ws)\n\n"
        "by_length = map_reduce(lengths, collect, partitions=2)\n"
    )
    (tmp_path / "in.txt").write_text("a bb cc\nddd a\n")
    result = discotool("--json", "run", "lengths_job:by_length", "in.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "ready" and document["name"].startswith("by_length@")
    assert sorted(document["records"]) == [[1, ["a", "a"]], [2, ["bb", "cc"]], [3, ["ddd"]]]


def test_failing_user_function_prints_traceback_stage_task_and_input(tmp_path: Path) -> None:
    result = discotool("run", f"{FAILING}:failing", "raw://a 1\nb 0\n", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    err = result.stderr
    assert "Traceback (most recent call last)" in err
    assert "yield word, 100 // int(number)" in err  # the user's own line
    assert "ZeroDivisionError" in err
    assert "while running stage 'map', task 0, input " in err
    assert "status dead" in err


def test_labels_and_urls_for_a_python_job(tmp_path: Path) -> None:
    data = tmp_path / "words.txt"
    data.write_text(TEXT)
    dt = InProcess("http://127.0.0.1:9")
    everything = dt("run", f"{WORDCOUNT}:wordcount", str(data))
    assert everything.exit_code == 0, everything.output
    rows = set(everything.stdout.splitlines())
    first = dt("run", f"{WORDCOUNT}:wordcount", str(data), "--label", "0")
    rest = dt(
        "run", f"{WORDCOUNT}:wordcount", str(data), "--label", "1", "--label", "2", "--label", "3"
    )
    assert first.exit_code == 0 and rest.exit_code == 0
    labelled = [set(first.stdout.splitlines()), set(rest.stdout.splitlines())]
    assert labelled[0] | labelled[1] == rows and not labelled[0] & labelled[1]
    assert labelled[0] and labelled[1]  # 10 words over 2 partitions: both sides hold some
    urls = dt("run", f"{WORDCOUNT}:wordcount", str(data), "--urls")
    assert urls.exit_code == 0
    shown = urls.stdout.splitlines()
    assert shown and all(url.startswith("http://") and "/reduce" in url for url in shown)
    assert "--keep-master" in urls.stderr  # those URLs die with the local master


def test_a_module_that_fails_to_import_shows_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_job_module.py").write_text("raise RuntimeError('broken at import')\n")
    (tmp_path / "in.txt").write_text("x\n")
    monkeypatch.chdir(tmp_path)
    result = InProcess("http://127.0.0.1:9")("run", "broken_job_module.py:job", "in.txt")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "RuntimeError: broken at import" in result.stderr


def test_a_job_that_fails_to_load_stops_even_a_kept_local_master(tmp_path: Path) -> None:
    # The local master starts while the job loads; a job that cannot load is a usage error,
    # not a failed job to look into, so --keep-master does not hold the master for it.
    (tmp_path / "in.txt").write_text("x\n")
    result = discotool("run", "--keep-master", f"{WORDCOUNT}:no_such_name", "in.txt", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "does not name a pydisco Job" in result.stderr
    assert "keeps running" not in result.stderr


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_anywhere:job", "no module 'no_such_module_anywhere' can be imported"),
        ("missing_file.py:job", "The job file missing_file.py does not exist"),
        ("just_a_word", "neither a job pack file nor a Python job"),
        ("notes.txt", "is not a job pack (it starts with 68 65 6c 6c"),
        (f"{WORDCOUNT}:words", "does not name a pydisco Job"),
        (f"{WORDCOUNT}:no_such_name", "does not name a pydisco Job"),
        (f"{WORDCOUNT}:no_such_name", f"Name one of its jobs: '{WORDCOUNT}:wordcount', "),
        (str(WORDCOUNT), f"holds 3 jobs, not one. Name one of its jobs: '{WORDCOUNT}:wordcount'"),
    ],
)
def test_unclear_targets_are_usage_errors(
    target: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "in.txt").write_text("x\n")
    result = InProcess("http://127.0.0.1:9")("run", target, "in.txt")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_python_job_inputs_are_checked_before_starting(tmp_path: Path) -> None:
    dt = InProcess("http://127.0.0.1:9")
    missing = dt("run", f"{WORDCOUNT}:wordcount", str(tmp_path / "nope.txt"))
    assert missing.exit_code == 2 and "neither a URL nor an existing file" in missing.stderr
    none = dt("run", f"{WORDCOUNT}:wordcount")
    assert none.exit_code == 2 and "needs INPUTS" in none.stderr


def test_job_packs_are_told_by_their_first_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # "examples.jobs..." is importable from the repository root
    binary = support.write_pack(tmp_path, inputs=["raw://x"])
    assert classify_target(str(binary)) == "pack"
    named_like_code = tmp_path / "job.py:thing"
    named_like_code.write_bytes(binary.read_bytes())
    assert classify_target(str(named_like_code)) == "pack"  # an existing pack wins over X:Y
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("jobdict.json", "{}")
    assert classify_target(str(archive)) == "pack"
    assert classify_target(f"{WORDCOUNT}:wordcount") == "python"
    assert classify_target("examples.jobs.wordcount:wordcount") == "python"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_a_printed_key_or_value_is_the_string_or_its_compact_json(value: object) -> None:
    # The int fast path and the shared encoder print exactly what json.dumps would.
    expected = (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    )
    assert _text(value) == expected
