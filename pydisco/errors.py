"""The root of every error pydisco raises.

Each subsystem defines its own small family under :class:`PydiscoError`, so a
caller can catch everything pydisco raises with one ``except`` and still tell
the families apart::

    PydiscoError
    ├── ProtocolError                 pydisco.protocol.errors
    │   ├── LocalProtocolError        we tried to send something illegal
    │   └── RemoteProtocolError       the peer sent something illegal
    ├── JSONError                     pydisco.jsoncodec: not one strict JSON value
    ├── IndexLineError                pydisco.resultsindex: not a 'label url size' line
    ├── UnsafeURL                     pydisco.dataurls: a data URL with a '..' segment
    ├── JobPackError                  pydisco.jobpack.errors
    ├── WorkerError                   pydisco.worker.errors
    ├── ClientError                   pydisco.client.errors
    ├── MasterError                   pydisco.master.errors
    ├── LocalMasterError              pydisco.localmaster: a local master's process did not start
    └── JobError                      pydisco.job.errors

The conformance kit raises none of its own: it reports broken rules. The
three in the middle are raised by the bottom-layer helpers every layer uses;
each layer turns them into its own family where it has one (a worker's
``DataError``, the client's ``ResultsError``).

Every message is a full sentence that says what went wrong and, where there is
something to do, what to do next.
"""


class PydiscoError(Exception):
    """Base class of every error raised by pydisco."""
