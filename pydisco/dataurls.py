"""Where the data a URL names lives: one mapping for the worker, the client and the master.

Disco's data URLs (facts §6.1, spec "Input URL schemes"):

- ``disco://host/disco/<rest>`` is ``<disco data>/<rest>`` on ``host``, and
  ``disco://host/ddfs/<rest>`` is ``<ddfs data>/<rest>``; from anywhere else
  both are read from ``http://host:<disco port>/<path>``;
- ``dir://host/path`` (a results index) is read the same way;
- ``file://<path>`` and a plain path are local files; the path is taken
  verbatim, with no percent-decoding (as Disco's worker takes it, and as the
  job runner writes it), so ``file:///srv/a%20b`` is the file ``/srv/a%20b``;
- ``raw://<data>``: the data itself (verbatim too).

A ``disco://`` or ``dir://`` path with a ``..`` segment is refused
(:class:`UnsafeURL`), both when it maps to a local file and when it maps to
an HTTP URL: such a URL can only be an attempt to leave the data directory.
"""

from __future__ import annotations

import os
import re
from typing import Final

from pydisco.errors import PydiscoError

__all__ = [
    "DATA_SCHEMES",
    "UnsafeURL",
    "data_path_parts",
    "file_path",
    "file_url",
    "is_gzip",
    "local_data_path",
    "node_http_url",
    "shown_url",
    "split_url",
    "url_hostname",
]

#: Schemes whose URLs name a path under a node's data URL.
DATA_SCHEMES: Final = ("disco", "dir")
# A pattern, not a compiled object: ``re`` compiles and caches it on first use.
_SCHEME: Final = r"([A-Za-z][A-Za-z0-9+.-]*)://"


class UnsafeURL(PydiscoError, ValueError):
    """A ``disco://`` or ``dir://`` URL whose path has a ``..`` segment (or names no file)."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


def split_url(url: str) -> tuple[str, str, str]:
    """``(scheme, authority, path)``; the scheme is lowercase, ``""`` for a plain path.

    ``authority`` keeps any user and port; ``path`` starts with ``/`` (or is
    empty) and keeps any query.
    """
    match = re.match(_SCHEME, url)
    if match is None:
        return "", "", url
    rest = url[match.end() :]
    authority, slash, path = rest.partition("/")
    return match.group(1).lower(), authority, slash + path


def url_hostname(authority: str) -> str:
    """The host of ``[user@]host[:port]``, without user and port (IPv6 keeps its brackets)."""
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0]


def is_gzip(url: str) -> bool:
    """Whether ``url`` names gzip data: its path ends in ``.gz`` (never for ``raw://``)."""
    scheme, _, path = split_url(url)
    if scheme == "raw":
        return False
    return path.split("?", 1)[0].split("#", 1)[0].endswith(".gz")


def _refuse_dotdot(path: str, url: str) -> None:
    if ".." in path.split("?", 1)[0].split("/"):
        raise UnsafeURL(
            f"The URL {url!r} has a '..' path segment; data URLs may not leave the data directory.",
            url,
        )


def data_path_parts(path: str) -> tuple[str, list[str]] | None:
    """``("disco" | "ddfs", segments)`` for a ``/disco/...`` or ``/ddfs/...`` URL path, or None.

    Empty and ``.`` segments drop; :class:`UnsafeURL` when a segment is ``..``
    or nothing is left.
    """
    first, slash, rest = path.lstrip("/").partition("/")
    if not slash or first not in ("disco", "ddfs"):
        return None
    parts = [part for part in rest.split("/") if part not in ("", ".")]
    if ".." in parts or not parts:
        raise UnsafeURL(
            f"The URL path {path!r} does not name a file inside the {first} data directory; "
            "'..' segments are refused.",
        )
    return first, parts


def local_data_path(path: str, disco_data: str, ddfs_data: str) -> str | None:
    """The local file of a ``/disco/...`` or ``/ddfs/...`` URL path, or None for other paths."""
    found = data_path_parts(path)
    if found is None:
        return None
    root, parts = found
    return os.path.join(disco_data if root == "disco" else ddfs_data, *parts)


def node_http_url(url: str, port: int) -> str:
    """The ``http://`` URL serving a ``disco://`` or ``dir://`` URL; other URLs unchanged.

    The node's data is served on ``port`` unless the URL names one; a user
    part is dropped. :class:`UnsafeURL` for a path with a ``..`` segment.
    """
    scheme, authority, path = split_url(url)
    if scheme not in DATA_SCHEMES:
        return url
    _refuse_dotdot(path, url)
    host = authority.rpartition("@")[2]
    if ":" not in host.rpartition("]")[2]:
        host = f"{host}:{port}"
    return f"http://{host}{path}"


def file_url(path: str) -> str:
    """The ``file://`` URL of a local path (verbatim: :func:`file_path` gives the path back)."""
    return "file://" + path


def file_path(url: str) -> str:
    """The local path of a ``file://`` URL or a plain path, verbatim (no percent-decoding)."""
    scheme, _, _ = split_url(url)
    if scheme == "file":
        return url[len("file://") :]
    if scheme:
        raise ValueError(f"{url!r} is not a file:// URL or a plain path.")
    return url


#: How much of a ``raw://`` URL's data a message shows.
SHOWN_RAW_CHARS: Final = 60


def shown_url(url: str) -> str:
    """``url`` for a message: a long ``raw://`` URL (the data itself) cut, on one line.

    A job that reads a local file through a remote master gets the whole file as
    ``raw://`` data; quoting it whole in every error would bury the error.
    """
    if not url.startswith("raw://") or len(url) <= len("raw://") + SHOWN_RAW_CHARS:
        return url
    data = url[len("raw://") :]
    head = data[:SHOWN_RAW_CHARS].encode("unicode_escape").decode("ascii")
    return f"raw://{head}... ({len(data.encode('utf-8', 'surrogatepass'))} bytes)"
