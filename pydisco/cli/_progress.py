"""Showing a running job's progress: live bars on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

import click

from pydisco.client.models import JobInfo


class Progress:
    """Call with each new :class:`JobInfo`; use as a context manager."""

    def __init__(self, name: str, *, live: bool | None = None) -> None:
        self.name = name
        self.live = sys.stderr.isatty() if live is None else live
        self._last: tuple[Any, ...] | None = None
        self._rich: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Progress:
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn

            self._rich = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[detail]}"),
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

    def __call__(self, info: JobInfo) -> None:
        if self._rich is not None:
            self._update_live(info)
            return
        state = (info.status, tuple(info.stages))
        if state == self._last:
            return
        self._last = state
        row = info.current_stage()
        detail = f" {row.describe()}" if row is not None else ""
        click.echo(f"{self.name}: {info.status}{detail}", err=True)

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
