"""Fixtures for the DDFS tests: one real master per module, real HTTP."""

from __future__ import annotations

import base64
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_names = itertools.count()


def basic(token: str) -> dict[str, str]:
    """The Authorization header presenting ``token`` as Disco's client sends it."""
    encoded = base64.b64encode(f"token:{token}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def fresh(prefix: str = "t") -> str:
    """A tag name no other test of the session uses."""
    return f"{prefix}-{next(_names)}"


@pytest.fixture(scope="module")
def ddfs_master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A reference master (node ``localhost``) shared by the tests of one module."""
    from pydisco.master import ReferenceMaster

    data = tmp_path_factory.mktemp("ddfs") / "data"
    with ReferenceMaster.start_in_thread(data, nodes="localhost=2", retry_delay=0.0) as master:
        yield master


@pytest.fixture(scope="module")
def http(ddfs_master: Any) -> Iterator[httpx.Client]:
    """An HTTP client whose relative URLs go to the shared master."""
    with httpx.Client(base_url=ddfs_master.url, timeout=60) as client:
        yield client


def push_blob(http: httpx.Client, prefix: str, data: bytes) -> str:
    """``new_blob`` then PUT: the blob's ``disco://`` URL."""
    (target,) = http.get(f"/ddfs/new_blob/{prefix}").json()
    reply = httpx.put(target, content=data, timeout=60)
    assert reply.status_code == 201, reply.text
    url = reply.json()
    assert isinstance(url, str)
    return url
