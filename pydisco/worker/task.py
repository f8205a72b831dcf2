"""What a worker's main function gets: the :class:`TaskContext`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from pydisco.protocol.messages import Ok, Ping, TaskInfo
from pydisco.worker.capture import MessagePump
from pydisco.worker.errors import DataError
from pydisco.worker.inputs import TaskInput, poll_inputs
from pydisco.worker.outputs import Outputs, OutputWriter
from pydisco.worker.stdio import Channel

if TYPE_CHECKING:
    from pydisco.worker.oob import Oob

__all__ = ["TaskContext", "read_jobdata"]

_JOBPACK_MAGIC: Final = 0xD5C0
_HEADER_BYTES: Final = 128
_JOBDATA_OFFSET_AT: Final = 16


def read_jobdata(jobfile: str) -> bytes:
    """The job data section of the job pack at ``jobfile``: from its offset to EOF.

    Only the 128-byte header is interpreted (big-endian ``u16`` magic
    ``0xD5C0``, ``u16`` version, then ``u32`` offsets; the job data offset is
    at byte 16). Raises :class:`DataError` for a file that is not a job pack.
    """
    import struct

    with open(jobfile, "rb") as handle:
        header = handle.read(_HEADER_BYTES)
        if len(header) < _JOBDATA_OFFSET_AT + 4:
            raise DataError(f"The job file {jobfile!r} is too short to be a job pack.", jobfile)
        magic, _version = struct.unpack_from(">HH", header)
        if magic != _JOBPACK_MAGIC:
            raise DataError(
                f"The job file {jobfile!r} does not start with the job pack magic 0xD5C0.",
                jobfile,
            )
        (offset,) = struct.unpack_from(">I", header, _JOBDATA_OFFSET_AT)
        handle.seek(offset)
        return handle.read()


class TaskContext:
    """One task, as the worker's main function sees it.

    ``info`` is the master's :class:`~pydisco.protocol.TaskInfo` (``stage``,
    ``grouping``, ``group``, ``host``, ``jobname``, ``taskid``, ...). Read
    inputs with :meth:`inputs`, write outputs with :meth:`output`, report
    progress with :meth:`msg`. Outputs are closed and reported when the main
    function returns.
    """

    def __init__(
        self,
        info: TaskInfo,
        channel: Channel,
        pump: MessagePump | None = None,
        *,
        home: str | None = None,
    ) -> None:
        self.info = info
        #: The job home: the worker's working directory, where outputs are written.
        self.home = os.getcwd() if home is None else home
        self._channel = channel
        self._pump = pump
        self._outputs: Outputs | None = None
        self._seen: set[int] = set()
        self._order: list[int] = []
        self._jobdata: bytes | None = None
        #: The URL being read right now, if any (named in error reports).
        self.current_url: str | None = None

    # --- shortcuts -------------------------------------------------------------------------------

    @property
    def oob(self) -> Oob:
        """This job's out-of-band store (``put(key, bytes)``, ``get(key)``), kept in DDFS."""
        from pydisco.worker.oob import Oob

        return Oob(self.info.master, self.info.jobname)

    @property
    def stage(self) -> str:
        """The stage's name, e.g. ``"map"``."""
        return self.info.stage

    @property
    def taskid(self) -> int:
        """The task's id within the job."""
        return self.info.taskid

    @property
    def group_label(self) -> int:
        """The label of the task's group."""
        return self.info.group_label

    # --- inputs and outputs ----------------------------------------------------------------------

    def inputs(self) -> Iterator[TaskInput]:
        """The task's inputs, each once, as the master makes them available.

        In a concurrent stage this blocks until the master has new inputs or
        declares the set complete.
        """
        for entry in poll_inputs(self._channel, self._seen, self._order):
            yield TaskInput(entry, self.info, self._channel, on_url=self._reading)

    def _reading(self, url: str | None) -> None:
        self.current_url = url

    @property
    def outputs(self) -> Outputs:
        """The task's outputs (created on first use)."""
        if self._outputs is None:
            self._outputs = Outputs(self.info, self.home)
        return self._outputs

    def output(self, label: int = 0) -> OutputWriter:
        """The binary writer for output ``label``; the same label gives the same writer."""
        return self.outputs.writer(label)

    def close_outputs(self) -> list[tuple[int, str, int]]:
        """Close every output; ``(label, location, size)`` of each, in the order opened."""
        return [] if self._outputs is None else self._outputs.close()

    def report_url(self, label: int, url: str, size: int) -> None:
        """Report an output the task stored elsewhere, at ``url``, with ``size`` bytes."""
        self.outputs.add_url(label, url, size)

    # --- messages ----------------------------------------------------------------------------

    def msg(self, text: str) -> None:
        """Send ``text`` to the job's events (paced to respect the master's MSG limit)."""
        if self._pump is not None:
            self._pump.post(text)
        else:
            from pydisco.protocol.messages import Msg

            self._channel.request(Msg(text), Ok)

    def ping(self) -> None:
        """Send PING and wait for OK.

        **Fatal on Disco 0.5.4**: its master does not know PING and kills the
        whole job. Only for lenient masters (e.g. pydisco's, when enabled).
        """
        self._channel.request(Ping(""), Ok)

    def jobdata(self) -> bytes:
        """The job data from the job pack (``info.jobfile``), read once."""
        if self._jobdata is None:
            self._jobdata = read_jobdata(self.info.jobfile)
        return self._jobdata
