"""The sh, Node.js and C example workers run a real job on the bundled reference master."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from pydisco.jobpack import jobpack_bytes
from tests.conformance.helpers import NODE_WORKER, SH_WORKER, compile_c, node

TEXTS = ["first input\n", "second input, two lines\nline two\n", "gr\u00fc\u00dfe \u2603\n"]


def _pack(tmp_path: Path, worker: Path) -> bytes:
    home = tmp_path / f"home-{worker.name}"
    home.mkdir()
    shutil.copy(worker, home / worker.name)
    jobdict = {
        "prefix": "Conform",
        "worker": worker.name,
        "owner": "tester@localhost",
        "scheduler": {},
        "pipeline": [["map", "split", False], ["reduce", "group_all", False]],
        "inputs": [[0, 0, [f"raw://{text}"]] for text in TEXTS],
        "save_results": False,
    }
    return jobpack_bytes(jobdict=jobdict, jobenvs={}, jobhome=home, version=2)


def _run_job(url: str, pack: bytes) -> tuple[str, list[list[str]]]:
    reply = httpx.post(f"{url}/disco/job/new", content=pack, timeout=30)
    assert reply.status_code == 200, reply.text
    status, name = reply.json()
    assert status == "ok", name
    deadline = time.monotonic() + 60
    while True:
        got = httpx.post(
            f"{url}/disco/ctrl/get_results", content=json.dumps([2000, [name]]), timeout=30
        )
        [[_, [state, results]]] = got.json()
        if state != "active":
            return state, results
        assert time.monotonic() < deadline, "the job did not finish"


def _read(url: str, results: list[list[str]]) -> list[str]:
    lines: list[str] = []
    for replicas in results:
        index = httpx.get(f"{url}/{replicas[0].split('/', 3)[3]}", timeout=30)
        assert index.status_code == 200
        for entry in index.text.splitlines():
            data_url = entry.split()[1]
            data = httpx.get(f"{url}/{data_url.split('/', 3)[3]}", timeout=30)
            assert data.status_code == 200
            lines.extend(data.content.decode("utf-8").splitlines())
    return lines


@pytest.mark.parametrize("which", ["sh", "node", "c"])
def test_example_worker_runs_a_job(which, reference_master, tmp_path):
    if which == "node":
        node()  # fails, not skips, without node
    worker = {"sh": SH_WORKER, "node": NODE_WORKER}.get(which)
    if worker is None:
        worker = compile_c(tmp_path / "worker")
    pack = _pack(tmp_path, worker)
    state, results = _run_job(reference_master.url, pack)
    assert state == "ready", results
    expected = sorted(line for text in TEXTS for line in text.splitlines())
    assert sorted(_read(reference_master.url, results)) == expected
