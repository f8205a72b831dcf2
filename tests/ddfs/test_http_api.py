"""Every DDFS endpoint of ddfs facts §2 and its error replies, over real HTTP on a real master."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from pydisco.master import ReferenceMaster
from tests.ddfs.conftest import basic, fresh, push_blob

TS = r"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"


def rel(url: str) -> str:
    """The path of a ``disco://`` URL."""
    return urlsplit(url).path


# -- new_blob (§2.3) -------------------------------------------------------------------------------


def test_new_blob_gives_one_upload_url_with_a_fresh_timestamp(
    ddfs_master: Any, http: httpx.Client
) -> None:
    first = http.get("/ddfs/new_blob/abc")
    second = http.get("/ddfs/new_blob/abc")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/json")
    port = ddfs_master.master.settings.put_port
    (url,) = first.json()
    assert re.fullmatch(rf"http://localhost:{port}/ddfs/abc\${TS}", url)
    assert second.json() != first.json()


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/ddfs/new_blob/a$b", 403, "Invalid tag"),
        ("/ddfs/new_blob/a%20b", 403, "Invalid tag"),
        ("/ddfs/new_blob/" + "x" * 512, 403, "Invalid tag"),
        ("/ddfs/new_blob/" + "x" * 201, 403, "Invalid prefix: longer than 200 characters."),
        ("/ddfs/new_blob/a?replicas=2", 403, "Not enough nodes for replicas."),
        ("/ddfs/new_blob/a?exclude=localhost", 403, "Not enough nodes for replicas."),
        ("/ddfs/new_blob/a?replicas=two", 400, "non-negative integer"),
        ("/ddfs/new_blob/a?include=nowhere", 400, "Unknown host 'nowhere' in 'include'"),
        ("/ddfs/new_blob/a?exclude=nowhere", 400, "Unknown host 'nowhere' in 'exclude'"),
        ("/ddfs/new_blob/a?include=", 400, "Unknown host '' in 'include'"),
    ],
)
def test_new_blob_refusals(http: httpx.Client, path: str, status: int, text: str) -> None:
    reply = http.get(path)
    assert reply.status_code == status
    assert text in reply.text


def test_new_blob_replicas_zero_and_include(http: httpx.Client) -> None:
    assert http.get("/ddfs/new_blob/a?replicas=0").json() == []
    (url,) = http.get("/ddfs/new_blob/a?include=localhost&replicas=1").json()
    assert "//localhost:" in url


# -- the upload port (§2.8) -----------------------------------------------------------------------


def test_upload_answers_201_and_the_blob_url(ddfs_master: Any, http: httpx.Client) -> None:
    (target,) = http.get("/ddfs/new_blob/up").json()
    reply = httpx.put(target, content=b"data\n")
    assert reply.status_code == 201
    assert reply.headers["content-type"].startswith("application/json")
    url = reply.json()
    objname = target.rsplit("/", 1)[1]
    assert re.fullmatch(
        rf"disco://localhost/ddfs/vol0/blob/[0-9a-f]{{2}}/{re.escape(objname)}", url
    )
    on_disk = ddfs_master.master.settings.ddfs_root / rel(url).removeprefix("/ddfs/")
    assert on_disk.read_bytes() == b"data\n"
    assert on_disk.stat().st_mode & 0o777 == 0o400


def test_upload_refusals(ddfs_master: Any, http: httpx.Client) -> None:
    (target,) = http.get("/ddfs/new_blob/twice").json()
    base = target.rsplit("/ddfs/", 1)[0]
    first = httpx.put(target, content=b"1")
    assert first.status_code == 201
    again = httpx.put(target, content=b"2")
    assert again.status_code == 409
    assert "already exists" in again.text
    bad = httpx.put(f"{base}/ddfs/no-timestamp", content=b"x")
    assert (bad.status_code, bad.text) == (403, "Invalid blob name")
    bad = httpx.put(f"{base}/ddfs/a$zz-1-2", content=b"x")
    assert (bad.status_code, bad.text) == (403, "Invalid blob name")
    assert httpx.get(target).status_code == 501
    assert httpx.put(f"{base}/other/x$1-2-3", content=b"x").status_code == 404
    assert http.get(rel(first.json())).content == b"1"  # the first upload is intact


