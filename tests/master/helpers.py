"""Helpers for the master's tests: build job packs, submit them, wait, read results.

Everything goes over real HTTP with plain ``httpx``, as Disco's own Python
client would; nothing here uses ``pydisco.client``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from pydisco.jobpack import jobpack_bytes

WORKERS = Path(__file__).parent / "workers"


def make_pack(
    tmp_path: Path,
    worker: str = "wordcount.sh",
    *,
    pipeline: list[list[Any]] | None = None,
    inputs: list[list[Any]] | None = None,
    envs: dict[str, str] | None = None,
    prefix: str = "Test",
    scheduler: dict[str, Any] | None = None,
    extra: dict[str, Path] | None = None,
) -> bytes:
    """A v2 job pack whose job home holds ``workers/<worker>`` (and ``extra`` files)."""
    home = tmp_path / f"home-{time.monotonic_ns()}"
    home.mkdir()
    shutil.copy(WORKERS / worker, home / worker)
    for name, source in (extra or {}).items():
        shutil.copy(source, home / name)
    jobdict = {
        "prefix": prefix,
        "worker": worker,
        "owner": "tester@localhost",
        "scheduler": scheduler or {},
        "pipeline": pipeline if pipeline is not None else [["map", "split", False]],
        "inputs": inputs if inputs is not None else [[0, 0, ["raw://hello"]]],
        "save_results": False,
    }
    return jobpack_bytes(jobdict=jobdict, jobenvs=envs or {}, jobhome=home, version=2)


def submit(url: str, pack: bytes, **headers: str) -> str:
    """POST the pack to /disco/job/new; returns the job name."""
    reply = httpx.post(f"{url}/disco/job/new", content=pack, headers=headers, timeout=30)
    assert reply.status_code == 200, reply.text
    status, value = reply.json()
    assert status == "ok", value
    return str(value)


def wait(url: str, name: str, timeout: float = 60.0) -> tuple[str, list[Any]]:
    """Poll get_results the way Disco's client does, until the job is not active."""
    deadline = time.monotonic() + timeout
    while True:
        reply = httpx.post(
            f"{url}/disco/ctrl/get_results", content=json.dumps([2000, [name]]), timeout=30
        )
        assert reply.status_code == 200, reply.text
        [[got, [status, results]]] = reply.json()
        assert got == name
        if status != "active":
            return status, results
        assert time.monotonic() < deadline, f"job {name} still active after {timeout}s"


def events(url: str, name: str) -> list[str]:
    """Every event message of the job, oldest first (from rawevents)."""
    reply = httpx.get(f"{url}/disco/ctrl/rawevents", params={"name": name}, timeout=30)
    assert reply.status_code == 200
    return [json.loads(line)[2] for line in reply.text.splitlines() if line]


def read_results(url: str, results: list[list[str]]) -> bytes:
    """Concatenate every result file: dir:// indexes read over HTTP, then their files."""
    out = b""
    for replicas in results:
        first = replicas[0]
        if first.startswith("dir://"):
            path = first.split("/", 3)[3]
            index = httpx.get(f"{url}/{path}", timeout=30)
            assert index.status_code == 200, first
            for line in index.text.splitlines():
                _label, data_url, _size = line.split()
                out += fetch(url, data_url)
        else:
            out += fetch(url, first)
    return out


def fetch(url: str, data_url: str) -> bytes:
    """Read a disco:// URL through the master's data serving."""
    assert data_url.startswith("disco://"), data_url
    path = data_url.split("/", 3)[3]
    reply = httpx.get(f"{url}/{path}", timeout=30)
    assert reply.status_code == 200, data_url
    return reply.content


def word_counts(text: bytes) -> dict[str, int]:
    """``word<TAB>count`` lines as a dict (summing repeats)."""
    counts: dict[str, int] = {}
    for line in text.decode().splitlines():
        word, count = line.split("\t")
        counts[word] = counts.get(word, 0) + int(count)
    return counts
