"""Every example end to end on the reference master (real HTTP, real worker subprocesses)."""

from __future__ import annotations

import collections
import random
from pathlib import Path
from typing import Any

import pytest

from examples.jobs.join import orders_by_person
from examples.jobs.kmeans import kmeans
from examples.jobs.pagerank import pagerank
from examples.jobs.pipeline import pipeline
from examples.jobs.wordcount import wordcount, wordcount_by_word
from pydisco.job import Job
from tests.job.failing_job import failing

# Each test runs one to five whole jobs on a real master (job pack, worker processes, HTTP);
# on a loaded 2-CPU machine running the suite with -n 2 that can approach the suite-wide
# 120 s hang guard, so these get a limit that still catches a hang but not a slow machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

TEXT = "the quick brown fox\njumps over the lazy dog\nThe dog sleeps\n"


@pytest.mark.parametrize("original", [wordcount, wordcount_by_word], ids=["per_task", "per_word"])
def test_wordcount_with_a_split_file(reference_master: Any, tmp_path: Path, original: Job) -> None:
    path = tmp_path / "words.txt"
    path.write_text(TEXT * 300)
    job = Job(original.stages, chunk_size=4000)  # several map tasks from one file
    from pydisco.job.remote import LocalMasterRunner

    results = LocalMasterRunner(master=reference_master).run(job, [str(path)], original=original)
    assert dict(results) == dict(collections.Counter((TEXT * 300).split()))
    assert set(results.by_label()) <= {0, 1, 2, 3}


def test_three_stage_pipeline(reference_master: Any) -> None:
    results = pipeline.run([TEXT.encode(), TEXT.encode()], runner="local", master=reference_master)
    inline = pipeline.run([TEXT.encode(), TEXT.encode()])
    assert dict(results) == dict(inline)


def test_join(reference_master: Any) -> None:
    people, orders = b"1,ann\n2,bob\n", b"10,1,5.5\n11,2,1.0\n12,1,4.5\n"
    results = orders_by_person.run([people, orders], runner="local", master=reference_master)
    assert dict(results) == {"ann": 10.0, "bob": 1.0}


def test_pagerank_chains_jobs_on_the_master(reference_master: Any) -> None:
    graph = b"a b c\nb c\nc a\nd c\n"
    on_master = pagerank([graph], pages=4, iterations=2, runner=reference_master.url)
    inline = pagerank([graph], pages=4, iterations=2)
    assert on_master.keys() == inline.keys()
    for page in inline:
        assert on_master[page] == pytest.approx(inline[page])


def test_kmeans_iterates(reference_master: Any) -> None:
    rng = random.Random(3)
    points = [(rng.gauss(0, 0.1), rng.gauss(0, 0.1)) for _ in range(50)]
    points += [(rng.gauss(4, 0.1), rng.gauss(4, 0.1)) for _ in range(50)]
    data = "\n".join(f"{x} {y}" for x, y in points).encode()
    centres = kmeans([data], [[0.0, 1.0], [1.0, 0.0]], iterations=2, runner=reference_master.url)
    assert sorted(round(c[0]) for c in centres) == [0, 4]


def test_user_error_is_reported_with_traceback_and_where(reference_master: Any) -> None:
    from pydisco.client import JobFailed

    with pytest.raises(JobFailed) as info:
        failing.run(b"a 1\nb 0\n", runner="local", master=reference_master)
    text = str(info.value)
    assert "ZeroDivisionError" in text
    assert "stage 'map'" in text
