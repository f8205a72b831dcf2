"""End to end: a real worker subprocess reading every kind of input (facts §4, §6.1)."""

from __future__ import annotations

import gzip
import os

from pydisco.protocol import Fail, Retry

from .conftest import Server
from .scripted_master import PYTHON, Batch, ScriptedMaster, data_input, make_task

BEHAVIOURS = os.path.join(os.path.dirname(__file__), "behaviours.py")


def run_copy(home: str, inputs: list, **kwargs: object):  # type: ignore[no-untyped-def]
    task = kwargs.pop("task", None) or make_task(home)
    master = ScriptedMaster([PYTHON, BEHAVIOURS, "copy"], home, task, inputs=inputs, **kwargs)  # type: ignore[arg-type]
    return master.run()


def output_bytes(home: str, run) -> bytes:  # type: ignore[no-untyped-def]
    (output,) = run.named("OUTPUT")
    with open(os.path.join(home, output.location), "rb") as handle:
        return handle.read()


def assert_done(run) -> None:  # type: ignore[no-untyped-def]
    assert run.protocol_error is None, run.raw
    assert run.closing is not None and run.closing.NAME == "DONE", run.closing
    assert run.returncode == 0


def test_raw_input_is_used_verbatim(home: str) -> None:
    run = run_copy(home, [data_input(0, "raw://hello%20world\n"), data_input(1, "raw://two")])
    assert_done(run)
    assert output_bytes(home, run) == b"hello%20world\ntwo"
    assert [request.ids for request in run.named("INPUT")] == [()]


def test_http_input(home: str, http_server: Server) -> None:
    url = http_server.put("data/a.txt", b"alpha\nbeta\n")
    run = run_copy(home, [data_input(0, url)])
    assert_done(run)
    assert output_bytes(home, run) == b"alpha\nbeta\n"


def test_http_redirect_is_followed(home: str, http_server: Server) -> None:
    http_server.put("target.txt", b"moved here\n")
    run = run_copy(home, [data_input(0, http_server.url("moved/target.txt"))])
    assert_done(run)
    assert output_bytes(home, run) == b"moved here\n"
    assert [path for path, _ in http_server.requests] == ["/moved/target.txt", "/target.txt"]


