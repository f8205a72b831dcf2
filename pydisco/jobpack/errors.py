"""Errors raised while reading, checking, building or extracting job packs.

::

    PydiscoError
    └── JobPackError                  anything about a job pack
        ├── NotAJobPack               neither a binary job pack nor a zip-form one
        ├── InvalidJobPack            the master would refuse it (carries Disco's reason)
        ├── JobPackTooLarge           a section or offset exceeds a format or safety limit
        ├── JobHomeError              the job home zip cannot be used
        │   ├── UnsafeJobHome         an entry escapes, is special, or is a zip bomb
        │   ├── CorruptJobHome        an entry cannot be read back (damaged, encrypted, ...)
        │   └── ExtractionCancelled   the job was killed while its home was extracted
        └── BuildError                the inputs given to a builder are not usable

Every message is a full sentence saying what is wrong and what to do about it.
"""

from __future__ import annotations

from pydisco.errors import PydiscoError


class JobPackError(PydiscoError):
    """Base class of every job pack error."""


class NotAJobPack(JobPackError):
    """The file starts with neither the job pack magic nor a zip signature."""


class InvalidJobPack(JobPackError):
    """The master would refuse this job pack.

    ``reason`` is the text Disco's master prints after ``Job failed to start: ``
    (Erlang ``~p`` style: string reasons in double quotes, atom reasons bare).
    ``field`` names the job dict key or section at fault, and ``check`` names the
    rule (for example ``"header"``, ``"missing_key"``, ``"pipeline"``).
    """

    def __init__(self, message: str, *, reason: str, field: str, check: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.field = field
        self.check = check

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"InvalidJobPack({self.message!r}, reason={self.reason!r}, field={self.field!r})"


class JobPackTooLarge(JobPackError):
    """A section is larger than the format or a configured safety limit allows."""


class JobHomeError(JobPackError):
    """The job home section cannot be read as a zip archive or used as a job home.

    ``entry`` is the offending entry name (empty when the whole archive is at fault).
    """

    def __init__(self, message: str, *, entry: str = "") -> None:
        super().__init__(message)
        self.entry = entry


class UnsafeJobHome(JobHomeError):
    """A job home entry would escape the target, is not a plain file, or is a zip bomb."""


class CorruptJobHome(JobHomeError):
    """A job home entry cannot be decompressed: damaged data, a bad CRC, an unknown
    method, encryption, or sizes that disagree with its headers."""


class ExtractionCancelled(JobHomeError):
    """The extraction was asked to stop (its job was killed); what it wrote is removed."""


class BuildError(JobPackError):
    """The arguments given to a job pack builder cannot make a job pack."""
