"""A throw-away reference master in a child process (``discotool run``, ``runner="local"``).

The driver that starts it never imports the master (aiohttp and the
scheduler are most of a driver's start-up CPU), and the child starts while
the driver goes on loading the job and the client. The child:

- gets its settings as one JSON argument and starts a
  :class:`~pydisco.master.ReferenceMaster` on a free loopback port with the
  fail-fast policy of :func:`local_master_settings`;
- writes one JSON line to its standard output when it listens
  (``{"url": ...}``, or ``{"error": ...}`` if it cannot start);
- stops (killing its workers) when its standard input reaches end of file,
  that is when the driver closes it or dies in any way, even by SIGKILL, or
  on SIGTERM. It runs in its own session, so a Ctrl-C at the terminal goes
  to the driver only, which then stops it in order.

:class:`LocalMaster` is the driver's side; the child runs :func:`main`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import IO, Any, Final

from pydisco.errors import PydiscoError

__all__ = ["LOCAL_RETRIES", "LocalMaster", "LocalMasterError", "local_master_settings"]

#: Failures per task a throw-away local master allows (``runner="local"`` and
#: ``discotool run``): none. A job started from this machine fails at its first task
#: failure and says why, as mrjob's local runner does, instead of Disco's up to
#: 100 retries each after ``min(n, 60) s + 1..30 s``.
LOCAL_RETRIES: Final = 0


def local_master_settings(retries: int = LOCAL_RETRIES) -> dict[str, Any]:
    """The settings of a master started for the occasion: ``retries`` failures, no delay.

    The one failure policy of ``runner="local"`` and ``discotool run``
    (``--retries N`` passes ``N``). It lives here, not in :mod:`pydisco.job`, so
    that the master's process does not import the job API to start.
    """
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}.")
    return {"retry_delay": 0.0, "max_failure_rate": retries}


#: The child's program: ``ROOT SETTINGS``, ROOT being the directory that holds ``pydisco``.
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "import pydisco.localmaster as m; m.main(sys.argv[2:])"
)

#: Seconds a stopping child gets to kill its workers before it is terminated.
STOP_TIMEOUT = 60.0


class LocalMasterError(PydiscoError):
    """The local master's process could not start (its own error output says more)."""


class LocalMaster:
    """The driver's handle on a local master process; :attr:`url` waits until it listens.

    Use it as a context manager or call :meth:`stop`. ``data_dir`` and
    ``ddfs_data`` are the master's directories (the caller removes them),
    ``retries`` the failures allowed per task.
    """

    def __init__(
        self,
        data_dir: str,
        *,
        ddfs_data: str | None = None,
        nodes: str | None = None,
        retries: int = 0,
    ) -> None:
        settings = {
            "data_dir": data_dir,
            "ddfs_data": ddfs_data,
            "nodes": nodes,
            "retries": retries,
        }
        # The child imports the pydisco this process runs, wherever it was found from.
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self._process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, root, json.dumps(settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        self._url: str | None = None
        self._lock = threading.Lock()  # the bundled master's handle is shared by threads

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, once the master listens (waits for it)."""
        with self._lock:
            return self._url or self._await_url()

    def _await_url(self) -> str:
        if self._url is None:
            assert self._process.stdout is not None
            line = self._process.stdout.readline()
            try:
                ready = json.loads(line) if line else {}
            except ValueError:
                ready = {"error": f"it wrote {line[:200]!r} instead of its address"}
            if "url" not in ready:
                self.stop()
                reason = ready.get("error") or f"it exited with status {self._process.returncode}"
                raise LocalMasterError(f"The local master did not start: {reason}.")
            self._url = str(ready["url"])
        return self._url

    def stop(self) -> None:
        """Make the master stop (it kills its workers) and wait for its process to end."""
        process = self._process
        if process.stdin is not None and not process.stdin.closed:
            process.stdin.close()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> LocalMaster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _import_server() -> None:
    """Import the master's server without aiohttp's default client TLS contexts' trust store.

    aiohttp builds two client TLS contexts when it is imported, each loading
    the system's CA certificates (about 40 ms of this process's start). The
    master never opens a TLS connection with aiohttp's client (it serves; its
    own fetches use httpx), so those contexts are built with no CA paths
    while this still single-threaded process imports it: the environment
    is restored at once, before any thread, worker or other context exists.
    """
    names = ("SSL_CERT_FILE", "SSL_CERT_DIR")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, os.devnull))
    try:
        import pydisco.master.server  # noqa: F401 - imported for the contexts, used below
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _serve(settings: dict[str, Any], out: IO[str]) -> None:
    """Run the master until standard input closes or SIGTERM; report readiness on ``out``."""
    import asyncio
    import signal
    from pathlib import Path

    _import_server()
    from pydisco.master import MasterError, ReferenceMaster

    async def serve() -> None:
        ddfs = settings.get("ddfs_data")
        try:
            master = ReferenceMaster(
                settings["data_dir"],
                host="127.0.0.1",
                port=0,
                nodes=settings.get("nodes"),
                ddfs_data=Path(ddfs) if ddfs else None,
                **local_master_settings(int(settings.get("retries") or 0)),
            )
            await master.start()
        except (MasterError, OSError, ValueError) as exc:
            out.write(json.dumps({"error": str(exc)}) + "\n")
            out.flush()
            raise SystemExit(1) from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)

        def readable() -> None:
            if not os.read(0, 4096):
                stop.set()

        loop.add_reader(0, readable)
        out.write(json.dumps({"url": master.url}) + "\n")
        out.flush()
        try:
            await stop.wait()
        finally:
            loop.remove_reader(0)
            await master.stop()

    asyncio.run(serve())


def main(argv: list[str]) -> None:
    """The child's entry point: ``argv`` is ``[SETTINGS_JSON]``."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed goes to the error output, not the driver's pipe
    sys.stdout = sys.stderr
    _serve(json.loads(argv[0]), out)
