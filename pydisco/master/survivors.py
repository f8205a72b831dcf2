"""Workers that outlive a crashed master: recorded while they run, killed at the next start.

Each worker leads its own session and process group. While it runs, a file
``<master root>/workers/<pid>`` holds its start time (``/proc/<pid>/stat``
field 22, in clock ticks since boot). If the master dies without killing its
workers (``kill -9``, a crash), the next master on the same data directory
kills every recorded group that is still ours:

* the leader is alive with the recorded start time: its group is ours;
* the leader is gone: Linux never hands out a pid that is still some process
  group's id, so whatever still runs in that group was started by our worker;
* the leader's pid now belongs to a process with another start time: the pid
  was reused and nothing of ours is left; it is not touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path

__all__ = ["WorkerRecords"]

log = logging.getLogger("pydisco.master")


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or ``None`` if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        if fields[0] == b"Z":  # a zombie is dead; its parent just has not reaped it
            return None
        return int(fields[19])
    except (IndexError, ValueError):
        return None


class WorkerRecords:
    """The running workers of one master, one small file each under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._dir = str(directory)
        directory.mkdir(parents=True, exist_ok=True)

    def add(self, pid: int) -> None:
        """Record a worker just started (its group id is its pid)."""
        started = start_time(pid)
        if started is None:
            return  # already gone
        with contextlib.suppress(OSError):
            fd = os.open(f"{self._dir}/{pid}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"%d\n" % started)
            finally:
                os.close(fd)

    def remove(self, pid: int) -> None:
        """The worker's group was killed: forget it."""
        with contextlib.suppress(OSError):
            os.unlink(f"{self._dir}/{pid}")

    def kill_survivors(self) -> list[int]:
        """Kill every recorded group that is still ours; returns their ids. Clears the records."""
        killed = []
        for path in sorted(self.directory.iterdir()):
            try:
                pid = int(path.name)
                recorded = int(path.read_text().strip())
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
                continue
            now = start_time(pid)
            if now is None or now == recorded:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                else:
                    killed.append(pid)
            path.unlink(missing_ok=True)
        if killed:
            log.warning("killed %d worker process group(s) left by a previous master", len(killed))
        return killed
