"""save_results (facts §5.5): which outputs of a job's last stage become DDFS blobs.

A local output (a file under the data directory of one of the master's nodes,
listed directly or in a results index) becomes a blob named
``<job>:<taskid>:<run>:<file>``; any other output stays a URL in the results tag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path

from pydisco.dataurls import UnsafeURL
from pydisco.master.grouping import DirOutput
from pydisco.master.layout import url_host
from pydisco.master.tasks import Task
from pydisco.resultsindex import parse_index

__all__ = ["LocalFile", "sort_outputs"]

#: A local output to store: its host, its path, and its blob name.
LocalFile = tuple[str, Path, str]


async def sort_outputs(
    jobname: str, tasks: Iterable[Task], local: Callable[[str], Path | None]
) -> tuple[list[LocalFile], list[list[str]]]:
    """The tasks' outputs as local files to store and remote replica lists to keep.

    ``local`` maps a URL to the file it names on this machine, or None.
    """
    files: list[LocalFile] = []
    remote: list[list[str]] = []

    def sort(url: str, replicas: list[str], prefix: str) -> None:
        path = _existing(local, url)
        if path is None:
            remote.append(replicas)
        else:
            files.append((url_host(url), path, prefix + path.name))

    for task in tasks:
        prefix = f"{jobname}:{task.taskid}:{task.runs}:"
        for output in task.outputs:
            if isinstance(output, DirOutput):
                index = _existing(local, output.url)
                if index is None:
                    remote.append([output.url])
                    continue
                data = await asyncio.to_thread(index.read_bytes)
                for entry in parse_index(data, output.url):
                    sort(entry.url, [entry.url], prefix)
            elif output.urls:
                sort(output.urls[0], list(output.urls), prefix)
            else:
                remote.append([])
    return files, remote


def _existing(local: Callable[[str], Path | None], url: str) -> Path | None:
    try:
        path = local(url)
    except UnsafeURL:
        return None
    return path if path is not None and path.is_file() else None
