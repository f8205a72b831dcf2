"""A job started from a module without the ``__main__`` guard, and user OSErrors: fail at once.

Workers import the job's module to find its functions; a ``run()`` call at
module level must not start the job again (or a master) inside each task.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pydisco.job import RunInsideTask, map_reduce
from pydisco.job.api import IN_TASK_ENV
from tests.job.side_file_job import missing_side_file
from tests.processes import environment, run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

UNGUARDED = """\
from pydisco.job import map_reduce

def words(line):
    for word in line.split():
        yield word, 1

def total(word, counts):
    yield word, sum(counts)

wordcount = map_reduce(words, total)
for word, count in wordcount.run(["book.txt"], runner="local"):
    print(word, count)
"""


def test_unguarded_run_fails_at_once_naming_the_guard(tmp_path: Path) -> None:
    (tmp_path / "count.py").write_text(UNGUARDED)
    (tmp_path / "book.txt").write_text("a b a\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    result = run(
        [sys.executable, "count.py"], cwd=tmp_path, env=environment(TMPDIR=str(temp)), timeout=240
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "FATAL" in result.stderr and "RunInsideTask" in result.stderr
    assert 'if __name__ == "__main__":' in result.stderr
    assert "module 'count'" in result.stderr
    assert "WARNING" not in result.stderr  # no retry happened
    assert list(temp.iterdir()) == []  # the bundled master's data went with the process


def test_run_refuses_while_a_task_imports_the_module(monkeypatch: pytest.MonkeyPatch) -> None:
    def same(record: Any) -> Any:
        yield record, 1

    job = map_reduce(same)
    monkeypatch.setenv(IN_TASK_ENV, "users_module:job")
    with pytest.raises(RunInsideTask, match='if __name__ == "__main__":'):
        job.run([b"x\n"])


def test_oserror_of_the_users_own_file_is_fatal_not_retried(reference_master: Any) -> None:
    """The shared test master retries ERRORs (Disco's policy): a user OSError must be FATAL."""
    from pydisco.client import JobFailed

    with pytest.raises(JobFailed) as info:
        missing_side_file.run([b"one\n"], runner="local", master=reference_master)
    kinds = [event.kind for event in info.value.events]
    assert kinds[-1] == "FATAL", kinds
    assert "WARNING" not in kinds
    assert "FileNotFoundError" in str(info.value)
    assert "pydisco-side-file.txt" in str(info.value)
