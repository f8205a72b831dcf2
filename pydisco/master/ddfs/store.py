"""DDFS on disk: one volume (``vol0``) under ``DDFS_DATA``, laid out as Disco lays it out.

::

    <ddfs_data>/vol0/blob/<hh>/<prefix>$<ts>               blob, mode 0400
    <ddfs_data>/vol0/blob/<hh>/!partial-<ts2>.<prefix>$<ts> upload in progress
    <ddfs_data>/vol0/tag/<hh>/<tag>$<ts>                   latest tag version, mode 0400
    <ddfs_data>/vol0/tag/<hh>/!partial.<tag>$<ts>          tag version being written

Every node of a one-machine master shares this tree, so a blob is stored once
(one replica). Tag versions are written to ``!partial``, fsynced, made read-only
and renamed (the directory fsynced too) before the request is answered; the
previous version is then removed (facts §1.8 lets a single node keep only the
latest). A deleted tag's files are removed; its blobs stay (other tags and
running jobs may use them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from pydisco import jsoncodec
from pydisco.ddfsnames import (
    Clock,
    format_timestamp,
    hashdir,
    parse_objname,
    parse_timestamp,
)
from pydisco.master.ddfs.tags import DdfsRefused, Tag
from pydisco.master.errors import MasterError

__all__ = ["VOLUME", "BlobTooLarge", "DdfsStore"]

log = logging.getLogger("pydisco.master.ddfs")

#: The one volume this master writes to.
VOLUME: Final = "vol0"
FILE_MODE: Final = 0o400
COPY_CHUNK: Final = 1 << 20


class BlobTooLarge(MasterError):
    """An upload went past the size cap (answered 413)."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_final(partial: Path, final: Path, data: bytes) -> None:
    with open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(partial, FILE_MODE)
    os.replace(partial, final)
    _fsync_dir(final.parent)


class DdfsStore:
    """The tags and blobs of one master; every tag change goes through :meth:`lock`."""

    def __init__(self, root: Path, clock: Clock | None = None) -> None:
        self.root = root
        self.volume = root / VOLUME
        self.clock = clock or Clock()
        self._tags: dict[str, Tag] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # -- start-up --------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the volume and load the latest version of every tag (facts §3.5)."""
        for sub in ("blob", "tag"):
            (self.volume / sub).mkdir(parents=True, exist_ok=True)
        latest: dict[str, tuple[tuple[int, ...], Path]] = {}
        for volume in sorted(self.root.glob("vol*")):
            for path in volume.glob("tag/*/*"):
                if path.name.startswith("!"):
                    continue
                parsed = parse_objname(path.name)
                if parsed is None:
                    continue
                name, stamp = parsed
                order = parse_timestamp(stamp) or ()
                if name not in latest or order > latest[name][0]:
                    latest[name] = (order, path)
        for name, (_, path) in latest.items():
            try:
                tag = Tag.from_json(jsoncodec.loads(path.read_bytes()))
            except (OSError, ValueError) as exc:
                log.warning("skipping the unreadable tag file %s: %s", path, exc)
                continue
            self._tags[name] = tag

    # -- tags ------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """Serialize the operations on one tag (different tags run concurrently)."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            yield

    def get(self, name: str) -> Tag | None:
        """The latest version of ``name``, or None when it does not exist (or was deleted)."""
        return self._tags.get(name)

    def names(self, prefix: str = "") -> list[str]:
        """Every tag name starting with ``prefix``, sorted bytewise."""
        chosen = [n for n in self._tags if n.startswith(prefix)]
        return sorted(chosen, key=lambda n: n.encode("utf-8"))

    def tag_path(self, tag_id: str) -> Path:
        """Where a tag version lives."""
        return self.volume / "tag" / hashdir(tag_id) / tag_id

    async def commit(self, tag: Tag) -> Tag:
        """Write ``tag`` as a new version (new timestamp); returns it once it is on disk."""
        micros = self.clock.micros()
        stamped = Tag(
            tag.name,
            format_timestamp(micros),
            time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(micros / 1e6)),
            tag.read_token,
            tag.write_token,
            tag.urls,
            tag.user_data,
        )
        final = self.tag_path(stamped.id)
        partial = final.with_name(f"!partial.{stamped.id}")
        await asyncio.to_thread(self._write_tag, partial, final, stamped)
        old = self._tags.get(tag.name)
        self._tags[tag.name] = stamped
        if old is not None and old.timestamp:
            with contextlib.suppress(OSError):
                self.tag_path(old.id).unlink()
        return stamped

    @staticmethod
    def _write_tag(partial: Path, final: Path, tag: Tag) -> None:
        # Encoding runs here too: a tag of 10,000 sets takes milliseconds to encode.
        data = jsoncodec.dumps(tag.to_json(secure=False))
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            _write_final(partial, final, data)
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise DdfsRefused(
                500, f"Internal server error: commit_failed ({exc.strerror})"
            ) from None

    async def delete(self, name: str) -> None:
        """Forget ``name`` and remove its file; its blobs stay."""
        old = self._tags.pop(name, None)
        if old is not None:
            path = self.tag_path(old.id)
            await asyncio.to_thread(self._remove, path)

    @staticmethod
    def _remove(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()
            _fsync_dir(path.parent)

    # -- blobs -----------------------------------------------------------------------------------

    def new_objname(self, prefix: str) -> str:
        """A fresh object name ``<prefix>$<ts>`` (nothing is reserved on disk)."""
        return f"{prefix}${self.clock.timestamp()}"

    def blob_relpath(self, objname: str) -> str:
        """The blob's path under ``DDFS_DATA``, which is also its URL path after ``/ddfs/``."""
        return f"{VOLUME}/blob/{hashdir(objname)}/{objname}"

    async def put_blob(self, objname: str, chunks: AsyncIterator[bytes], limit: int) -> str:
        """Stream an upload to disk; returns its relative path. Raises :class:`BlobTooLarge`,
        or :class:`DdfsRefused` 409 when the object already exists."""
        rel = self.blob_relpath(objname)
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            raise DdfsRefused(409, f"Blob {objname} already exists.")
        partial = final.with_name(f"!partial-{self.clock.timestamp()}.{objname}")
        try:
            size = 0
            with open(partial, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise BlobTooLarge
                    out.write(chunk)
                await asyncio.to_thread(self._seal, out.fileno(), partial, final)
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()
        return rel

    @staticmethod
    def _seal(fd: int, partial: Path, final: Path) -> None:
        """fsync, make read-only and link to the final name (never over an existing blob)."""
        os.fsync(fd)
        os.chmod(partial, FILE_MODE)
        try:
            os.link(partial, final)
        except FileExistsError:
            raise DdfsRefused(409, f"Blob {final.name} already exists.") from None
        _fsync_dir(final.parent)

    def blob_file(self, objname: str) -> Path:
        """Where a blob is (or would be)."""
        return self.root / self.blob_relpath(objname)

    def save_file(self, source: Path, objname: str) -> str:
        """Store a local file as a blob (the master's own ``save_results`` upload); blocking."""
        rel = self.blob_relpath(objname)
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f"!partial-{self.clock.timestamp()}.{objname}")
        try:
            with open(source, "rb") as src, open(partial, "wb") as out:
                while block := src.read(COPY_CHUNK):
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(partial, FILE_MODE)
            os.link(partial, final)
            _fsync_dir(final.parent)
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()
        return rel
