"""``ReferenceMaster``: the HTTP server and scheduler, in an event loop or a thread."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from pydisco.loopback import is_loopback_host
from pydisco.master.config import (
    DEFAULT_DISCO_PORT,
    DEFAULT_PUT_PORT,
    MasterSettings,
    url_authority,
)
from pydisco.master.errors import ConfigError
from pydisco.master.nodes import NodeLinks
from pydisco.master.state import MasterState
from pydisco.master.web import make_app

__all__ = ["MasterHandle", "ReferenceMaster"]

log = logging.getLogger("pydisco.master")


class ReferenceMaster:
    """A Disco 0.5.4 compatible master for one machine.

    ``await start()`` listens and restores jobs from ``data_dir``; ``await
    stop()`` kills every worker and closes the server. Keyword ``overrides``
    set any :class:`~pydisco.master.config.MasterSettings` field (for example
    ``retry_delay=0.0`` or ``pid_timeout=1.0``).
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        nodes: str | None = None,
        token: str | None = None,
        allow_remote: bool = False,
        **overrides: Any,
    ) -> None:
        # Disco's upload port beside Disco's port; for any other port a free one, so that
        # two masters on one machine never fight over 8990 (clients take the upload URLs
        # from new_blob's reply, so any port works).
        overrides.setdefault("put_port", DEFAULT_PUT_PORT if port == DEFAULT_DISCO_PORT else 0)
        self.settings = MasterSettings(
            data_dir=Path(data_dir).absolute(),
            host=host,
            port=port,
            nodes=nodes,
            token=token,
            allow_remote=allow_remote,
            **overrides,
        )
        if not is_loopback_host(host):
            if not allow_remote:
                raise ConfigError(
                    f"Refusing to listen on {host}: a job runs arbitrary code as this user. "
                    "Set allow_remote and a token to do it anyway.",
                    settings=("allow_remote", "token"),
                )
            if not token:
                raise ConfigError(f"Listening on {host} requires a token.", settings=("token",))
        self.state: MasterState | None = None
        self._runner: web.AppRunner | None = None
        self._uploads: web.AppRunner | None = None
        self.port = 0
        self.url = ""
        self.addresses: list[str] = []

    @property
    def data_dir(self) -> Path:
        """The data directory (Disco's DISCO_DATA)."""
        return self.settings.data_dir

    async def start(self) -> None:
        """Restore jobs, then listen; returns once the server accepts connections."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        state = MasterState(self.settings)
        state.restore()
        self.state = state
        runner = web.AppRunner(make_app(state), access_log=None, handle_signals=False)
        await runner.setup()
        self._runner = runner
        first = web.TCPSite(runner, self.settings.host, self.settings.port, reuse_address=True)
        await first.start()
        server = first._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.port
        self.addresses = [self.settings.host]
        state.port = self.port
        wildcard = self.settings.host in ("0.0.0.0", "::", "")
        links = NodeLinks(
            port=self.port,
            listening=[str(s.getsockname()[0]) for s in sockets],
            wildcard=wildcard,
            allow_remote=self.settings.allow_remote,
            listen=self._listen if self.settings.listen_on_nodes and not wildcard else None,
            changed=state.link_changed,
            retry=self.settings.node_retry,
        )
        await state.attach_links(links)
        try:
            await self._start_uploads(state)
        except BaseException:
            await self.stop()
            raise
        shown = self.settings.host
        if shown in ("0.0.0.0", "::"):
            shown = socket.gethostname()
        self.url = f"http://{url_authority(shown, self.port)}"
        state.url = self.url
        log.info("listening on %s (data in %s)", self.url, self.settings.data_dir)

    async def _listen(self, address: str) -> None:
        """Serve this master on ``address`` at its port too (a node's data URL)."""
        assert self._runner is not None
        site = web.TCPSite(self._runner, address, self.port, reuse_address=True)
        await site.start()
        self.addresses.append(address)

    async def _start_uploads(self, state: MasterState) -> None:
        """Listen for DDFS blob uploads on ``put_port`` at every address the master serves."""
        runner = web.AppRunner(state.ddfs.upload_app(), access_log=None, handle_signals=False)
        await runner.setup()
        self._uploads = runner
        port = self.settings.put_port
        for address in self.addresses:
            site = web.TCPSite(runner, address, port, reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                raise ConfigError(
                    f"Cannot listen for DDFS uploads on {address}:{port} ({exc.strerror}); "
                    "choose another port with --put-port (0 picks a free one)."
                ) from None
            if port == 0:
                server = site._server
                sockets = getattr(server, "sockets", None) or []
                port = sockets[0].getsockname()[1]
        self.settings.put_port = port

    async def stop(self) -> None:
        """Kill every worker, mark running jobs dead, and close the server."""
        if self.state is not None:
            await self.state.shutdown()
            await self.state.ddfs.close()
        if self._uploads is not None:
            await self._uploads.cleanup()
            self._uploads = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ReferenceMaster:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    def start_in_thread(
        cls,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        nodes: str | None = None,
        **overrides: Any,
    ) -> MasterHandle:
        """Run a master on its own event loop in a background thread; returns once listening."""
        master = cls(data_dir, host=host, port=port, nodes=nodes, **overrides)
        handle = MasterHandle(master)
        handle._launch()
        return handle


class MasterHandle:
    """A master running in a background thread. ``stop()`` (or leaving ``with``) ends it."""

    def __init__(self, master: ReferenceMaster) -> None:
        self.master = master
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="pydisco-master", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.master.url

    @property
    def port(self) -> int:
        """The port the master listens on."""
        return self.master.port

    @property
    def data_dir(self) -> Path:
        """The data directory."""
        return self.master.data_dir

    @property
    def state(self) -> MasterState:
        """The master's state (for tests that look inside)."""
        assert self.master.state is not None
        return self.master.state

    def _launch(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.master.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self.master.stop())
            self._cancel_leftover_tasks()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _cancel_leftover_tasks(self) -> None:
        """Cancel and finish what is still pending, as ``asyncio.run`` does.

        aiohttp can leave the handler task of a client that went away mid-request
        pending after the server stopped (more often on a busy machine); closing the
        loop under it would destroy it pending.
        """
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        if tasks:
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    def call(self, coro: Any, timeout: float | None = 30.0) -> Any:
        """Run a coroutine on the master's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self) -> None:
        """Kill all workers, stop the server, and join the thread."""
        if self._stopped:
            return
        self._stopped = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def __enter__(self) -> MasterHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
