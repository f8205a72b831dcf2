"""Names and places: job names, the hash directory, and Disco's on-disk layout.

* job name: ``<prefix>@<megasecs>:<secs>:<microsecs>`` in unpadded lowercase hex;
* ``hh``: the first byte of ``md5(jobname)`` as two hex digits;
* master job dir: ``<data>/_<name>/<hh>/<jobname>/`` with ``jobfile`` and ``events``;
* node job home: ``<data>/<host>/<hh>/<jobname>/``, served as ``disco://<host>/disco/<host>/<hh>/<jobname>/...``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import time
from collections.abc import Container
from pathlib import Path

from pydisco.dataurls import data_path_parts, split_url

__all__ = [
    "JobNamer",
    "format_duration",
    "hexhash",
    "job_home",
    "job_url_prefix",
    "local_time",
    "node_file",
    "url_host",
]

_URL_HOST = re.compile(r"^[a-zA-Z0-9]+://(\[[^\]/]*\]|[^/:]*)")


def hexhash(name: str) -> str:
    """Disco's ``hexhash``: the first md5 byte of ``name``, as two lowercase hex digits."""
    return hashlib.md5(name.encode("utf-8")).hexdigest()[:2]


class JobNamer:
    """Makes job names that are unique and strictly increasing, like Erlang's ``now()``."""

    def __init__(self) -> None:
        self._last = 0

    def make(self, prefix: str) -> str:
        """A new name for ``prefix``."""
        micros = max(time.time_ns() // 1000, self._last + 1)
        self._last = micros
        mega, rest = divmod(micros, 10**12)
        secs, usecs = divmod(rest, 10**6)
        return f"{prefix}@{mega:x}:{secs:x}:{usecs:x}"


def job_home(data_dir: Path, host: str, jobname: str) -> Path:
    """The node job home ``<data>/<host>/<hh>/<jobname>``."""
    return data_dir / host / hexhash(jobname) / jobname


@functools.lru_cache(maxsize=256)
def job_url_prefix(host: str, jobname: str) -> str:
    """``disco/<host>/<hh>/<jobname>``: a job home's path under the data URL."""
    return f"disco/{host}/{hexhash(jobname)}/{jobname}"


def url_host(url: str) -> str:
    """The host Disco sees in a URL (``raw://hello`` -> ``hello``); ``""`` if none."""
    match = _URL_HOST.match(url)
    return match.group(1) if match else ""


def node_file(url: str, nodes: Container[str], data_dir: Path) -> Path | None:
    """The path under ``data_dir`` a ``disco://``/``dir://`` URL of one of ``nodes`` names.

    None for any other URL: another host, a path outside ``/disco/``, or one that
    leads out of the data directory (symbolic links included). A ``..`` segment is
    :class:`~pydisco.dataurls.UnsafeURL`.
    """
    if url_host(url) not in nodes:
        return None
    found = data_path_parts(split_url(url)[2])
    if found is None or found[0] != "disco":
        return None
    root = data_dir.resolve()
    local = root.joinpath(*found[1]).resolve()  # a symlink may not lead out either
    return local if local.is_relative_to(root) else None


def local_time(seconds: float | None = None) -> str:
    """``YYYY/MM/DD HH:MM:SS`` in the master's local time."""
    return time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(seconds))


def format_duration(seconds: float) -> str:
    """Disco's ``H:MM:SS.mmm``."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours}:{minutes:02d}:{secs:02d}.{millis:03d}"


def join_local(relative: str) -> str:
    """Join a relative output path the way Erlang's ``filename:join`` does.

    Repeated slashes merge, a trailing slash and ``.`` parts drop; ``..`` stays.
    """
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    return "/".join(parts)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file and a rename, fsynced."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    with open(tmp, "wb") as fp:
        fp.write(data)
        fp.flush()
        os.fsync(fp.fileno())
    os.replace(tmp, path)
