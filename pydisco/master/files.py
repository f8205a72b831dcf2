"""Serving files over HTTP as Disco's nodes do: single byte ranges, never a ``.gz`` swap.

Used by the HTTP API (job packs, events, data) and by DDFS (blobs); it knows
nothing of either, so both import it without importing each other.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = ["serve_file"]


_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")


def _range_ok(header: str, size: int) -> bool:
    match = _RANGE.match(header.strip())
    if match is None:
        return False
    first, last = match.groups()
    if not first and not last:
        return False
    if not first:
        return int(last) > 0 and size > 0
    start = int(first)
    return start < size and (not last or int(last) >= start)


async def serve_file(request: web.Request, path: Path, content_type: str) -> web.StreamResponse:
    """Serve ``path`` with single byte ranges; anything else (or an unsatisfiable
    range) gets 200 and the whole file, as mochiweb answers."""
    headers = dict(request.headers)
    changed = False
    rng = headers.get("Range")
    if rng is not None:
        try:
            size = path.stat().st_size
        except OSError:
            return web.Response(
                status=404, body=b"Not found.", headers={"Content-Type": "text/plain"}
            )
        if not _range_ok(rng, size):
            del headers["Range"]
            changed = True
    if "Accept-Encoding" in headers:  # never swap in a sibling ``.gz`` file
        del headers["Accept-Encoding"]
        changed = True
    return _FileResponse(
        path,
        request.clone(headers=headers) if changed else None,
        headers={"Content-Type": content_type},
    )


class _FileResponse(web.FileResponse):
    """A file response prepared against an edited copy of the request's headers."""

    def __init__(self, path: Path, edited: web.Request | None, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._edited = edited

    async def prepare(self, request: web.BaseRequest) -> Any:
        return await super().prepare(self._edited or request)