def test_upload_size_cap(tmp_path: Path) -> None:
    with ReferenceMaster.start_in_thread(
        tmp_path / "data", nodes="localhost=1", ddfs_max_blob_bytes=10
    ) as master:
        (target,) = httpx.get(master.url + "/ddfs/new_blob/big").json()
        reply = httpx.put(target, content=b"x" * 11)
        assert reply.status_code == 413
        assert "at most 10 bytes" in reply.text
        streamed = httpx.put(target, content=iter([b"x" * 6, b"y" * 6]))  # chunked: no length
        assert streamed.status_code == 413
        assert httpx.put(target, content=b"x" * 10).status_code == 201
        blob_dir = master.master.settings.ddfs_root / "vol0" / "blob"
        assert not [p for p in blob_dir.rglob("!partial*")]


def test_too_many_uploads_at_once_answer_503(tmp_path: Path) -> None:
    with ReferenceMaster.start_in_thread(
        tmp_path / "data", nodes="localhost=1", ddfs_max_uploads=1
    ) as master:
        (first, second) = (httpx.get(master.url + "/ddfs/new_blob/slow").json()[0] for _ in "12")
        parts = urlsplit(first)
        blob_dir = master.master.settings.ddfs_root / "vol0" / "blob"
        with socket.create_connection(("127.0.0.1", parts.port or 0), timeout=30) as sock:
            head = f"PUT {parts.path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\n"
            sock.sendall(head.encode() + b"ab")
            while not list(blob_dir.rglob("!partial-*")):  # the first upload has started
                time.sleep(0.01)
            busy = httpx.put(second, content=b"x")
            assert (busy.status_code, busy.text) == (
                503,
                "Maximum number of uploaders reached. Try again later",
            )
            sock.sendall(b"cd")
            reply = b""
            while b'"disco://' not in reply and (chunk := sock.recv(4096)):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 201")
        assert httpx.put(second, content=b"x").status_code == 201


def test_a_busy_upload_port_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    from pydisco.master import ConfigError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match="--put-port"):
            ReferenceMaster.start_in_thread(tmp_path / "data", put_port=port)


# -- files on the master (§2.6) -------------------------------------------------------------------


def test_blob_get_with_ranges_and_head(http: httpx.Client) -> None:
    url = push_blob(http, "ranged", b"0123456789")
    whole = http.get(rel(url))
    assert (whole.status_code, whole.content) == (200, b"0123456789")
    part = http.get(rel(url), headers={"Range": "bytes=2-4"})
    assert (part.status_code, part.content) == (206, b"234")
    assert part.headers["content-range"] == "bytes 2-4/10"
    client_range = http.get(rel(url), headers={"Range": "bytes=0-10485759"})
    assert client_range.status_code in (200, 206)
    assert client_range.content == b"0123456789"
    head = http.head(rel(url))
    assert (head.status_code, head.headers["content-length"]) == (200, "10")


def test_empty_blob_is_read_with_the_clients_range(http: httpx.Client) -> None:
    url = push_blob(http, "empty", b"")
    reply = http.get(rel(url), headers={"Range": "bytes=0-10485759"})
    assert reply.status_code in (200, 206)  # never 416
    assert reply.content == b""


def test_tag_files_are_never_served(http: httpx.Client) -> None:
    name = fresh()
    (version,) = http.put(f"/ddfs/tag/{name}", content="[]", headers=basic("s")).json()
    assert re.fullmatch(rf"disco://localhost/ddfs/vol0/tag/[0-9a-f]{{2}}/{name}\${TS}", version)
    reply = http.get(rel(version))
    assert reply.status_code == 403
    assert "write-token" not in reply.text
    assert http.head(rel(version)).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/ddfs/vol0/blob/../tag",
        "/ddfs/vol0/blob/%2e%2e/x$1-2-3",
        "/ddfs/vol0/blob/zz/nothing$1-2-3",
        "/ddfs/vol0/blob",
        "/ddfs/vol0/blob/ab/!partial-1-2-3.x$1-2-3",
        "/ddfs/vol9/blob/ab/x$1-2-3",
        "/ddfs/unknown",
    ],
)
def test_file_paths_that_are_not_blobs_are_not_found(http: httpx.Client, path: str) -> None:
    reply = http.get(path)
    assert (reply.status_code, reply.text) == (404, "Not found.")


