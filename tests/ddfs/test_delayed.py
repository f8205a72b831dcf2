"""``POST /ddfs/tag/<tag>?delayed=1`` batched as Disco batches it (ddfs facts §2.4).

The master here waits 600 s before writing a batch on its own, so a batch is
written only by what the test does next (another operation on the tag, or the
master stopping); one test shortens the wait to see the timer write it. The
tests wait for events (the master reporting buffered requests, replies), never
for a duration.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from pydisco.master import ReferenceMaster
from tests.ddfs.conftest import basic, fresh

#: Long enough that no batch is written by its timer while a test runs.
NEVER = 600.0


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    data = tmp_path_factory.mktemp("delayed") / "data"
    with ReferenceMaster.start_in_thread(
        data, nodes="localhost=1", ddfs_delayed_seconds=NEVER
    ) as handle:
        yield handle


@pytest.fixture(scope="module")
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def pending(master: Any, name: str) -> int:
    async def count() -> int:
        return int(master.state.ddfs.api.delayed.pending(name))

    return int(master.call(count()))


def wait_pending(master: Any, name: str, count: int) -> None:
    """Wait until the master has buffered ``count`` delayed requests for ``name``."""
    deadline = time.monotonic() + 120  # a hang guard, not a timing assertion
    while pending(master, name) < count:
        assert time.monotonic() < deadline, f"{name}: {pending(master, name)} buffered"
        time.sleep(0.01)


def post(
    url: str, name: str, sets: list[list[str]], query: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(
        f"{url}/ddfs/tag/{name}?{query}", content=json.dumps(sets), headers=headers, timeout=120
    )


def delayed(
    pool: ThreadPoolExecutor, master: Any, name: str, sets: list[list[str]], update: bool = False
) -> Future[httpx.Response]:
    """A delayed POST in the background, returned once the master has buffered it."""
    before = pending(master, name)
    query = f"delayed=1&update={'1' if update else ''}"
    reply = pool.submit(post, master.url, name, sets, query)
    wait_pending(master, name, before + 1)
    return reply


def test_delayed_appends_are_one_version_written_before_the_next_operation(
    master: Any, pool: ThreadPoolExecutor
) -> None:
    name = fresh("delayed")
    created = post(master.url, name, [["first"]], "delayed=&update=")
    old_id = httpx.get(f"{master.url}/ddfs/tag/{name}").json()["id"]
    first = delayed(pool, master, name, [["a1"], ["a2"]])
    second = delayed(pool, master, name, [["b"]])
    assert not first.done() and not second.done()  # answered only after the write
    tag = httpx.get(f"{master.url}/ddfs/tag/{name}").json()  # another operation: written first
    assert tag["urls"] == [["b"], ["a1"], ["a2"], ["first"]]  # later requests in front
    assert tag["id"] != old_id
    one, two = first.result(), second.result()
    assert one.status_code == two.status_code == 200
    assert one.json() == two.json() != created.json()  # one version for the batch
    assert tag["id"] in one.json()[0]
    assert pending(master, name) == 0


def test_each_kind_of_operation_writes_the_batch_first(
    master: Any, pool: ThreadPoolExecutor
) -> None:
    name = fresh("delayed")
    post(master.url, name, [], "delayed=&update=")
    waiting = delayed(pool, master, name, [["x"]])
    attr = httpx.put(f"{master.url}/ddfs/tag/{name}/note", content=b'"n"')
    assert attr.status_code == 200
    assert waiting.result().status_code == 200
    waiting = delayed(pool, master, name, [["y"]])
    assert post(master.url, name, [["z"]], "delayed=&update=").status_code == 200
    assert waiting.result().status_code == 200
    assert httpx.get(f"{master.url}/ddfs/tag/{name}/ddfs:urls").json() == [["z"], ["y"], ["x"]]
    waiting = delayed(pool, master, name, [["gone"]])
    assert httpx.delete(f"{master.url}/ddfs/tag/{name}").json() == "deleted"
    assert waiting.result().status_code == 200  # written, then the tag was deleted
    assert httpx.get(f"{master.url}/ddfs/tag/{name}").status_code == 404


def test_update_batches_skip_keys_already_present_or_earlier_in_the_batch(
    master: Any, pool: ThreadPoolExecutor
) -> None:
    name = fresh("delayed")
    blob = "disco://localhost/ddfs/vol0/blob/{}/{}$5a9-1-{}"
    post(master.url, name, [[blob.format("aa", "old", 1)]], "delayed=&update=")
    first = delayed(pool, master, name, [[blob.format("ab", "new", 2)]], update=True)
    second = delayed(
        pool,
        master,
        name,
        [[blob.format("ac", "new", 3)], [blob.format("ad", "old", 4)], ["tag://t"]],
        update=True,
    )
    urls = httpx.get(f"{master.url}/ddfs/tag/{name}/ddfs:urls").json()
    assert urls == [["tag://t"], [blob.format("ab", "new", 2)], [blob.format("aa", "old", 1)]]
    assert first.result().json() == second.result().json()


def test_a_batch_that_changes_nothing_keeps_the_id(master: Any, pool: ThreadPoolExecutor) -> None:
    name = fresh("delayed")
    created = post(master.url, name, [["tag://same"]], "delayed=&update=").json()
    waiting = delayed(pool, master, name, [["tag://same"]], update=True)
    assert httpx.get(f"{master.url}/ddfs/tag/{name}").status_code == 200
    assert waiting.result().json() == created


def test_delayed_to_a_missing_tag_is_immediate(master: Any) -> None:
    name = fresh("delayed")
    reply = post(master.url, name, [["u"]], "delayed=1&update=")  # NEVER would hang here
    assert reply.status_code == 200
    assert pending(master, name) == 0
    assert httpx.get(f"{master.url}/ddfs/tag/{name}/ddfs:urls").json() == [["u"]]


def test_delayed_refusals_are_answered_at_once(master: Any) -> None:
    name = fresh("delayed")
    post(master.url, name, [], "delayed=&update=", basic("w"))
    refused = post(master.url, name, [["u"]], "delayed=1&update=")
    assert (refused.status_code, refused.text) == (401, "Incorrect or missing token.")
    bad = post(master.url, name, [[1]], "delayed=1&update=", basic("w"))  # type: ignore[list-item]
    assert (bad.status_code, bad.text) == (403, "Invalid url object")
    assert pending(master, name) == 0


def test_the_timer_writes_a_batch_on_its_own(master: Any, pool: ThreadPoolExecutor) -> None:
    name = fresh("delayed")
    post(master.url, name, [], "delayed=&update=")
    api = master.state.ddfs.api

    async def wait(seconds: float) -> None:
        api.delayed.seconds = seconds

    master.call(wait(0.01))
    try:
        reply = post(master.url, name, [["timed"]], "delayed=1&update=")  # no other request
    finally:
        master.call(wait(NEVER))
    assert reply.status_code == 200
    assert httpx.get(f"{master.url}/ddfs/tag/{name}/ddfs:urls").json() == [["timed"]]


def test_stopping_the_master_writes_and_answers_the_batch(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    data = tmp_path / "data"
    handle = ReferenceMaster.start_in_thread(data, nodes="localhost=1", ddfs_delayed_seconds=NEVER)
    try:
        post(handle.url, "kept", [], "delayed=&update=")
        waiting = delayed(pool, handle, "kept", [["saved"]])
    finally:
        handle.stop()
    assert waiting.result().status_code == 200
    with ReferenceMaster.start_in_thread(data, nodes="localhost=1") as again:
        assert httpx.get(f"{again.url}/ddfs/tag/kept/ddfs:urls").json() == [["saved"]]
