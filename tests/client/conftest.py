"""Fixtures for client tests: a scripted mock transport (the unit-test seam)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from pydisco.client import Master

Handler = Callable[[httpx.Request], httpx.Response]


class Routes:
    """Answers requests by (method, path); records every request it saw."""

    def __init__(self) -> None:
        self.handlers: dict[tuple[str, str], Handler] = {}
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        self.handlers[(method, path)] = handler

    def json(self, method: str, path: str, value: Any, status: int = 200) -> None:
        self.add(method, path, lambda _r: httpx.Response(status, json=value))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.read())
        handler = self.handlers.get((request.method, request.url.path))
        if handler is None:
            return httpx.Response(404, text="Not found.")
        return handler(request)

    def last_json(self) -> Any:
        return json.loads(self.bodies[-1])


@pytest.fixture
def routes() -> Routes:
    return Routes()


@pytest.fixture
def master(routes: Routes) -> Iterator[Master]:
    client = Master("http://master.test:8989", transport=httpx.MockTransport(routes), backoff=0.0)
    client._sleep = lambda _s: None
    with client:
        yield client


@pytest.fixture
def live_master(reference_master: Any) -> Any:
    """The real reference master on loopback (``reference_master`` in ``tests/conftest.py``)."""
    return reference_master


@pytest.fixture
def live(live_master: Any) -> Iterator[Master]:
    """A client of :func:`live_master`."""
    with Master(live_master.url, backoff=0.01) as client:
        yield client
