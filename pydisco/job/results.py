"""A finished job's results: iterate for decoded records, or pass them on as inputs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydisco.job.records import get_format
from pydisco.job.sources import Source, read_source

__all__ = ["Results"]

Reader = Callable[[Source], Iterator[bytes]]


class Results:
    """The results of one run: ``(key, value)`` records when iterated.

    ``sources`` are the result files as job inputs, so a :class:`Results`
    given to another job's ``run`` chains the jobs. Iterating reads the files
    again each time (nothing is kept in memory).
    """

    def __init__(
        self,
        sources: list[Source],
        format: str,
        job_name: str,
        *,
        reader: Reader = read_source,
        keep: Any = None,
        master: str | None = None,
    ) -> None:
        self.sources = sources
        self.format = format
        self.job_name = job_name
        self._reader = reader
        #: Whatever must stay alive while the results are readable (a temp dir, a master).
        self._keep = keep
        #: The URL of the master that ran the job (None for the inline runner).
        self.master = master

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for source in self.sources:
            fmt = get_format(source.format)
            yield from fmt.records(self._reader(source))

    def by_label(self) -> dict[int, list[tuple[Any, Any]]]:
        """The records of each output label (partition), in memory."""
        out: dict[int, list[tuple[Any, Any]]] = {}
        for source in self.sources:
            records = get_format(source.format).records(self._reader(source))
            out.setdefault(source.label, []).extend(records)
        return out

    def only(self, labels: Iterable[int]) -> Results:
        """The results whose output label is one of ``labels``."""
        wanted = set(labels)
        sources = [source for source in self.sources if source.label in wanted]
        return Results(
            sources,
            self.format,
            self.job_name,
            reader=self._reader,
            keep=self._keep,
            master=self.master,
        )

    def oob_list(self) -> set[str]:
        """The OOB keys the job's tasks stored (``oob.put``)."""
        from pydisco.client import DDFS

        with DDFS(self._master()) as ddfs:
            return ddfs.oob_list(self.job_name)

    def oob_get(self, key: str) -> bytes:
        """The newest OOB value the job's tasks stored under ``key``."""
        from pydisco.client import DDFS

        with DDFS(self._master()) as ddfs:
            return ddfs.oob_get(self.job_name, key)

    def _master(self) -> str:
        if self.master is None:
            from pydisco.job.errors import JobError

            raise JobError("These results come from the inline runner, which has no OOB store.")
        return self.master

    def to_dict(self) -> dict[Any, Any]:
        """The records as a dict (the last value of a repeated key wins)."""
        return {_hashable(key): value for key, value in self}

    def __repr__(self) -> str:
        return f"<Results of {self.job_name}: {len(self.sources)} files, {self.format}>"


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value
