"""Starting a worker as a Disco master does, and taking it down again.

The worker runs in its job home, in its own process group, with the
environment a Disco node gives it (inherited, minus ``DISCO_*`` and
``DDFS_*``, plus the job envs). Its stdout and stderr are one pipe, read as
one protocol stream, as Disco's master reads them; its stdin carries replies.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["WorkerProcess", "is_descendant", "resolve_command", "worker_environment"]

_STRIPPED_PREFIXES = ("DISCO_", "DDFS_")


def worker_environment(job_envs: Mapping[str, str]) -> dict[str, str]:
    """The kit's environment minus Disco settings, plus ``job_envs``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES)}
    env.update(job_envs)
    return env


def resolve_command(command: Sequence[str]) -> list[str]:
    """``command`` made runnable from the job home.

    The program becomes an absolute path, and so does every argument that
    names an existing file relative to the current directory (``node
    worker.js``), because the worker runs in its job home, not here.
    """
    if not command:
        raise ValueError("no worker command given")
    program = command[0]
    if "/" in program:
        path = Path(program).absolute()
        if not path.exists():
            raise ValueError(f"worker {program!r} does not exist")
        if not os.access(path, os.X_OK):
            raise ValueError(f"worker {program!r} is not executable (chmod +x it)")
        resolved = str(path)
    else:
        found = shutil.which(program)
        if found is None:
            raise ValueError(f"worker {program!r} is not on PATH")
        resolved = found
    args = [
        str(Path(arg).absolute()) if not arg.startswith("-") and Path(arg).exists() else arg
        for arg in command[1:]
    ]
    return [resolved, *args]


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses.
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def is_descendant(pid: int, root: int) -> bool | None:
    """Whether ``pid`` is ``root`` or below it; ``None`` without a readable /proc."""
    if not Path("/proc/self/stat").exists():
        return None
    current: int | None = pid
    for _ in range(64):
        if current == root:
            return True
        if current is None or current <= 1:
            return False
        current = _parent_of(current)
    return False


class WorkerProcess:
    """A started worker: a non-blocking stdin, one merged output pipe, a process group."""

    def __init__(self, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
        self.popen = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            bufsize=0,
        )
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self.stdin_fd: int | None = self.popen.stdin.fileno()
        self.stdout_fd: int | None = self.popen.stdout.fileno()
        os.set_blocking(self.stdin_fd, False)
        os.set_blocking(self.stdout_fd, False)

    @property
    def pid(self) -> int:
        """The started process's pid (also its process group id)."""
        return self.popen.pid

    def close_stdin(self) -> None:
        """Close the worker's stdin: it reads end of file."""
        if self.stdin_fd is not None and self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
            self.stdin_fd = None

    def close_stdout(self) -> None:
        """Stop reading the worker's output."""
        if self.stdout_fd is not None and self.popen.stdout is not None:
            with contextlib.suppress(OSError):
                self.popen.stdout.close()
            self.stdout_fd = None

    def exited(self) -> bool:
        """Whether the started process has exited."""
        return self.popen.poll() is not None

    def kill(self) -> None:
        """SIGKILL the whole process group and reap the started process."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self.close_stdin()
        self.close_stdout()
