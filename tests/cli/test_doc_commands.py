"""Every shell command of README.md, docs/cli.md, docs/jobs.md and docs/master.md runs as printed.

One user session in one directory that looks like the top of a fresh clone:
the commands run in document order (README first, then the docs, as a new user
reads them), each with ``bash -euo pipefail`` and the virtual environment's
``discotool`` first on ``PATH`` (what ``. .venv/bin/activate`` does). The only
changes are the ones the machine needs: the printed port 8989 and data
directory ``/tmp/disco`` become a free port and a temporary directory
(``DISCO_PORT``/``DISCO_DATA``/``DISCO_MASTER`` say the same to the commands that
print no port, and ``DDFS_PUT_PORT`` is a free port too). ``discotool master``
lines run until the master says where it listens, then stop; a ``--keep-master``
run until it says it keeps the master, then gets Ctrl-C (and must exit 0).
``make`` lines are ``make``'s own (tests/demo runs the demo), and docs/ddfs.md's
session is tests/ddfs/test_docs.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *(ROOT / "docs" / name for name in ("cli.md", "jobs.md", "master.md"))]
BOOK = (ROOT / "examples" / "book.txt").read_text()
_COMMENT = re.compile(r"\s+#\s.*$")
NOT_RUN = {"make demo", "make test", ". .venv/bin/activate"}


def commands(doc: Path) -> list[str]:
    """The lines of the document's ``sh`` blocks, comments removed."""
    lines = []
    for block in re.findall(r"^```sh\n(.*?)^```", doc.read_text(), re.S | re.M):
        for line in block.splitlines():
            command = _COMMENT.sub("", line).strip()
            if command and command not in NOT_RUN:
                lines.append(command)
    return lines


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Session:
    """A user's shell at the top of a clone, with the machine-specific values replaced."""

    def __init__(self, top: Path, data: Path) -> None:
        self.top = top
        self.data = data
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("DISCO_", "PYDISCO_", "DDFS_"))
        }
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(DISCO_PORT=str(self.port), DISCO_DATA=str(data), DISCO_MASTER=self.url)
        env["DDFS_PUT_PORT"] = str(_free_port())  # not the default 8990: others may hold it
        self.env = env
        self.background: list[subprocess.Popen[str]] = []

    def localise(self, command: str) -> str:
        command = command.replace("8989", str(self.port)).replace("/tmp/disco", str(self.data))
        return re.sub(r"/tmp/d\b", str(self.data) + "-d", command)

    def popen(self, command: str, log: Path | None = None) -> subprocess.Popen[str]:
        with open(log or os.devnull, "a") if log else contextlib.nullcontext() as stderr:
            return subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", f"exec {self.localise(command)}"],
                cwd=self.top,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=stderr if log else subprocess.PIPE,
                text=True,
            )

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        """Run one printed line the way it is meant to be used; it must succeed."""
        if command.startswith("discotool master"):
            return self._master(command.removesuffix("&").strip())
        if "--keep-master" in command:
            return self._keep_master(command)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", self.localise(command)],
            cwd=self.top,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert "Error" not in done.stderr and "error:" not in done.stderr, command
        return done

    def _master(self, command: str) -> subprocess.CompletedProcess[str]:
        tour = command.startswith("discotool master --port 8989 --data /tmp/disco")
        if not tour:
            self.stop_masters()  # the port is free again for docs/master.md's masters
        master = self.popen(command, log=self.data.parent / "masters.log")
        assert master.stdout is not None
        first = master.stdout.readline()
        assert first.startswith("http://127.0.0.1:"), (command, first, master.poll())
        if tour or "--port" not in command:
            assert first.strip() == self.url
        self.background.append(master)
        if not tour:
            self.stop_masters()  # docs/master.md: start it, see it listen, stop it
        return subprocess.CompletedProcess(command, 0, first, "")

    def _keep_master(self, command: str) -> subprocess.CompletedProcess[str]:
        run = self.popen(command)
        assert run.stderr is not None
        said = []
        for line in run.stderr:
            said.append(line)
            if "keeps running at" in line:
                break
        assert "keeps running at" in said[-1], (command, said)
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=120)
        assert run.returncode in (0, 130), (command, err)
        return subprocess.CompletedProcess(command, 0, out, "".join(said) + err)

    def stop_masters(self) -> None:
        for master in self.background:
            master.terminate()
            master.communicate(timeout=60)
            assert master.returncode in (0, -signal.SIGTERM), master.returncode
        self.background.clear()


def _counts(printed: str) -> dict[str, int]:
    return {w: int(n) for w, n in (line.split("\t") for line in printed.splitlines())}


def test_every_shell_command_of_the_readme_and_docs_runs_as_printed(tmp_path: Path) -> None:
    top = tmp_path / "clone"
    top.mkdir()
    (top / "examples").symlink_to(ROOT / "examples")
    session = Session(top, tmp_path / "data")
    words = {w: BOOK.split().count(w) for w in set(BOOK.split())}
    ran: list[str] = []
    try:
        for doc in DOCS:
            for command in commands(doc):
                done = session.run(command)
                ran.append(command)
                if command.startswith("discotool submit job.pack --wait --results"):
                    assert done.stdout == "hello"
                elif command.startswith("discotool run") and command.endswith(
                    ("examples/book.txt", "tag://data:book")
                ):
                    assert _counts(done.stdout) == words
                elif "| head" in command and command.startswith("discotool run"):
                    assert done.stdout.splitlines()[0] == "the\t7"
                elif command.startswith("discotool conform"):
                    assert " 0 failed" in done.stdout
                elif command.startswith("discotool inspect --validate"):
                    assert "status: valid" in done.stdout
    finally:
        session.stop_masters()
    assert len(ran) == sum(len(commands(doc)) for doc in DOCS) >= 20
