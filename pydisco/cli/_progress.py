"""Showing a running job's progress: live bars on a terminal, plain lines otherwise.

Plain lines (stderr piped, e.g. in CI logs) are printed when the job's counts
change, and at least every :data:`HEARTBEAT_SECONDS` even when nothing
changed, so a long wait never looks hung; each line ends with the time
since the wait started.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final

import click

from pydisco.client.models import JobInfo

#: The longest a piped progress display stays silent.
HEARTBEAT_SECONDS: Final = 30.0


def elapsed_text(seconds: float) -> str:
    """``42s``, ``3m05s`` or ``2h03m``: short enough for a progress line."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class Progress:
    """Call with each new :class:`JobInfo`; use as a context manager.

    ``clock`` (seconds, monotonic) is injectable so that tests can move time.
    """

    def __init__(
        self,
        name: str,
        *,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.live = sys.stderr.isatty() if live is None else live
        self._clock = clock
        self._start = clock()
        self._printed_at = self._start
        self._last: tuple[Any, ...] | None = None
        self._rich: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Progress:
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._rich = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._rich.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._rich is not None:
            self._rich.__exit__(exc_type, exc, tb)

    def say(self, text: str) -> None:
        """Print ``text`` on stderr without breaking the live display."""
        if self._rich is not None:
            self._rich.console.print(text, markup=False, highlight=False)
        else:
            click.echo(text, err=True)

    def __call__(self, info: JobInfo) -> None:
        if self._rich is not None:
            self._update_live(info)
            return
        now = self._clock()
        state = (info.status, tuple(info.stages))
        if state == self._last and now - self._printed_at < HEARTBEAT_SECONDS:
            return
        self._last = state
        self._printed_at = now
        row = info.current_stage()
        detail = f" {row.describe()}" if row is not None else ""
        elapsed = elapsed_text(now - self._start)
        click.echo(f"{self.name}: {info.status}{detail} ({elapsed})", err=True)

    def _update_live(self, info: JobInfo) -> None:
        for row in info.stages:
            total = row.total or None
            detail = (
                f"{row.done}/{total or '?'} done, {row.running} running, "
                f"{row.pending} pending, {row.failed} failed"
            )
            if row.stage not in self._tasks:
                self._tasks[row.stage] = self._rich.add_task(row.stage, total=total, detail=detail)
            self._rich.update(
                self._tasks[row.stage], total=total, completed=row.done, detail=detail
            )
