"""The reference master: Disco 0.5.4's HTTP API and worker protocol on one machine.

Real Disco clients and workers work against it unchanged. Start it in a
thread (tests, notebooks)::

    from pydisco.master import ReferenceMaster

    with ReferenceMaster.start_in_thread(data_dir, retry_delay=0.0) as master:
        print(master.url)            # http://127.0.0.1:PORT

or ``await ReferenceMaster(data_dir).start()`` inside an event loop, or run
``discotool master`` from a shell. See ``docs/master.md``.
"""

import typing

from pydisco.lazy import lazy_names as _lazy_names
from pydisco.master.config import DISCO_VERSION, MasterSettings, NodeTable
from pydisco.master.errors import ConfigError, MasterError

if typing.TYPE_CHECKING:
    from pydisco.master.server import MasterHandle, ReferenceMaster

__all__ = [
    "DISCO_VERSION",
    "ConfigError",
    "MasterError",
    "MasterHandle",
    "MasterSettings",
    "NodeTable",
    "ReferenceMaster",
]


# The server (and aiohttp) load on first use: the inline job runner imports the
# master's pure grouping code and should not pay for an HTTP server it never starts.
__getattr__ = _lazy_names(__name__, {"MasterHandle": "server", "ReferenceMaster": "server"})
