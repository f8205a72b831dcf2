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

from pydisco.client.config import DEFAULT_MASTER, ClientConfig, resolve_master_url
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
    "DEFAULT_MASTER",
    "AsyncMaster",
    "AsyncResultReader",
    "BadReply",
    "ClientConfig",
    "ClientError",
    "ConfigEntry",
    "Event",
    "HTTPStatusError",
    "InvalidMasterURL",
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
    "WaitTimeout",
    "data_url",
    "parse_index",
    "resolve_master_url",
]
