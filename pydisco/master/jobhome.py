"""Making a job's job homes (facts §7.7): extracted once per job, linked on other nodes.

The first node to need the job home extracts the pack; every other node's home
gets hard links to those files (a copy where links cannot be made), so a job
home is decompressed and checked once, however many nodes run the job. A
failure is kept and never retried. The work runs in threads that the job's end
stops (:meth:`JobHomes.cancel`); :meth:`JobHomes.pending` lists what is still
running, so a killed job can wait and leave nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from pydisco.jobpack import ExtractionCancelled, HomeLimits, JobPackError, extract_jobhome

__all__ = ["JobHomes"]


class JobHomes:
    """The job homes of one job, on every node that runs its tasks."""

    def __init__(self, pack_path: Path, worker: str, limits: HomeLimits) -> None:
        self.pack_path = pack_path
        self.worker = worker
        self._limits = limits
        #: One job home is made at a time; the first one's path and entries, once made.
        self._lock = asyncio.Lock()
        self._first: tuple[Path, list[str]] | None = None
        #: Set when the job ends: an extraction in flight stops and removes what it wrote.
        self._cancel = threading.Event()
        self._extractions: set[asyncio.Future[list[str]]] = set()
        #: Why the job home could not be made; never tried again.
        self.error: str | None = None

    async def ensure(self, home: Path) -> str | None:
        """Make ``home`` unless it is there; None, or why the job cannot have one."""
        try:
            await self._ensure(home)
        except (OSError, JobPackError) as exc:
            # Not a task error: a retry would extract (and fail) again, so the job dies.
            if self.error is None:
                self.error = f"Jobpack extraction failed: {exc}"
        return self.error

    def cancel(self) -> None:
        """The job ended: stop any extraction or linking in flight (it removes its work)."""
        self._cancel.set()

    def pending(self) -> list[asyncio.Future[list[str]]]:
        """Extractions and links still running."""
        return list(self._extractions)

    async def _ensure(self, home: Path) -> None:
        async with self._lock:
            if self.error is not None or (home / ".jobhome").exists():
                return
            if self._first is None:
                work = asyncio.to_thread(self._extract, home)
            else:
                work = asyncio.to_thread(self._clone, *self._first, home)
            extraction = asyncio.ensure_future(work)
            self._extractions.add(extraction)
            extraction.add_done_callback(self._extraction_done)
            names = await asyncio.shield(extraction)
            if self._first is None:
                self._first = (home, names)

    def _extraction_done(self, extraction: asyncio.Future[list[str]]) -> None:
        self._extractions.discard(extraction)
        if not extraction.cancelled():
            extraction.exception()  # retrieved here: the run awaiting it may be gone

    def _extract(self, home: Path) -> list[str]:
        """Extract the pack's job home into ``home``; returns the entry paths."""
        with self._fresh_home(home) as target:
            names = extract_jobhome(
                target, home, worker=self.worker, cancel=self._cancel, **self._limits
            )
        return ["/".join(p for p in n.split("/") if p not in ("", ".")) for n in names]

    def _clone(self, source: Path, names: list[str], home: Path) -> list[str]:
        """Give ``home`` the files extracted into ``source``: hard links, else copies."""
        with self._fresh_home(home):
            for name in names:
                if self._cancel.is_set():
                    raise ExtractionCancelled(
                        f"The job home was being linked (at entry {name!r}) when its job "
                        "was killed; what was written is removed.",
                        entry=name,
                    )
                src, dst = source / name, home / name
                if src.is_dir():
                    dst.mkdir(parents=True, exist_ok=True)
                    continue
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copy2(src, dst)
        return names

    @contextlib.contextmanager
    def _fresh_home(self, home: Path) -> Iterator[Path]:
        """Create ``home`` with the job pack as ``jobfile``; yields the pack's path there.

        ``.jobhome`` marks it complete; on any failure what was made is removed.
        """
        fresh = not home.exists()
        home.mkdir(parents=True, exist_ok=True)
        target = home / "jobfile"
        try:
            if not target.exists():
                tmp = home / f"jobfile@{time.time_ns():x}"
                try:
                    os.link(self.pack_path, tmp)
                except OSError:
                    shutil.copyfile(self.pack_path, tmp)
                os.replace(tmp, target)
            yield target
            (home / ".jobhome").touch()
        except BaseException:
            if fresh:
                shutil.rmtree(home, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
            raise
