"""DDFS, the Disco Distributed File System, inside the reference master (one machine).

Tags and blobs live under ``DDFS_DATA`` (``--ddfs-data``; by default the
directory beside the data directory, ``<data>-ddfs``). The tag API answers on the
master's port; blobs are uploaded to the upload port (Disco's ``DDFS_PUT_PORT``)
on every node address. :class:`Ddfs` ties the pieces to one master.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web

from pydisco.ddfsnames import (
    MAX_BLOB_PREFIX,
    Clock,
    is_valid_name,
    make_valid_name,
    oob_tag,
    results_tag,
)
from pydisco.master.ddfs.delayed import DELAYED_SECONDS
from pydisco.master.ddfs.http import MAX_BLOB_BYTES, MAX_UPLOADS, DdfsApi
from pydisco.master.ddfs.store import DdfsStore
from pydisco.master.ddfs.tags import MAX_ATTRIBUTES, DdfsRefused, Tag

__all__ = ["MAX_BLOB_BYTES", "Ddfs", "DdfsApi", "DdfsRefused", "DdfsStore", "Tag"]


class Ddfs:
    """The store and the HTTP handlers of one master."""

    def __init__(
        self,
        root: Path,
        nodes: Callable[[], Sequence[tuple[str, bool]]],
        put_port: Callable[[], int],
        *,
        max_blob_bytes: int = MAX_BLOB_BYTES,
        max_uploads: int = MAX_UPLOADS,
        max_attributes: int = MAX_ATTRIBUTES,
        delayed_seconds: float = DELAYED_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self.store = DdfsStore(root, clock)
        self.store.open()
        self.api = DdfsApi(
            self.store,
            nodes,
            put_port,
            max_blob_bytes=max_blob_bytes,
            max_uploads=max_uploads,
            max_attributes=max_attributes,
            delayed_seconds=delayed_seconds,
        )

    async def close(self) -> None:
        """Write the buffered delayed updates, so every request that waits on one is answered."""
        await self.api.delayed.flush_all()

    def upload_app(self) -> web.Application:
        """The application the upload port serves."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.api.upload)
        return app

    async def forget_job(self, jobname: str) -> None:
        """A purged job's OOB tag goes, as Disco's temp-GC deletes it (its results tag stays)."""
        tag_name = oob_tag(jobname)
        await self.api.delayed.flush(tag_name)
        async with self.store.lock(tag_name):
            await self.store.delete(tag_name)

    async def save_results(
        self,
        jobname: str,
        files: Sequence[tuple[str, Path, str]],
        remote: Sequence[Sequence[str]],
    ) -> str:
        """Store a job's local result files as blobs and point ``disco:results:<job>`` at them.

        ``files`` are ``(host, path, name)`` of the last stage's local outputs (``name``
        is ``<job>:<taskid>:<runid>:<basename>``, made a valid blob name), ``remote`` the
        replica lists of its other outputs (they come first, as in Disco). Returns the
        tag URL that becomes the job's result. Unlike Disco (facts §7.11) the tag name is
        checked: a job whose name makes no valid tag name fails to save.
        """
        tag_name = results_tag(jobname)
        if not is_valid_name(tag_name):
            raise DdfsRefused(403, f"The job name {jobname!r} makes no valid tag name")
        saved: list[list[str]] = [list(r) for r in remote]
        for host, path, name in files:
            prefix = make_valid_name(name)[:MAX_BLOB_PREFIX]
            objname = self.store.new_objname(prefix)
            volume = self.api.volume_of(host)
            rel = await asyncio.to_thread(self.store.save_file, path, objname, volume)
            saved.append([f"disco://{host}/ddfs/{rel}"])
        async with self.store.lock(tag_name):
            tag = Tag.fresh(tag_name, None)
            await self.store.commit(tag.set_attr("ddfs:urls", saved))
        return f"tag://{tag_name}"