def test_other_methods_on_unknown_paths(http: httpx.Client) -> None:
    assert http.post("/ddfs/vol0/blob/ab/x$1-2-3", content=b"").status_code == 404
    assert http.put("/ddfs/new_blob/x", content=b"").status_code == 404
    assert http.post("/ddfs/tags", content=b"").status_code == 404


# -- tags (§2.4) -----------------------------------------------------------------------------------


def test_tag_get_shape_and_key_order(http: httpx.Client) -> None:
    name = fresh()
    versions = http.post(f"/ddfs/tag/{name}", content='[["u1"],["u2","u3"]]').json()
    reply = http.get(f"/ddfs/tag/{name}")
    assert reply.headers["content-type"].startswith("application/json")
    assert list(reply.json()) == ["version", "id", "last-modified", "urls", "user-data"]
    tag = reply.json()
    assert tag["version"] == 1
    assert re.fullmatch(rf"{name}\${TS}", tag["id"])
    assert versions == [
        f"disco://localhost/ddfs/vol0/tag/{rel(versions[0]).split('/')[4]}/{tag['id']}"
    ]
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d", tag["last-modified"])
    assert tag["urls"] == [["u1"], ["u2", "u3"]]
    assert tag["user-data"] == {}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "text"),
    [
        ("GET", "/ddfs/tag/never-made", None, 404, "Tag not found."),
        ("GET", "/ddfs/tag/bad$name", None, 403, "Invalid tag"),
        ("GET", "/ddfs/tag/" + "n" * 512, None, 403, "Invalid tag"),
        ("POST", "/ddfs/tag/bad%20name", "[]", 403, "Invalid tag"),
        ("POST", "/ddfs/tag/{t}", "not json", 403, "Invalid request body."),
        ("POST", "/ddfs/tag/{t}", '{"a": 1}', 403, "Invalid url object"),
        ("POST", "/ddfs/tag/{t}", '["u"]', 403, "Invalid url object"),
        ("POST", "/ddfs/tag/{t}", "[[1]]", 403, "Invalid url object"),
        ("PUT", "/ddfs/tag/{t}", '"u"', 403, "Invalid attribute key or value"),
        ("PUT", "/ddfs/tag/{t}", "nope", 403, "Invalid request body."),
        ("PUT", "/ddfs/tag/{t}/a", "1", 403, "Invalid attribute key or value"),
        ("PUT", "/ddfs/tag/{t}/ddfs:urls", '["u"]', 403, "Invalid attribute key or value"),
        ("PUT", "/ddfs/tag/{t}/ddfs:read-token", "null", 403, "Invalid attribute key or value"),
        ("PUT", "/ddfs/tag/{t}/ddfs:other", '"v"', 404, "Tag attribute not found."),
        ("PUT", "/ddfs/tag/{t}/a", json.dumps("v" * 4095), 403, "Attribute value too big."),
        ("PUT", "/ddfs/tag/{t}/" + "a" * 1025, '"v"', 403, "Attribute name too big."),
        ("GET", "/ddfs/tag/{t}/missing", None, 404, "Tag attribute not found."),
        ("GET", "/ddfs/tag/{t}/ddfs:other", None, 404, "Tag attribute not found."),
        ("GET", "/ddfs/tag/{t}/" + "a" * 1025, None, 403, "Attribute name too big."),
        ("DELETE", "/ddfs/tag/never-made/a", None, 404, "Tag attribute not found."),
        ("DELETE", "/ddfs/tag/{t}/ddfs:other", None, 404, "Tag attribute not found."),
        ("POST", "/ddfs/tag/{t}/attr", "[]", 404, "Not found."),
    ],
)
def test_tag_refusals(
    http: httpx.Client, method: str, path: str, body: str | None, status: int, text: str
) -> None:
    name = fresh()
    http.post(f"/ddfs/tag/{name}", content="[]")
    before = http.get(f"/ddfs/tag/{name}").json()
    reply = http.request(method, path.format(t=name), content=body)
    assert (reply.status_code, reply.text) == (status, text)
    assert http.get(f"/ddfs/tag/{name}").json() == before  # a refusal changes nothing


