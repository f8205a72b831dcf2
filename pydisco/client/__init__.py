"""An HTTP/JSON client for Disco 0.5.4 masters (and pydisco's reference master).

::

    from pydisco.client import Master

    with Master("http://127.0.0.1:8989") as master:
        name = master.submit("wordcount.jobpack")
        master.wait(name)
        for line in master.iter_result_lines(name):
            ...

:class:`Master` blocks; :class:`AsyncMaster` has the same methods as
coroutines. Both take their master from an explicit URL or the environment
(:func:`resolve_master_url`) and raise the errors drawn in
:mod:`pydisco.client.errors`.
"""

import sys as _sys

if "httpx" not in _sys.modules:
    # httpx's own command line (httpx._main) imports rich, pygments and click whenever httpx
    # is imported (about 45 ms of CPU); pydisco never runs it. It is skipped while httpx is
    # first imported, then importable again as usual.
    _sys.modules["httpx._main"] = None  # type: ignore[assignment]
    try:
        import httpx as _httpx  # noqa: F401
    finally:
        if _sys.modules.get("httpx._main", ...) is None:
            del _sys.modules["httpx._main"]

from pydisco.client._ddfs_api import DdfsRequestError, InvalidTag, TagInfo, TagRef, tag_ref
from pydisco.client.config import DEFAULT_MASTER, ClientConfig, resolve_master_url
from pydisco.client.ddfs import DDFS, AsyncDDFS
from pydisco.client.errors import (
    BadReply,
    ClientError,
    HTTPStatusError,
    InvalidMasterURL,
    JobFailed,
    JobSubmitError,
    JobUnknown,
    MasterUnreachable,
    ResultsError,
    WaitTimeout,
)
from pydisco.client.master import AsyncMaster, JobPackSource, Master
from pydisco.client.models import (
    ConfigEntry,
    Event,
    JobInfo,
    JobResults,
    JobStatus,
    JobSummary,
    NodeInfo,
    Settings,
    StageCounts,
)
from pydisco.client.results import (
    AsyncResultReader,
    ResultFile,
    ResultReader,
    data_url,
    parse_index,
)

__all__ = [
    "DDFS",
    "DEFAULT_MASTER",
    "AsyncDDFS",
    "AsyncMaster",
    "AsyncResultReader",
    "BadReply",
    "ClientConfig",
    "ClientError",
    "ConfigEntry",
    "DdfsRequestError",
    "Event",
    "HTTPStatusError",
    "InvalidMasterURL",
    "InvalidTag",
    "JobFailed",
    "JobInfo",
    "JobPackSource",
    "JobResults",
    "JobStatus",
    "JobSubmitError",
    "JobSummary",
    "JobUnknown",
    "Master",
    "MasterUnreachable",
    "NodeInfo",
    "ResultFile",
    "ResultReader",
    "ResultsError",
    "Settings",
    "StageCounts",
    "TagInfo",
    "TagRef",
    "WaitTimeout",
    "data_url",
    "parse_index",
    "resolve_master_url",
    "tag_ref",
]
