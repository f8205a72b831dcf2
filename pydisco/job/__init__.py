"""Disco jobs in typed Python: map/reduce or multi-stage pipelines, run inline or on a master.

::

    from pydisco.job import map_reduce

    def words(line):
        for word in line.split():
            yield word, 1

    def total(word, counts):
        yield word, sum(counts)

    wordcount = map_reduce(words, total, combine=total, partitions=2)

    if __name__ == "__main__":  # workers import this module: never run a job on import
        for word, count in wordcount.run(["book.txt"]):          # inline
            ...
        wordcount.run(["book.txt"], runner="local")               # the bundled master
        wordcount.run(["http://host/book.txt"], runner="http://master:8989")

This package is also shipped into job homes, so importing it needs only the
standard library, ``attrs`` and :mod:`pydisco.protocol`. ``Results`` and
``Source`` load on first use: a task imports this package (the user's module
does) but never reads results.
"""

from typing import TYPE_CHECKING

from pydisco.job.api import (
    GROUPINGS,
    Job,
    Stage,
    load_job,
    locate_job,
    map_reduce,
)
from pydisco.job.errors import (
    CorruptRecords,
    InputChanged,
    JobDefinitionError,
    JobError,
    MissingInput,
    RunInsideTask,
    StageFailed,
)
from pydisco.job.oob import oob
from pydisco.job.records import get_format
from pydisco.lazy import lazy_names as _lazy_names

if TYPE_CHECKING:
    from pydisco.job.results import Results
    from pydisco.job.sources import Source

__all__ = [
    "GROUPINGS",
    "CorruptRecords",
    "InputChanged",
    "Job",
    "JobDefinitionError",
    "JobError",
    "MissingInput",
    "Results",
    "RunInsideTask",
    "Source",
    "Stage",
    "StageFailed",
    "get_format",
    "load_job",
    "locate_job",
    "map_reduce",
    "oob",
]

__getattr__ = _lazy_names(__name__, {"Results": "results", "Source": "sources"})
