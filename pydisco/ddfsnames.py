"""DDFS names, the one place their rules live: tag names, blob prefixes, object names,
timestamps, hash directories, and the tags Disco reserves for jobs.

Pure rules (ddfs facts §1.9, §3.2, §3.3, §4.5, §6.3), used by the master, the
client and the worker library (which ships this module to the nodes); nothing
here touches the disk, and the clock only through :class:`Clock`.

* name: 1-511 characters from ``[A-Za-z0-9:@_-]`` (tag names and blob prefixes);
* timestamp: Erlang's ``{MegaSecs, Secs, MicroSecs}`` in unpadded lowercase hex joined
  by ``-``, a zero part written ``00``;
* object name: ``<name>$<timestamp>``;
* hash directory: the first md5 byte of the whole object name as two hex digits.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Final

__all__ = [
    "MAX_BLOB_PREFIX",
    "NAME_MAX",
    "Clock",
    "blob_name",
    "dedup_key",
    "format_timestamp",
    "hashdir",
    "is_valid_name",
    "make_valid_name",
    "oob_tag",
    "parse_objname",
    "results_tag",
    "safe_name",
]

#: The longest tag name or blob prefix (Disco's ``NAME_MAX``).
NAME_MAX: Final = 511
#: The longest blob prefix this master accepts. Disco silently replaces longer prefixes
#: (up to 511) by their md5, which makes them unreadable by name (facts §7.9); refused here.
MAX_BLOB_PREFIX: Final = 200

_NAME = re.compile(rf"[A-Za-z0-9:@_\-]{{1,{NAME_MAX}}}")
_UNSAFE = re.compile(r"[^A-Za-z0-9:@_\-]")


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is a legal tag name or blob prefix."""
    return _NAME.fullmatch(name) is not None


def safe_name(name: str) -> str:
    """Disco's ``safe_name``/``make_valid_name``: characters outside the charset become ``_``."""
    return _UNSAFE.sub("_", name)


make_valid_name = safe_name


def blob_name(url: str) -> str:
    """Disco's ``blob_name``: a blob URL's last path segment, cut at the first ``$``."""
    return url.rsplit("/", 1)[-1].split("$", 1)[0]


def oob_tag(jobname: str) -> str:
    """The tag holding a job's out-of-band values (``disco:job:oob:<job>``)."""
    return f"disco:job:oob:{jobname}"


def results_tag(jobname: str) -> str:
    """The tag a job's saved results go to (``disco:results:<job>``)."""
    return f"disco:results:{jobname}"


def format_timestamp(micros: int) -> str:
    """A DDFS timestamp for ``micros`` microseconds since the epoch (``586-7022d-1e240``)."""
    mega, rest = divmod(micros, 10**12)
    secs, usecs = divmod(rest, 10**6)
    return "-".join(f"{part:x}" if part else "00" for part in (mega, secs, usecs))


def parse_timestamp(text: str) -> tuple[int, ...] | None:
    """The integer parts of a timestamp, or None when it is not one."""
    parts = text.split("-")
    if not parts or not all(p and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        return None
    return tuple(int(p, 16) for p in parts)


def parse_objname(objname: str) -> tuple[str, str] | None:
    """``(name, timestamp)`` of ``<name>$<timestamp>``, or None when it is not valid."""
    name, sep, stamp = objname.partition("$")
    if not sep or not is_valid_name(name) or parse_timestamp(stamp) is None:
        return None
    return name, stamp


def hashdir(objname: str) -> str:
    """The hash directory of an object name."""
    return hashlib.md5(objname.encode("utf-8")).hexdigest()[:2]


def dedup_key(first_url: str) -> str | None:
    """The ``update=1`` key of a replica set, from its first URL (facts §2.4).

    ``tag://X`` gives ``X``; a URL whose last path segment holds a ``$`` gives the
    text before that ``$`` (the blob prefix); any other URL has no key. Disco finds
    the prefix with a regex that breaks on two-character host names (facts §7.8);
    the last segment is used directly here.
    """
    if first_url.startswith("tag://"):
        return "tag://" + first_url[len("tag://") :].rsplit("/", 1)[-1]
    segment = first_url.rsplit("/", 1)[-1]
    prefix, sep, _ = segment.rpartition("$")
    return prefix if sep else None


class Clock:
    """Unique, strictly increasing DDFS timestamps (Erlang's ``now()`` never repeats).

    ``now`` returns microseconds since the epoch; tests inject their own.
    """

    def __init__(self, now: Callable[[], int] | None = None) -> None:
        self._now = now or (lambda: time.time_ns() // 1000)
        self._last = 0

    def micros(self) -> int:
        """The next unique microsecond count."""
        value = max(self._now(), self._last + 1)
        self._last = value
        return value

    def timestamp(self) -> str:
        """The next unique timestamp."""
        return format_timestamp(self.micros())
