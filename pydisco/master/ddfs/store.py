"""DDFS on disk under ``DDFS_DATA``, laid out as Disco lays it out.

::

    <ddfs_data>/vol0/blob/<hh>/<prefix>$<ts>               blob, mode 0400
    <ddfs_data>/vol0/blob/<hh>/!partial-<ts2>.<prefix>$<ts> upload in progress
    <ddfs_data>/vol0/tag/<hh>/<tag>$<ts>                   latest tag version, mode 0400
    <ddfs_data>/vol0/tag/<hh>/!partial.<tag>$<ts>          tag version being written

Every node of a one-machine master shares this tree; each node writes its blob
replicas to a volume of its own (``vol<i>`` for the i-th node of the table, so a
one-node master uses ``vol0`` only), which keeps the replicas of one blob on
distinct nodes distinct files. Tags live in ``vol0``.

Tag versions are written to ``!partial``, fsynced, made read-only and renamed
(the directory fsynced too) before the request is answered; the previous version
is then removed (facts §1.8 lets a single node keep only the latest). A deleted
tag's files (every version) are removed; its blobs stay (other tags and running
jobs may use them).

Disco instead lists deleted names in the tag ``+deleted`` and keeps their files
(facts §1.7). A ``+deleted`` tag found here at start (a ``DDFS_DATA`` written by
Disco) is applied the same way: its names' versions are removed, then the tag
itself, so a deleted tag never comes back and a re-created one is not hidden.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO, Final

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
#: Disco's list of deleted tag names (not a legal tag name, so no client reaches it).
DELETED: Final = "+deleted"
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


def _write_sealed(partial: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Write ``partial`` with ``fill``, on disk before it returns, then read-only."""
    with open(partial, "wb") as out:
        fill(out)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(partial, FILE_MODE)


def _write_final(partial: Path, final: Path, data: bytes) -> None:
    _write_sealed(partial, lambda out: out.write(data))
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
        quarantine: list[Path] = []
        for volume in sorted(self.root.glob("vol*")):
            for path in volume.glob("tag/*/*"):
                if path.name.startswith(DELETED + "$"):
                    quarantine.append(path)
                    continue
                if path.name.startswith("!"):
                    continue
                parsed = parse_objname(path.name)
                if parsed is None:
                    continue
                name, stamp = parsed
                order = parse_timestamp(stamp) or ()
                if name not in latest or order > latest[name][0]:
                    latest[name] = (order, path)
        for name in self._apply_quarantine(quarantine):
            latest.pop(name, None)
        for name, (_, path) in latest.items():
            try:
                tag = Tag.from_json(jsoncodec.loads(path.read_bytes()))
            except (OSError, ValueError) as exc:
                log.warning("skipping the unreadable tag file %s: %s", path, exc)
                continue
            self._tags[name] = tag

    def _apply_quarantine(self, files: list[Path]) -> set[str]:
        """Remove the versions of the names Disco's newest ``+deleted`` lists, then the
        ``+deleted`` files; returns those names."""
        if not files:
            return set()
        newest = max(files, key=lambda p: parse_timestamp(p.name.partition("$")[2]) or ())
        try:
            listed = jsoncodec.loads(newest.read_bytes())["urls"]
            names = {s[0][len("tag://") :] for s in listed if s and s[0].startswith("tag://")}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("the deleted-tag list %s is unreadable, left as it is: %s", newest, exc)
            return set()
        for name in names:
            for path in self._version_files(name):
                self._remove(path)
        for path in files:
            self._remove(path)
        return names

    def _version_files(self, name: str) -> list[Path]:
        """Every stored version of tag ``name``, in every volume."""
        return [p for vol in self.root.glob("vol*") for p in vol.glob(f"tag/*/{name}$*")]

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
        """Forget ``name`` and remove every version of it; its blobs stay."""
        if self._tags.pop(name, None) is not None:
            await asyncio.to_thread(self._remove_versions, name)

    def _remove_versions(self, name: str) -> None:
        for path in self._version_files(name):
            self._remove(path)

    @staticmethod
    def _remove(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()
            _fsync_dir(path.parent)

    # -- blobs -----------------------------------------------------------------------------------

    def new_objname(self, prefix: str) -> str:
        """A fresh object name ``<prefix>$<ts>`` (nothing is reserved on disk)."""
        return f"{prefix}${self.clock.timestamp()}"

    def blob_relpath(self, objname: str, volume: str = VOLUME) -> str:
        """The blob's path under ``DDFS_DATA``, which is also its URL path after ``/ddfs/``."""
        return f"{volume}/blob/{hashdir(objname)}/{objname}"

    async def put_blob(
        self, objname: str, chunks: AsyncIterator[bytes], limit: int, volume: str = VOLUME
    ) -> str:
        """Stream an upload to disk in ``volume``; returns its relative path. Raises
        :class:`BlobTooLarge`, or :class:`DdfsRefused` 409 when the object already exists."""
        rel = self.blob_relpath(objname, volume)
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

    def blob_file(self, objname: str, volume: str = VOLUME) -> Path:
        """Where a blob is (or would be)."""
        return self.root / self.blob_relpath(objname, volume)

    def save_file(self, source: Path, objname: str, volume: str = VOLUME) -> str:
        """Store a local file as a blob (the master's own ``save_results`` upload); blocking."""
        rel = self.blob_relpath(objname, volume)
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f"!partial-{self.clock.timestamp()}.{objname}")
        try:
            with open(source, "rb") as src:
                _write_sealed(partial, lambda out: shutil.copyfileobj(src, out, COPY_CHUNK))
            os.link(partial, final)
            _fsync_dir(final.parent)
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()
        return rel
