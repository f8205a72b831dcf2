"""Jobs and DDFS on a two-node master: tag:// inputs, saved results chained, OOB."""

from __future__ import annotations

import asyncio
import collections
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pydisco.client import DDFS, AsyncMaster, Master
from pydisco.master import ReferenceMaster
from tests.ddfs.ddfs_jobs import doubled, saved_wordcount, unsaveable, with_oob, wordcount

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

TEXT = "the quick brown fox\njumps over the lazy dog\nthe dog sleeps\n" * 40
COUNTS = collections.Counter(TEXT.split())


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    data = tmp_path_factory.mktemp("ddfs-jobs") / "data"
    nodes = "127.0.0.2=1,127.0.0.3=1"
    with ReferenceMaster.start_in_thread(data, nodes=nodes, retry_delay=0.0) as master:
        yield master


@pytest.fixture(scope="module")
def book(two_nodes: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("book") / "book.txt"
    path.write_text(TEXT)
    with DDFS(two_nodes.url) as ddfs:
        for _ in range(3):  # several blobs, spread over both nodes by new_blob
            ddfs.chunk("data:book", path, chunk_size=600)
        hosts = {s[0].split("/")[2] for s in ddfs.blobs("data:book")}
        ddfs.tag("data:meta", [["tag://data:book"], ["tag://data:missing"]])
    assert hosts == {"127.0.0.2", "127.0.0.3"}
    return "data:book"


def test_a_job_reads_tag_inputs_on_two_nodes(two_nodes: Any, book: str) -> None:
    results = wordcount.run([f"tag://{book}"], runner=two_nodes.url)
    assert dict(results) == {w: 3 * n for w, n in COUNTS.items()}
    with Master(two_nodes.url) as master, DDFS(two_nodes.url) as ddfs:
        inputs = master.jobinfo(results.job_name).inputs
        assert sorted(inputs) == sorted(s[0] for s in ddfs.blobs(book))  # expanded, no tag://


def test_linked_tags_and_tokens_in_input_urls(two_nodes: Any, book: str) -> None:
    with DDFS(two_nodes.url) as ddfs:
        ddfs.put("data:private", [["tag://data:book"]], token="s3")
    results = wordcount.run(["tag://user:s3@/data:private"], runner=two_nodes.url)
    assert dict(results) == {w: 3 * n for w, n in COUNTS.items()}
    meta = wordcount.run(["tag://data:meta"], runner=two_nodes.url)
    assert dict(meta) == dict(results)


def test_the_inline_runner_reads_tags_of_the_environments_master(
    two_nodes: Any, book: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCO_MASTER", two_nodes.url)
    results = wordcount.run([f"tag://{book}"])  # inline: blobs read over HTTP
    assert dict(results) == {w: 3 * n for w, n in COUNTS.items()}


def test_a_missing_input_tag_is_a_clear_error(two_nodes: Any) -> None:
    from pydisco.client import DdfsRequestError

    with pytest.raises(DdfsRequestError, match="404"):
        wordcount.run(["tag://data:nothing"], runner=two_nodes.url)


def test_saved_results_become_a_tag_and_chain(two_nodes: Any, book: str) -> None:
    saved = saved_wordcount.run([f"tag://{book}"], runner=two_nodes.url)
    expected = {w: 3 * n for w, n in COUNTS.items()}
    assert dict(saved) == expected
    tag = f"tag://disco:results:{saved.job_name}"
    with Master(two_nodes.url) as master:
        result = master.results(saved.job_name)
        assert result.results == ((tag,),)
        assert master.jobinfo(saved.job_name).results == (tag,)
        raw = httpx.post(
            f"{two_nodes.url}/disco/ctrl/get_results", json=[0, [saved.job_name]]
        ).json()
        assert raw == [[saved.job_name, ["ready", [tag]]]]
        assert len(master.result_urls(saved.job_name)) == 2  # one blob per partition
        assert len(list(master.iter_result_lines(saved.job_name))) == len(expected)
    async_urls = asyncio.run(_async_result_urls(two_nodes.url, saved.job_name))
    assert len(async_urls) == 2
    with DDFS(two_nodes.url) as ddfs:
        blobs = ddfs.blobs(tag)
        assert len(blobs) == 2
        assert all(re.search(r"/ddfs/vol[01]/blob/", s[0]) for s in blobs)
        assert ddfs.getattr(tag, "ddfs:write-token") is None
    chained = doubled.run([tag], runner=two_nodes.url)
    assert dict(chained) == {w: 2 * n for w, n in expected.items()}
    with Master(two_nodes.url) as master, DDFS(two_nodes.url) as ddfs:
        master.purge(saved.job_name)
        assert ddfs.blobs(tag) == blobs  # purge never deletes the results tag


async def _async_result_urls(url: str, name: str) -> list[list[str]]:
    async with AsyncMaster(url) as master:
        return await master.result_urls(name)


def test_oob_put_and_get_from_tasks(two_nodes: Any) -> None:
    results = with_oob.run([b"a first\nb second\nc third\n"], runner=two_nodes.url)
    assert dict(results) == {"lines": [3, "b second"]}
    assert results.oob_list() == {"line-a", "line-b", "line-c"}
    assert results.oob_get("line-c") == b"c third"
    with DDFS(two_nodes.url) as ddfs:
        assert ddfs.oob_list(results.job_name) == {"line-a", "line-b", "line-c"}
        assert ddfs.exists(f"disco:job:oob:{results.job_name}")
        with Master(two_nodes.url) as master:
            master.purge(results.job_name)
        assert not ddfs.exists(f"disco:job:oob:{results.job_name}")  # purge drops OOB


def test_oob_outside_a_master_is_a_clear_error(tmp_path: Path) -> None:
    from pydisco.job import JobError

    with pytest.raises(JobError, match="OOB is only available"):
        dict(with_oob.run([b"a x\n"]))


def test_results_that_cannot_be_saved_fail_the_job_with_the_reason(two_nodes: Any) -> None:
    """A job whose name makes no tag name (``+`` is outside the charset) runs its tasks,
    then fails at the save with an ``ERROR:`` event naming the tag (Disco would write
    the tag unchecked or leave the job active); nothing is written to DDFS."""
    from pydisco.client.errors import JobFailed

    with pytest.raises(JobFailed) as failed:
        unsaveable.run([b"a b\n"], runner=two_nodes.url)
    with Master(two_nodes.url) as master:
        (name,) = [j.name for j in master.joblist() if j.name.startswith("not+a+tag@")]
        assert master.jobinfo(name).status == "dead"
        events = "".join(e.message for e in master.events(name)[0])
    expected = f"failed to save results to tag://disco:results:{name}"
    assert expected in events
    assert "makes no valid tag name" in events
    assert name in str(failed.value)
    with DDFS(two_nodes.url) as ddfs:
        assert f"disco:results:{name}" not in ddfs.list("disco:results:")
