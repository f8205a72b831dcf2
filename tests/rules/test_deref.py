"""One result dereferencing (the client's): the job runner tries every replica of an index."""

from __future__ import annotations

from typing import Any

import pytest

from pydisco.client import Master, ResultFile, ResultsError
from pydisco.job.remote import MasterRunner
from pydisco.resultsindex import format_index_line


def test_runner_reads_indexes_through_the_client(reference_master: Any) -> None:
    index = format_index_line(2, "disco://127.0.0.1/disco/a", 5) + format_index_line(
        0, "disco://127.0.0.1/disco/b", 7
    )
    (reference_master.data_dir / "x.results").write_text(index)
    dead = "dir://127.0.0.1:1/disco/x.results"  # nothing listens on port 1
    good = "dir://127.0.0.1/disco/x.results"
    port = reference_master.port
    runner = MasterRunner(reference_master.url)
    with Master(reference_master.url) as master:
        assert master.result_files([[dead, good]]) == [
            ResultFile(2, [f"http://127.0.0.1:{port}/disco/a"]),
            ResultFile(0, [f"http://127.0.0.1:{port}/disco/b"]),
        ]
        sources = runner._result_sources(master, [[dead, good], ["http://h/raw"]], "json")
        assert [(s.urls, s.label) for s in sources] == [
            ((f"http://127.0.0.1:{port}/disco/a",), 2),
            ((f"http://127.0.0.1:{port}/disco/b",), 0),
            (("http://h/raw",), 0),
        ]
        with pytest.raises(ResultsError, match="any of its 2 replica"):
            runner._result_sources(master, [[dead, dead.replace(":1/", ":2/")]], "json")
