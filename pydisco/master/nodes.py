"""Whether each configured node can run tasks: "connecting" a node on one machine.

Real Disco starts an Erlang node on each configured host; a host it cannot
start is left out of scheduling and tried again later (facts §10.5: a node is
taken out only when disconnected or blacklisted). Here every worker runs on
this machine, and a node is a name whose data other workers read over HTTP at
``http://<name>:<port>/``. So a node is **connected** once this machine serves
that URL: its name resolves to an address the master already listens on, or
to a loopback address (any address with ``allow_remote``) where a new listener
at the master's port opens. Otherwise it is not connected, with the reason,
and it is tried again every ``retry`` seconds until it leaves the table.
Listeners stay open until the master stops, so data a node served before it
left the table can still be read.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import attrs

from pydisco.loopback import is_loopback_host

__all__ = ["Link", "NodeLinks", "resolve_host"]

log = logging.getLogger("pydisco.master")

#: How long one name lookup may take before the node counts as not resolving.
RESOLVE_TIMEOUT_SECONDS = 5.0

Resolver = Callable[[str], Awaitable[list[str]]]
Listener = Callable[[str], Awaitable[None]]
Changed = Callable[[str, "Link"], None]


class Cancellable(Protocol):
    """What a timer returns (``asyncio.TimerHandle``)."""

    def cancel(self) -> None: ...


#: ``later(delay, callback)``: run ``callback`` after ``delay`` seconds (the loop's
#: ``call_later``; tests pass their own to fire retries without waiting).
Later = Callable[[float, Callable[[], None]], Cancellable]


@attrs.frozen
class Link:
    """A node's connection state: connected, or not and why."""

    connected: bool
    reason: str = ""


CONNECTING = Link(False, "connecting")


async def resolve_host(name: str) -> list[str]:
    """The IP addresses ``name`` stands for, IPv4 first (an IP literal is itself; an IPv6
    one may be in brackets, as a node named after its address is: ``[::1]``)."""
    literal = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    with contextlib.suppress(ValueError):
        return [str(ipaddress.ip_address(literal))]
    infos = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM)
    found = [str(info[4][0]) for info in infos]
    found.sort(key=lambda a: ":" in a)
    return list(dict.fromkeys(found))


def _can_bind(address: str) -> bool:
    """Whether ``address`` belongs to this machine (a socket can be bound to it)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((address, 0))
    except OSError:
        return False
    return True


class NodeLinks:
    """Connects nodes, remembers each one's :class:`Link`, and retries the failed ones.

    ``listening`` holds the addresses the master already serves; ``wildcard``
    says it listens on every address of this machine. ``listen(address)`` opens
    a listener at the master's port (raising ``OSError``), or is None when new
    listeners must not be opened. ``changed(name, link)`` is called whenever a
    node's state changes. A node that is not connected is tried again every
    ``retry`` seconds (never when ``retry`` is 0 or less) while it is in the table.
    """

    def __init__(
        self,
        *,
        port: int,
        listening: Iterable[str],
        wildcard: bool,
        allow_remote: bool,
        listen: Listener | None,
        changed: Changed,
        retry: float,
        resolve: Resolver = resolve_host,
        resolve_timeout: float = RESOLVE_TIMEOUT_SECONDS,
        later: Later | None = None,
    ) -> None:
        self.port = port
        self.listening = set(listening)
        self.wildcard = wildcard
        self.allow_remote = allow_remote
        self._listen = listen
        self._changed = changed
        self.retry = retry
        self._resolve = resolve
        self.resolve_timeout = resolve_timeout
        self._later = later
        self.links: dict[str, Link] = {}
        self._wanted: set[str] = set()
        self._attempts: dict[str, asyncio.Task[None]] = {}
        self._timers: dict[str, Cancellable] = {}
        self._closed = False

    def status(self, name: str) -> Link:
        """The node's current state (:data:`CONNECTING` before its first attempt ends)."""
        return self.links.get(name, CONNECTING)

    def track(self, names: Iterable[str], *, retry_now: bool = False) -> None:
        """Make ``names`` the nodes to keep connected; start attempts for new ones.

        ``retry_now`` also retries every node that is not connected at once
        (``load_config_table``) instead of at its next timer.
        """
        self._wanted = set(names)
        for name in self._wanted:
            link = self.links.get(name)
            if link is None or (retry_now and not link.connected):
                self._attempt_soon(name)
        for name in list(self._timers):
            if name not in self._wanted:
                self._timers.pop(name).cancel()

    async def settle(self) -> None:
        """Wait for every attempt in progress (the master's start waits for the first ones)."""
        while self._attempts:
            await asyncio.gather(*list(self._attempts.values()), return_exceptions=True)

    def close(self) -> None:
        """Stop retrying and cancel attempts in progress."""
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for attempt in self._attempts.values():
            attempt.cancel()

    def _attempt_soon(self, name: str) -> None:
        if self._closed or name in self._attempts:
            return
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        attempt = asyncio.get_running_loop().create_task(self._attempt(name))
        self._attempts[name] = attempt
        attempt.add_done_callback(lambda _t: self._attempts.pop(name, None))

    async def _attempt(self, name: str) -> None:
        link = await self.connect(name)
        if self._closed:
            return
        before = self.links.get(name)
        self.links[name] = link
        if before != link:
            self._changed(name, link)
        if not link.connected and name in self._wanted and self.retry > 0:
            later = self._later or asyncio.get_running_loop().call_later
            self._timers[name] = later(self.retry, lambda: self._retry(name))

    def _retry(self, name: str) -> None:
        self._timers.pop(name, None)
        if name in self._wanted:
            self._attempt_soon(name)

    async def connect(self, name: str) -> Link:
        """One attempt: is ``name`` served by this machine, or can it be made so?"""
        try:
            addresses = await asyncio.wait_for(self._resolve(name), self.resolve_timeout)
        except asyncio.TimeoutError:
            return Link(
                False, f"the name does not resolve (no answer in {self.resolve_timeout:g} s)"
            )
        except (OSError, UnicodeError) as exc:
            return Link(False, f"the name does not resolve ({exc})")
        if not addresses:
            return Link(False, "the name resolves to no address")
        if any(a in self.listening for a in addresses):
            return Link(True)
        if self.wildcard and any(_can_bind(a) for a in addresses):
            return Link(True)
        reasons = []
        for address in addresses:
            if not is_loopback_host(address) and not self.allow_remote:
                reasons.append(
                    f"{address} is not a loopback address (serving it needs --allow-remote)"
                )
                continue
            if self._listen is None:
                if _can_bind(address):
                    return Link(True)
                reasons.append(f"{address} is not an address of this machine")
                continue
            try:
                await self._listen(address)
            except OSError as exc:
                reasons.append(f"cannot listen on {address}:{self.port}: {exc.strerror or exc}")
                continue
            self.listening.add(address)
            log.info("serving node %s on %s:%d", name, address, self.port)
            return Link(True)
        return Link(False, "; ".join(reasons))
