"""Errors raised by the reference master.

::

    PydiscoError
    └── MasterError                 anything the reference master refuses
        ├── ConfigError             a node table or setting is unusable
        ├── DdfsRefused             a DDFS request refused (status and Disco's text;
        │                           pydisco.master.ddfs.tags)
        └── BlobTooLarge            a blob upload past the size cap (pydisco.master.ddfs.store)
"""

from __future__ import annotations

from pydisco.errors import PydiscoError


class MasterError(PydiscoError):
    """The reference master could not do what was asked."""


class ConfigError(MasterError):
    """A node table, a node spec or a setting cannot be used.

    ``settings`` names the parameters (of :class:`~pydisco.master.ReferenceMaster`
    or :class:`~pydisco.master.MasterSettings`) that would fix it, so that a
    front end can name its own way of setting them (the CLI: its flags).
    """

    def __init__(self, message: str, *, settings: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.settings = settings