def test_malformed_basic_credentials_are_refused_not_crashed(http: httpx.Client) -> None:
    reply = http.get("/ddfs/tag/whatever", headers={"Authorization": "Basic %%%"})
    assert reply.status_code == 401
    assert "not valid base64" in reply.text


def test_oversized_tag_body_is_refused_before_it_is_read(ddfs_master: Any) -> None:
    with socket.create_connection(("127.0.0.1", ddfs_master.port), timeout=30) as sock:
        sock.sendall(
            b"POST /ddfs/tag/huge HTTP/1.1\r\nHost: x\r\nContent-Length: 600000000\r\n\r\n["
        )
        received = b""
        while not received.endswith(b"Invalid request.") and (chunk := sock.recv(4096)):
            received += chunk
    head = received.decode()
    assert head.startswith("HTTP/1.1 403")
    assert head.endswith("Invalid request.")


def test_attributes(http: httpx.Client) -> None:
    name = fresh()
    assert http.put(f"/ddfs/tag/{name}/a1", content='"v1"').status_code == 200
    http.put(f"/ddfs/tag/{name}/a2", content='"v2"')
    http.put(f"/ddfs/tag/{name}/a1", content='"v3"')  # keeps its place
    assert http.put(f"/ddfs/tag/{name}/big", content=json.dumps("x" * 4094)).status_code == 200
    http.delete(f"/ddfs/tag/{name}/big")
    assert http.get(f"/ddfs/tag/{name}").json()["user-data"] == {"a1": "v3", "a2": "v2"}
    assert http.get(f"/ddfs/tag/{name}/a1").json() == "v3"
    assert http.get(f"/ddfs/tag/{name}/a/b").status_code == 404  # attribute "a/b"
    assert http.get(f"/ddfs/tag/{name}/").json()["id"].startswith(name)  # trailing slash: tag
    http.put(f"/ddfs/tag/{name}/ddfs:urls", content='[["x"]]')
    assert http.get(f"/ddfs/tag/{name}/ddfs:urls").json() == [["x"]]
    assert http.get(f"/ddfs/tag/{name}/ddfs:read-token").json() is None
    assert http.get(f"/ddfs/tag/{name}/ddfs:write-token").json() is None
    assert http.delete(f"/ddfs/tag/{name}/gone").json() == "deleted"  # absent: still fine
    assert http.delete(f"/ddfs/tag/{name}/a2").json() == "deleted"
    assert http.delete(f"/ddfs/tag/{name}/ddfs:urls").json() == "deleted"
    tag = http.get(f"/ddfs/tag/{name}").json()
    assert (tag["urls"], tag["user-data"]) == ([], {"a1": "v3"})


def test_too_many_attributes(tmp_path: Path) -> None:
    """A full tag refuses a new attribute (403 ``Too many attributes``); replacing or
    deleting one still works (Disco refuses the replacement too)."""
    with (
        ReferenceMaster.start_in_thread(
            tmp_path / "data", nodes="localhost=1", ddfs_max_attributes=2
        ) as master,
        httpx.Client(base_url=master.url) as client,
    ):
        assert client.put("/ddfs/tag/full/a", content=b'"1"').status_code == 200
        assert client.put("/ddfs/tag/full/b", content=b'"2"').status_code == 200
        refused = client.put("/ddfs/tag/full/c", content=b'"3"')
        assert (refused.status_code, refused.text) == (403, "Too many attributes")
        assert client.put("/ddfs/tag/full/a", content=b'"one"').status_code == 200
        assert client.delete("/ddfs/tag/full/b").json() == "deleted"
        assert client.put("/ddfs/tag/full/c", content=b'"3"').status_code == 200
        assert client.get("/ddfs/tag/full").json()["user-data"] == {"a": "one", "c": "3"}


def test_attribute_put_creates_the_tag(http: httpx.Client) -> None:
    name = fresh()
    assert http.put(f"/ddfs/tag/{name}/k", content='"v"').status_code == 200
    assert http.get(f"/ddfs/tag/{name}").json()["user-data"] == {"k": "v"}


def test_a_big_tag_reads_back_whole(http: httpx.Client) -> None:
    name = fresh("big")
    sets = [[f"disco://localhost/ddfs/vol0/blob/ab/b{n}$1-2-3"] for n in range(25_000)]
    assert len(json.dumps(sets)) > 1 << 20  # decoded and encoded off the event loop
    assert http.put(f"/ddfs/tag/{name}", content=json.dumps(sets)).status_code == 200
    assert http.get(f"/ddfs/tag/{name}").json()["urls"] == sets
    assert http.get(f"/ddfs/tag/{name}/ddfs:urls").json() == sets