def test_file_url_and_plain_paths(home: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    absolute = tmp_path / "abs.txt"
    absolute.write_bytes(b"absolute\n")
    with open(os.path.join(home, "relative.txt"), "wb") as handle:
        handle.write(b"relative\n")
    inputs = [
        data_input(0, f"file://{absolute}"),
        data_input(1, "relative.txt"),
        data_input(2, str(absolute)),
        data_input(3, "file://relative.txt"),
    ]
    run = run_copy(home, inputs)
    assert_done(run)
    assert output_bytes(home, run) == b"absolute\nrelative\nabsolute\nrelative\n"


def test_gzip_inputs_over_http_and_file(home: str, http_server: Server) -> None:
    payload = b"".join(b"line %d\n" % number for number in range(5000))
    url = http_server.put("part.gz", gzip.compress(payload))
    with open(os.path.join(home, "local.gz"), "wb") as handle:
        handle.write(gzip.compress(b"local\n") + gzip.compress(b"second member\n"))
    run = run_copy(home, [data_input(0, url), data_input(1, "local.gz")])
    assert_done(run)
    assert output_bytes(home, run) == payload + b"local\nsecond member\n"


def _index(server: Server, lines: list[tuple[int, str, int]]) -> str:
    text = "".join(f"{label} {url} {size}\n" for label, url, size in lines)
    return server.put("disco/nodeB/ab/job/.disco/map-0-1.results", text.encode())


def test_dir_index_filtered_by_label(home: str, http_server: Server) -> None:
    a = http_server.put("disco/nodeB/ab/job/a-1", b"label one A")  # no final newline
    b = http_server.put("disco/nodeB/ab/job/b-2", b"label two\n")
    c = http_server.put("disco/nodeB/ab/job/c-1", b"label one C\n")
    index = _index(http_server, [(1, a, 11), (2, b, 10), (1, c, 12)])
    dir_url = "dir://" + index.removeprefix("http://")
    run = run_copy(home, [data_input(0, dir_url, label=1)])
    assert_done(run)
    assert output_bytes(home, run) == b"label one Alabel one C\n"
    # Files never share a line, even when one lacks its final newline.
    assert "lines 2" in run.msg_texts[0]


def test_dir_index_with_label_all(home: str, http_server: Server) -> None:
    a = http_server.put("disco/nodeB/ab/job/a-1", b"one\n")
    b = http_server.put("disco/nodeB/ab/job/b-2", gzip.compress(b"two\n")).replace("b-2", "b-2")
    os.rename(
        os.path.join(http_server.root, "disco/nodeB/ab/job/b-2"),
        os.path.join(http_server.root, "disco/nodeB/ab/job/b-2.gz"),
    )
    b += ".gz"
    index = _index(http_server, [(1, a, 4), (2, b, 10)])
    # Without a port, dir:// goes to the task's disco_port.
    task = make_task(home, disco_port=http_server.port, grouping="group_all")
    dir_url = "dir://127.0.0.1/" + index.split("/", 3)[3]
    run = run_copy(home, [data_input(0, dir_url, label="all")], task=task)
    assert_done(run)
    assert output_bytes(home, run) == b"one\ntwo\n"


def test_disco_url_local_shortcut_and_over_http(home: str, http_server: Server) -> None:
    task = make_task(home, disco_port=http_server.port)
    local = os.path.join(task.disco_data, "nodeA", "ab", "job", "local-0")
    os.makedirs(os.path.dirname(local))
    with open(local, "wb") as handle:
        handle.write(b"from the local disk\n")
    ddfs = os.path.join(task.ddfs_data, "vol0", "blob", "cd", "blob$1")
    os.makedirs(os.path.dirname(ddfs))
    with open(ddfs, "wb") as handle:
        handle.write(b"from ddfs\n")
    http_server.put("disco/nodeB/ab/job/remote-0", b"over http\n")
    inputs = [
        data_input(0, "disco://nodeA/disco/nodeA/ab/job/local-0"),
        data_input(1, "disco://nodeA/ddfs/vol0/blob/cd/blob$1"),
        data_input(2, "disco://127.0.0.1/disco/nodeB/ab/job/remote-0"),
    ]
    run = run_copy(home, inputs, task=task)
    assert_done(run)
    assert output_bytes(home, run) == b"from the local disk\nfrom ddfs\nover http\n"
    assert [path for path, _ in http_server.requests] == ["/disco/nodeB/ab/job/remote-0"]


def test_disco_url_escaping_the_data_dir_fails_as_error(home: str) -> None:
    secret = os.path.join(home, "secret")
    with open(secret, "wb") as handle:
        handle.write(b"secret\n")
    run = run_copy(home, [data_input(0, "disco://nodeA/disco/../secret")])
    assert run.protocol_error is None
    assert run.closing.NAME == "ERROR"
    assert "'..'" in run.closing.text
    assert len(run.named("INPUT_ERR")) == 1


def test_first_replica_404_falls_back_without_input_err(home: str, http_server: Server) -> None:
    good = http_server.put("good.txt", b"good\n")
    run = run_copy(home, [data_input(0, http_server.url("missing.txt"), good)])
    assert_done(run)
    assert output_bytes(home, run) == b"good\n"
    assert run.named("INPUT_ERR") == []


def test_replica_failing_mid_read_resumes_on_the_next(home: str) -> None:
    payload = b"".join(b"record %06d\n" % number for number in range(200_000))
    packed = gzip.compress(payload)
    with open(os.path.join(home, "truncated.gz"), "wb") as handle:
        handle.write(packed[: len(packed) // 2])
    with open(os.path.join(home, "whole.gz"), "wb") as handle:
        handle.write(packed)
    run = run_copy(home, [data_input(0, "truncated.gz", "whole.gz")])
    assert_done(run)
    assert output_bytes(home, run) == payload


def test_http_failing_mid_stream_resumes_with_range(home: str, http_server: Server) -> None:
    payload = b"".join(b"%07d\n" % number for number in range(200_000))
    http_server.put("flaky/big.txt", payload)
    good = http_server.put("big.txt", payload)
    run = run_copy(home, [data_input(0, http_server.url("flaky/big.txt"), good)])
    assert_done(run)
    assert output_bytes(home, run) == payload
    (first, second) = http_server.requests
    assert first == ("/flaky/big.txt", None)
    assert second[0] == "/big.txt" and second[1] is not None and second[1].startswith("bytes=")
    assert int(second[1][6:-1]) > 0


def test_all_replicas_fail_then_retry_succeeds(home: str, http_server: Server) -> None:
    good = http_server.put("good.txt", b"retried\n")
    seen = []

    def on_input_err(message):  # type: ignore[no-untyped-def]
        seen.append(message)
        from pydisco.protocol import Replica

        return Retry((Replica(5, good),))

    run = run_copy(
        home,
        [data_input(4, http_server.url("a404"), http_server.url("b404"))],
        on_input_err=on_input_err,
    )
    assert_done(run)
    assert output_bytes(home, run) == b"retried\n"
    assert [(m.input_id, m.replica_ids) for m in seen] == [(4, (0, 1))]


def test_all_replicas_fail_then_fail_is_an_error(home: str, http_server: Server) -> None:
    run = run_copy(
        home,
        [data_input(0, http_server.url("nothing-here"))],
        on_input_err=lambda message: Fail(""),
    )
    assert run.protocol_error is None
    assert run.closing.NAME == "ERROR"
    assert "404" in run.closing.text and "nothing-here" in run.closing.text
    assert "Task map:3" in run.closing.text
    assert run.returncode == 1


def test_withheld_input_then_more_then_done(home: str) -> None:
    # Each later batch arrives only after the worker asked for more and was left waiting.
    batches = [
        Batch(0, (data_input(0, "raw://first\n"),), False),
        Batch(1, (data_input(1, "raw://second\n"),), False),
        Batch(2, (data_input(2, "raw://third\n"),), True),
    ]
    master = ScriptedMaster([PYTHON, BEHAVIOURS, "copy"], home, make_task(home), batches=batches)
    run = master.run()
    assert_done(run)
    assert output_bytes(home, run) == b"first\nsecond\nthird\n"
    assert run.withheld == 2
    requests = [request.ids for request in run.named("INPUT")]
    assert requests[0] == ()
    assert requests[-1] == (0, 1)
    assert all(set(ids) <= {0, 1} for ids in requests)
    # Each input is read once.
    lines = "\n".join(run.msg_texts).splitlines()
    assert sorted(line.split()[1] for line in lines) == ["0", "1", "2"]
