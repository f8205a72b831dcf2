"""A local input that does not exist fails at once, saying where it was looked for.

The README's script run from a directory other than the top of the clone is
the usual way to meet it: ``examples/book.txt`` is then relative to the wrong
directory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pydisco.job import MissingInput, map_reduce

from .test_readme_snippet import DOCS, scripts


def words(line: str):  # type: ignore[no-untyped-def]
    for word in line.split():
        yield word, 1


@pytest.mark.parametrize("given", ["nope.txt", "file:///no/such/dir/nope.txt"])
def test_a_missing_path_is_a_clear_error(given: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingInput) as raised:
        map_reduce(words).run([given], runner="inline")
    assert isinstance(raised.value, FileNotFoundError)
    assert f"The job input {given!r} does not exist" in str(raised.value)
    relative = f"relative to the current directory {tmp_path}"
    assert (relative in str(raised.value)) is ("://" not in given)


def test_a_missing_path_object_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MissingInput, match=r"looked for .*nope\.txt\)"):
        map_reduce(words).run(tmp_path / "nope.txt", runner="inline")


@pytest.mark.slow
def test_the_readme_script_outside_the_clone_says_where_it_looked(tmp_path: Path) -> None:
    (script,) = scripts(DOCS[0])
    (tmp_path / "count.py").write_text(script)
    done = subprocess.run(
        [sys.executable, "count.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("pydisco.job.errors.MissingInput: The job input 'examples/book.txt'")
    assert f"looked for {tmp_path}/examples/book.txt" in last
