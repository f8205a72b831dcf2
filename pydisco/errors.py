"""The root of every error pydisco raises.

Each subsystem defines its own small family under :class:`PydiscoError`, so a
caller can catch everything pydisco raises with one ``except`` and still tell
the families apart::

    PydiscoError
    ├── ProtocolError                 pydisco.protocol.errors
    │   ├── LocalProtocolError        we tried to send something illegal
    │   └── RemoteProtocolError       the peer sent something illegal
    ├── JobPackError                  pydisco.jobpack.errors
    ├── WorkerError                   pydisco.worker.errors
    ├── ClientError                   pydisco.client.errors
    ├── MasterError                   pydisco.master.errors
    ├── JobError                      pydisco.job.errors
    └── ConformanceError              pydisco.conformance.errors

Every message is a full sentence that says what went wrong and, where there is
something to do, what to do next.
"""


class PydiscoError(Exception):
    """Base class of every error raised by pydisco."""
