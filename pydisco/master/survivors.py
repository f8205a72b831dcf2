"""Workers that outlive a crashed master: recorded while they run, killed at the next start.

Each worker leads its own session and process group. The master appends a
line to ``<master root>/running-workers`` when a worker starts (``+<pid>
<start>``, the start in clock ticks since boot, the unit of ``/proc/<pid>/stat``
field 22) and when its group is killed (``-<pid>``): two small appends per
task, no file per worker. If the master dies without killing its workers
(``kill -9``, a crash), the next master on the same data directory replays the
log and kills every group still running that is ours:

* the leader is alive and started when recorded (within a second): ours;
* the leader is gone: Linux never hands out a pid that is still some process
  group's id, so whatever still runs in that group was started by our worker;
* the pid now belongs to a process started at another time: the pid was
  reused and nothing of ours is left; it is not touched.

The log is rewritten with just the running workers once it grows long.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path

__all__ = ["WorkerRecords", "start_time"]

log = logging.getLogger("pydisco.master")

#: Clock ticks per second, the unit of ``/proc/<pid>/stat`` start times.
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
#: How far a recorded start may be from the process's own (the record follows the start).
TOLERANCE_TICKS = 2 * TICKS
#: The log is compacted once it holds this many lines.
COMPACT_LINES = 20_000


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


def _now_ticks() -> int:
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * TICKS)


class WorkerRecords:
    """The running workers of one master, as an append-only log in ``root``."""

    def __init__(self, root: Path) -> None:
        self.path = root / "running-workers"
        self._live: dict[int, int] = {}
        self._lines = 0
        self._fd = -1

    def _append(self, line: bytes) -> None:
        if self._fd < 0:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
            self._fd = os.open(self.path, flags, 0o600)
        os.write(self._fd, line)
        self._lines += 1

    def add(self, pid: int) -> None:
        """Record a worker just started (its group id is its pid)."""
        started = _now_ticks()
        self._live[pid] = started
        with contextlib.suppress(OSError):
            self._append(b"+%d %d\n" % (pid, started))

    def remove(self, pid: int) -> None:
        """The worker's group was killed: forget it."""
        if self._live.pop(pid, None) is None:
            return
        with contextlib.suppress(OSError):
            self._append(b"-%d\n" % pid)
            if self._lines >= COMPACT_LINES:
                self._compact()

    def _compact(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(b"".join(b"+%d %d\n" % item for item in self._live.items()))
        os.replace(tmp, self.path)
        self.close()
        self._lines = len(self._live)

    def close(self) -> None:
        """Close the log (it is reopened by the next record)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def kill_survivors(self) -> list[int]:
        """Kill every recorded group still running and ours; returns their ids.

        Call it at start, before any worker of this master runs; the log is cleared.
        """
        recorded: dict[int, int] = {}
        with contextlib.suppress(OSError):
            for line in self.path.read_bytes().splitlines():
                with contextlib.suppress(ValueError, IndexError):
                    if line.startswith(b"+"):
                        who, when = line[1:].split()
                        recorded[int(who)] = int(when)
                    elif line.startswith(b"-"):
                        recorded.pop(int(line[1:]), None)
        killed = []
        for pid, started in recorded.items():
            now = start_time(pid)
            if now is not None and abs(now - started) > TOLERANCE_TICKS:
                continue  # the pid was reused by a process that is not ours
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
            killed.append(pid)
        self.close()
        self.path.unlink(missing_ok=True)
        self._live.clear()
        self._lines = 0
        if killed:
            log.warning("killed %d worker process group(s) left by a previous master", len(killed))
        return killed
