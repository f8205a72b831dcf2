"""Map tasks read their byte range of a local file in place on the bundled master (no copy),
while a master that may be a real Disco gets only URLs Disco understands."""

from __future__ import annotations

import collections
import io
import json
from pathlib import Path
from typing import Any

import pytest

from examples.jobs.wordcount import wordcount, wordcount_by_word, wordcount_textbook
from pydisco.job import Job
from pydisco.job.launcher import decode_jobdata
from pydisco.job.remote import LocalMasterRunner, MasterRunner

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

TEXT = "the quick brown fox\njumps over the lazy dog\nThe dog sleeps\n" * 200


def _pack_parts(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    envs_offset = int.from_bytes(data[8:12], "big")
    jobdata_offset = int.from_bytes(data[16:20], "big")
    return json.loads(data[128:envs_offset]), decode_jobdata(data[jobdata_offset:])


def _pack(runner: MasterRunner, job: Job, inputs: list[str], original: Job) -> Any:
    out = io.BytesIO()
    runner.write_pack(out, job, inputs, original=original)
    return _pack_parts(out.getvalue())


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "words.txt"
    path.write_text(TEXT)
    return path


@pytest.mark.parametrize(
    "original",
    [wordcount, wordcount_by_word, wordcount_textbook],
    ids=["per_task", "per_word", "textbook"],
)
def test_bundled_master_tasks_read_ranges_in_place(
    reference_master: Any, text_file: Path, original: Job
) -> None:
    job = Job(original.stages, map_tasks=3)
    runner = LocalMasterRunner(master=reference_master)
    jobdict, jobdata = _pack(runner, job, [str(text_file)], original)
    urls = [url for _label, _id, replicas in jobdict["inputs"] for url in replicas]
    assert len(urls) == 3 and all(u.startswith(f"file://{text_file}#bytes=") for u in urls)
    ranges = jobdata["input_ranges"]
    assert sorted(ranges) == sorted(urls)
    cuts = sorted((start, end) for _path, start, end, _size in ranges.values())
    assert cuts[0][0] == 0 and cuts[-1][1] == len(TEXT.encode())
    assert {size for *_rest, size in ranges.values()} == {len(TEXT.encode())}
    assert runner.staging is None  # nothing was copied
    results = runner.run(job, [str(text_file)], original=original)
    assert dict(results) == dict(collections.Counter(TEXT.split()))
    assert runner.staging is None


def test_a_file_changed_after_planning_fails_the_job_clearly(
    reference_master: Any, text_file: Path
) -> None:
    from pydisco.client import JobFailed

    job = Job(wordcount.stages, map_tasks=2)
    runner = LocalMasterRunner(master=reference_master)
    pack = io.BytesIO()
    runner.write_pack(pack, job, [str(text_file)], original=wordcount)
    with open(text_file, "a") as handle:
        handle.write("a line written after the job was planned\n")
    pack.seek(0)
    name = runner.client.submit(pack)
    with pytest.raises(JobFailed) as info:
        runner.client.wait(name, poll_interval=0.05)
    assert "InputChanged" in str(info.value) and str(text_file) in str(info.value)


def test_a_range_past_the_end_of_its_file_is_an_error(text_file: Path) -> None:
    from pydisco.job import InputChanged
    from pydisco.job.sources import read_file_range

    size = text_file.stat().st_size
    assert b"".join(read_file_range(str(text_file), 4, 10, size)) == TEXT.encode()[4:10]
    with pytest.raises(InputChanged, match="ends before byte"):
        list(read_file_range(str(text_file), 0, size + 5))
    with pytest.raises(InputChanged, match="run the job again"):
        list(read_file_range(str(text_file), 0, 10, size - 1))


def test_a_master_that_may_be_disco_gets_whole_files(
    reference_master: Any, text_file: Path, tmp_path: Path
) -> None:
    # A loopback URL without byte_ranges: the master could be a real Disco, whose workers
    # read a file:// URL as a whole file; so each range is copied to a chunk file first.
    runner = MasterRunner(reference_master.url, staging=str(tmp_path / "staging"))
    (tmp_path / "staging").mkdir()
    job = Job(wordcount.stages, map_tasks=3)
    jobdict, jobdata = _pack(runner, job, [str(text_file)], wordcount)
    urls = [url for _label, _id, replicas in jobdict["inputs"] for url in replicas]
    assert len(urls) == 3
    assert all(u.startswith("file:///") and "#" not in u for u in urls)
    assert "input_ranges" not in jobdata
    chunks = [Path(u[len("file://") :]).read_bytes() for u in urls]
    assert b"".join(chunks) == TEXT.encode()
    assert all(chunk.endswith(b"\n") for chunk in chunks)


def test_a_remote_master_gets_raw_data_only(text_file: Path) -> None:
    runner = MasterRunner("http://disco.invalid:8989", slots=2)
    job = Job(wordcount.stages, map_tasks=2)
    small = text_file.parent / "small.txt"
    small.write_text("a b\nc d\ne f\n")
    jobdict, jobdata = _pack(runner, job, [str(small)], wordcount)
    urls = [url for _label, _id, replicas in jobdict["inputs"] for url in replicas]
    assert urls == ["raw://a b\nc d\n", "raw://e f\n"]
    assert "input_ranges" not in jobdata


def test_slots_come_from_the_master(tmp_path: Path) -> None:
    from pydisco.master import ReferenceMaster

    with ReferenceMaster.start_in_thread(tmp_path / "data", nodes="localhost=3") as master:
        runner = MasterRunner(master.url)
        assert runner.slots_for(wordcount) == 3
        assert runner.slots_for(Job(wordcount.stages, max_cores=2)) == 2
