"""Reading results as data (facts §5.2, §6.1, §12.5) from a real ``http.server`` on loopback."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pydisco.client import (
    AsyncResultReader,
    Master,
    ResultReader,
    ResultsError,
    data_url,
    parse_index,
)
from pydisco.resultsindex import IndexLineError


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/broken/"):
            # Promise more than is sent, then hang up: a replica failing mid-stream.
            body = (Path(self.directory) / self.path[len("/broken/") :]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + 100))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    root = tmp_path / "www"
    root.mkdir()

    def handler(*args: object, **kwargs: object) -> _Handler:
        return _Handler(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", httpd.server_address[1], root
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def reader(server: tuple[str, int, Path]) -> Iterator[ResultReader]:
    with httpx.Client() as client:
        yield ResultReader(client, data_port=server[1])


def _index(root: Path, name: str, lines: list[tuple[int, str, int]]) -> str:
    (root / name).write_text("".join(f"{label} {url} {size}\n" for label, url, size in lines))
    return name


def test_data_url_maps_disco_and_dir_to_the_data_port() -> None:
    assert (
        data_url("disco://node1/disco/node1/ab/j/f", 8989) == "http://node1:8989/disco/node1/ab/j/f"
    )
    assert data_url("dir://node1/x.results", 1234) == "http://node1:1234/x.results"
    assert data_url("http://a:5/x", 1) == "http://a:5/x"


def test_parse_index_rejects_damaged_lines() -> None:
    assert parse_index(b"0 disco://h/a 5\n\n2 disco://h/b 7\n", "u") == [
        (0, "disco://h/a", 5),
        (2, "disco://h/b", 7),
    ]
    with pytest.raises(IndexLineError, match="Line 1"):
        parse_index(b"zero disco://h/a\n", "u")


def test_dir_index_with_several_labels(server: tuple[str, int, Path], reader: ResultReader) -> None:
    host, port, root = server
    for label in range(3):
        (root / f"part-{label}").write_bytes(f"label {label} a\nlabel {label} b\n".encode())
    _index(root, "job.results", [(n, f"disco://{host}/part-{n}", 16) for n in range(3)])
    entries = [[f"dir://{host}/job.results"]]
    assert reader.deref(entries).__next__() == [f"http://{host}:{port}/part-0"]
    assert list(reader.iter_lines(entries, labels=[2, 0])) == [
        b"label 0 a\n",
        b"label 0 b\n",
        b"label 2 a\n",
        b"label 2 b\n",
    ]
    assert len(list(reader.iter_lines(entries))) == 6
    assert list(reader.iter_lines(entries, labels=[7])) == []


def test_first_replica_fails_the_next_one_is_used(
    server: tuple[str, int, Path], reader: ResultReader
) -> None:
    host, port, root = server
    (root / "data").write_bytes(b"x" * 1000 + b"\nend\n")
    replicas = [f"http://{host}:{port}/missing", f"http://{host}:{port}/data"]
    assert b"".join(reader.read(replicas)) == b"x" * 1000 + b"\nend\n"
    # A dir index whose first replica is missing.
    _index(root, "ok.results", [(0, f"http://{host}:{port}/data", 1005)])
    entries = [[f"dir://{host}/gone.results", f"dir://{host}/ok.results"]]
    assert b"".join(reader.iter_chunks(entries)).endswith(b"end\n")


def test_replica_failing_mid_stream_resumes_without_repeating(
    server: tuple[str, int, Path], reader: ResultReader
) -> None:
    host, port, root = server
    body = b"".join(b"line %d\n" % i for i in range(5000))
    (root / "big").write_bytes(body)
    replicas = [f"http://{host}:{port}/broken/big", f"http://{host}:{port}/big"]
    assert b"".join(reader.read(replicas)) == body


def test_every_replica_failing_names_them_all(
    server: tuple[str, int, Path], reader: ResultReader
) -> None:
    host, port, _root = server
    replicas = [f"http://{host}:{port}/a", f"disco://{host}/b"]
    with pytest.raises(ResultsError) as info:
        list(reader.read(replicas))
    assert len(info.value.attempts) == 2 and "404" in str(info.value)


def test_gzip_data_is_decompressed(server: tuple[str, int, Path], reader: ResultReader) -> None:
    host, _port, root = server
    text = b"".join(b"word%d\t%d\n" % (i, i) for i in range(20000))
    # Two gzip members, as concatenated .gz files are.
    (root / "part.gz").write_bytes(gzip.compress(text[:1000]) + gzip.compress(text[1000:]))
    _index(root, "gz.results", [(0, f"disco://{host}/part.gz", len(text))])
    lines = list(reader.iter_lines([[f"dir://{host}/gz.results"]]))
    assert b"".join(lines) == text and lines[0] == b"word0\t0\n"


def test_truncated_gzip_is_an_error(server: tuple[str, int, Path], reader: ResultReader) -> None:
    host, port, root = server
    (root / "cut.gz").write_bytes(gzip.compress(b"a" * 10000)[:-12])
    with pytest.raises(ResultsError, match="gzip"):
        list(reader.read([f"http://{host}:{port}/cut.gz"]))


def test_raw_and_file_schemes(tmp_path: Path, reader: ResultReader) -> None:
    local = tmp_path / "local.txt"
    local.write_bytes(b"from disk\n")
    entries = [["raw://inline data"], [f"file://{local}"], [str(local)]]
    assert list(reader.iter_lines(entries)) == [b"inline data", b"from disk\n", b"from disk\n"]
    with pytest.raises(ResultsError, match="scheme"):
        list(reader.read(["ftp://x/y"]))


def test_tag_results_are_explained(reader: ResultReader) -> None:
    with pytest.raises(ResultsError, match="DDFS"):
        list(reader.deref([["tag://disco:results:J@1"]]))


def test_master_reads_results_through_its_own_port(server: tuple[str, int, Path]) -> None:
    host, port, root = server
    (root / "r").write_bytes(b"one\ntwo\n")
    _index(root, "m.results", [(0, f"disco://{host}/r", 8)])
    with Master(f"http://{host}:{port}") as master:
        entries = [[f"dir://{host}/m.results"]]
        assert master.result_urls(entries) == [[f"http://{host}:{port}/r"]]
        assert list(master.iter_result_lines(entries)) == [b"one\n", b"two\n"]


def test_constant_memory_streaming(server: tuple[str, int, Path], reader: ResultReader) -> None:
    host, port, root = server
    (root / "huge").write_bytes(b"z" * (8 << 20))
    sizes = [len(chunk) for chunk in reader.read([f"http://{host}:{port}/huge"])]
    assert sum(sizes) == 8 << 20 and max(sizes) <= 1 << 20


def test_async_reader_follows_the_same_rules(server: tuple[str, int, Path]) -> None:
    host, port, root = server
    text = b"".join(b"row %d\n" % i for i in range(3000))
    (root / "a.gz").write_bytes(gzip.compress(text))
    (root / "b").write_bytes(b"label one\n")
    (root / "big").write_bytes(text)
    _index(root, "x.results", [(0, f"disco://{host}/a.gz", 1), (1, f"disco://{host}/b", 1)])
    entries = [
        [f"dir://{host}/gone.results", f"dir://{host}/x.results"],
        [f"http://{host}:{port}/broken/big", f"http://{host}:{port}/big"],
        ["raw://inline"],
    ]

    async def scenario() -> tuple[Any, ...]:
        async with httpx.AsyncClient() as client:
            reader = AsyncResultReader(client, data_port=port)
            urls = await reader.deref(entries)
            labelled = [line async for line in reader.iter_lines(entries[:1], labels=[1])]
            data = b"".join([chunk async for chunk in reader.iter_chunks(entries)])
            try:
                [c async for c in reader.read([f"http://{host}:{port}/nope"])]
            except ResultsError as exc:
                failed = exc
            return urls, labelled, data, failed

    urls, labelled, data, failed = asyncio.run(scenario())
    assert urls[0] == [f"http://{host}:{port}/a.gz"] and urls[-1] == ["raw://inline"]
    assert labelled == [b"label one\n"]
    assert data == text + b"label one\n" + text + b"inline"
    assert "404" in str(failed)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A self-signed certificate for 127.0.0.1 (made with ``openssl``): cert and key in one PEM."""
    directory = tmp_path_factory.mktemp("tls")
    pem = directory / "server.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(pem), "-out", str(directory / "cert.pem"),
            "-subj", "/CN=pydisco client test", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    pem.write_bytes(pem.read_bytes() + (directory / "cert.pem").read_bytes())
    return str(pem)


def test_https_replicas_are_verified_and_fall_back(
    server: tuple[str, int, Path], certificate: str
) -> None:
    _host, _port, root = server
    (root / "secure").write_bytes(b"over tls\n")

    def handler(*args: object, **kwargs: object) -> _Handler:
        return _Handler(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{httpd.server_address[1]}/secure"
    try:
        trusting = ssl.create_default_context(cafile=certificate)
        with httpx.Client(verify=trusting) as client:
            assert b"".join(ResultReader(client, data_port=1).read([url])) == b"over tls\n"
        # A client that does not trust the certificate refuses the replica and uses the next.
        with httpx.Client() as client:
            reader = ResultReader(client, data_port=1)
            assert b"".join(reader.read([url, "raw://fallback"])) == b"fallback"
            with pytest.raises(ResultsError) as info:
                list(reader.read([url]))
            assert "certificate" in str(info.value).lower()
    finally:
        httpd.shutdown()
        httpd.server_close()