def test_tag_put_replaces_and_always_writes_a_version(http: httpx.Client) -> None:
    name = fresh()
    first = http.put(f"/ddfs/tag/{name}", content='[["a"]]').json()
    second = http.put(f"/ddfs/tag/{name}", content='[["a"]]').json()
    assert first != second
    http.put(f"/ddfs/tag/{name}", content='[["b"],["c"]]')
    assert http.get(f"/ddfs/tag/{name}").json()["urls"] == [["b"], ["c"]]


def test_delete_tag(http: httpx.Client) -> None:
    name = fresh()
    http.post(f"/ddfs/tag/{name}", content='[["a"]]')
    reply = http.delete(f"/ddfs/tag/{name}")
    assert (reply.status_code, reply.json()) == (200, "deleted")
    assert (http.get(f"/ddfs/tag/{name}").status_code) == 404
    assert http.delete(f"/ddfs/tag/{fresh()}").json() == "deleted"  # a missing tag too


# -- listings (§2.5) -------------------------------------------------------------------------------


def test_tag_listing(http: httpx.Client) -> None:
    for name in ("lst:b", "lst:a", "lst:B", "lst:a:x", "other-lst"):
        http.post(f"/ddfs/tag/{name}", content="[]")
    http.delete("/ddfs/tag/lst:a:x")
    assert http.get("/ddfs/tags/lst:").json() == ["lst:B", "lst:a", "lst:b"]
    assert http.get("/ddfs/tags/lst:a").json() == ["lst:a"]
    assert http.get("/ddfs/tags//lst:a//").json() == ["lst:a"]
    everything = http.get("/ddfs/tags").json()
    assert {"lst:a", "other-lst"} <= set(everything)
    assert everything == sorted(everything, key=lambda n: n.encode())
    assert http.get("/ddfs/tags/").json() == everything
    assert http.get("/ddfs/tagslst").status_code == 404  # Disco filters on "lst" (§7.9)


# -- ctrl (§2.7) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("gc_status", ""),
        ("gc_stats", ""),
        ("gc_start", "GC has started"),
        ("safe_gc_blacklist", []),
    ],
)
def test_gc_stubs(http: httpx.Client, op: str, value: Any) -> None:
    assert http.get(f"/ddfs/ctrl/{op}").json() == value
    assert http.post(f"/ddfs/ctrl/{op}", content=b"").json() == value


def test_hosted_tags(http: httpx.Client) -> None:
    name = fresh()
    http.post(f"/ddfs/tag/{name}", content="[]")
    assert name in http.post("/ddfs/ctrl/hosted_tags", content='"localhost"').json()
    unknown = http.post("/ddfs/ctrl/hosted_tags", content='"nowhere"')
    assert unknown.status_code == 404
    assert "Unknown host" in unknown.text
    assert http.post("/ddfs/ctrl/hosted_tags", content="no").status_code == 403
    assert http.get("/ddfs/ctrl/unknown").status_code == 404


# -- persistence -----------------------------------------------------------------------------------


def test_tags_and_blobs_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ReferenceMaster.start_in_thread(data, nodes="localhost=1") as master:
        http = httpx.Client(base_url=master.url)
        url = push_blob(http, "kept", b"kept\n")
        http.post("/ddfs/tag/keep", content=json.dumps([[url]]), headers=basic("k"))
        http.put("/ddfs/tag/keep/a", content='"b"', headers=basic("k"))
        before = http.get("/ddfs/tag/keep", headers=basic("k")).json()
        http.close()
    with (
        ReferenceMaster.start_in_thread(data, nodes="localhost=1") as master,
        httpx.Client(base_url=master.url) as http,
    ):
        assert http.get("/ddfs/tag/keep").status_code == 401
        assert http.get("/ddfs/tag/keep", headers=basic("k")).json() == before
        assert http.get(rel(url)).content == b"kept\n"
    versions = list((Path(str(data) + "-ddfs") / "vol0" / "tag").rglob("keep$*"))
    assert len(versions) == 1  # only the latest version is kept
