"""Out-of-band results (OOB): small values a task stores by key, kept in DDFS.

As in Disco 0.5.4 (ddfs facts §6.3), a task's ``put(key, value)`` stores the
value as a blob named ``key`` and adds it to the tag ``disco:job:oob:<job>``
(``GET /ddfs/new_blob/<key>``, ``PUT`` the value to the upload port, ``POST``
the tag with ``delayed=1``); ``get(key)`` reads the newest blob of that name.
Keys use only ``A-Z a-z 0-9 _ - @ :``. Only the standard library is used: a
worker node may have nothing but Python.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Final

from pydisco.ddfsnames import MAX_BLOB_PREFIX, blob_name, is_valid_name, oob_tag
from pydisco.worker.errors import WorkerError

__all__ = ["Oob", "OobError", "oob_tag"]

TIMEOUT: Final = 60.0


class OobError(WorkerError):
    """An OOB key is not valid, or DDFS refused to store or read a value."""


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not is_valid_name(key) or len(key) > MAX_BLOB_PREFIX:
        raise OobError(
            f"OOB key {key!r} is not valid: use 1-{MAX_BLOB_PREFIX} characters from "
            "A-Z a-z 0-9 _ - @ :."
        )


class Oob:
    """The OOB store of job ``jobname`` on the master at ``master`` (``http://host:port``)."""

    def __init__(self, master: str, jobname: str) -> None:
        self.master = master.rstrip("/")
        self.jobname = jobname
        self.port = urllib.parse.urlsplit(self.master).port or 80

    def _call(self, method: str, url: str, body: bytes | None = None) -> Any:
        request = urllib.request.Request(url, data=body, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
                data = reply.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace").strip()
            raise OobError(f"{method} {url} answered HTTP {exc.code}: {text}") from None
        except OSError as exc:
            raise OobError(f"{method} {url} failed: {exc}") from None
        return data

    def _tag_url(self, jobname: str | None) -> str:
        tag = urllib.parse.quote(oob_tag(jobname or self.jobname), safe=":@_-")
        return f"{self.master}/ddfs/tag/{tag}"

    def put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` (a new blob each time; the newest wins)."""
        _check_key(key)
        targets = json.loads(self._call("GET", f"{self.master}/ddfs/new_blob/{key}"))
        replicas = [json.loads(self._call("PUT", url, bytes(value))) for url in targets]
        body = json.dumps([replicas]).encode()
        self._call("POST", self._tag_url(None) + "?delayed=1&update=", body)

    def _sets(self, jobname: str | None) -> list[list[str]]:
        try:
            tag = json.loads(self._call("GET", self._tag_url(jobname)))
        except OobError as exc:
            if "HTTP 404" in str(exc):
                return []
            raise
        return [list(s) for s in tag.get("urls", []) if s]

    def get(self, key: str, jobname: str | None = None) -> bytes | None:
        """The newest value stored under ``key`` (by this job, or by ``jobname``), or None."""
        _check_key(key)
        for replicas in self._sets(jobname):
            if blob_name(replicas[0]) == key:
                return bytes(self._call("GET", self._blob_url(replicas[0])))
        return None

    def keys(self, jobname: str | None = None) -> set[str]:
        """Every key stored (by this job, or by ``jobname``)."""
        return {blob_name(s[0]) for s in self._sets(jobname)}

    def _blob_url(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "disco":
            return f"http://{parts.hostname}:{parts.port or self.port}{parts.path}"
        return url
