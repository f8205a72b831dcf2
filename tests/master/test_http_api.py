"""The HTTP API driven the way Disco's own Python client drives it (plain httpx and sockets)."""

from __future__ import annotations

import http.client
import json
import os
import socket

import httpx
import pytest
from yarl import URL

from pydisco.master import ReferenceMaster
from tests.master.helpers import events, make_pack, submit, wait


def raw_request(port: int, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send exact request bytes (no client-side path normalisation); status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            head_bytes, sep, rest = data.partition(b"\r\n\r\n")
            length = [
                int(line.split(b":")[1])
                for line in head_bytes.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            ]
            if sep and length and len(rest) >= length[0]:
                break  # a server may keep reading an unwanted body; the reply is complete
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def get(url: str, path: str, **kw):
    return httpx.get(f"{url}{path}", timeout=30, **kw)


def post(url: str, path: str, body, **kw):
    return httpx.post(f"{url}{path}", content=json.dumps(body), timeout=30, **kw)


def test_client_flow(reference_master, tmp_path):
    url = reference_master.url
    version = get(url, "/disco/version")
    assert version.json() == "0.5.4"
    assert version.headers["content-type"].startswith("application/json")

    pack = make_pack(tmp_path, "wordcount.sh", inputs=[[0, 0, ["raw://a b c"]]])
    name = submit(url, pack)
    assert name.startswith("Test@")
    mega, secs, micros = name.split("@")[1].split(":")
    assert all(int(x, 16) >= 0 for x in (mega, secs, micros))
    status, results = wait(url, name)
    assert status == "ready"
    assert results and results[0][0].startswith("dir://localhost/disco/localhost/")

    # get_results: request order, unknown jobs, results only when ready
    reply = post(url, "/disco/ctrl/get_results", [10, [name, "nosuch@1:2:3"]]).json()
    assert reply == [[name, ["ready", results]], ["nosuch@1:2:3", ["unknown job", []]]]

    # joblist: newest first
    second = submit(url, pack)
    wait(url, second)
    listing = get(url, "/disco/ctrl/joblist").json()
    assert [row[2] for row in listing] == [second, name]
    assert all(isinstance(row[0], int) and row[1] == "ready" for row in listing)

    # jobinfo: keys in Disco's order, flattened results
    info = get(url, "/disco/ctrl/jobinfo", params={"name": name}).json()
    assert list(info) == [
        "timestamp", "active", "pipeline", "results", "inputs", "worker", "hosts", "owner",
    ]  # fmt: skip
    assert info["active"] == "ready"
    assert info["pipeline"] == [["map", 0, 0, 0, 1, 0]]
    assert info["results"] == [r for replicas in results for r in replicas]
    assert info["inputs"] == ["raw://a b c"]
    assert info["worker"] == "wordcount.sh" and info["owner"] == "tester@localhost"
    assert get(url, "/disco/ctrl/jobinfo", params={"name": "nosuch"}).status_code == 404

    # parameters: the pack as submitted
    params = get(url, "/disco/ctrl/parameters", params={"name": name})
    assert params.status_code == 200 and params.content == pack

    # rawevents polled with Range offsets, as core.Disco.events() does
    whole = get(url, "/disco/ctrl/rawevents", params={"name": name})
    assert whole.status_code == 200
    lines = whole.text.splitlines()
    assert all(len(json.loads(line)) == 3 for line in lines)
    offset = len(lines[0]) + 1
    rest = get(url, "/disco/ctrl/rawevents", params={"name": name},
               headers={"Range": f"bytes={offset}-"})  # fmt: skip
    assert rest.status_code == 206 and rest.text == whole.text[offset:]
    at_eof = get(url, "/disco/ctrl/rawevents", params={"name": name},
                 headers={"Range": f"bytes={len(whole.content)}-"})  # fmt: skip
    assert at_eof.status_code == 200 and at_eof.content == whole.content  # Disco's EOF quirk

    # jobevents: newest first, num, filter, empty body when nothing matches. As on the
    # real master, each line is spliced in as raw JSON (facts §9.2 correction): the body
    # is "[" + the lines, each still ending in "\n", joined by "," + "]".
    newest = get(url, "/disco/ctrl/jobevents", params={"name": name, "num": "2"})
    assert newest.headers["content-type"] == "text/plain"
    file_lines = whole.text.splitlines(keepends=True)
    assert newest.text == "[" + ",".join([file_lines[-1], file_lines[-2]]) + "]"
    two = json.loads(newest.text)
    assert len(two) == 2 and two[0][1] == "master" and two[0][2].startswith("READY: Job done")
    ready_reply = get(url, "/disco/ctrl/jobevents", params={"name": name, "filter": "ready:"})
    assert ready_reply.headers["content-type"] == "text/plain"
    ready = json.loads(ready_reply.text)
    assert len(ready) == 1 and ready[0] == json.loads(file_lines[-1])
    none = get(url, "/disco/ctrl/jobevents", params={"name": name, "filter": "zzzz"})
    assert none.status_code == 200 and none.text == ""

    # stage results
    stage = get(url, "/disco/ctrl/get_stageresults", params={"name": name, "stage": "map"})
    assert stage.json() == results
    assert get(url, "/disco/ctrl/get_stageresults",
               params={"name": name, "stage": "nope"}).status_code == 404  # fmt: skip
    assert get(url, "/disco/ctrl/get_stageresults", params={"name": name}).status_code == 400


def test_invalid_packs(reference_master):
    url = reference_master.url
    reply = httpx.post(f"{url}/disco/job/new", content=b"not a job pack at all", timeout=30)
    assert reply.status_code == 200
    assert reply.json() == ["error", 'Job failed to start: "invalid header"']


def test_settings_and_tables(reference_master):
    url = reference_master.url
    assert get(url, "/disco/ctrl/get_settings").json() == {
        "max_failure_rate": 100,
        "accept_new_jobs": 1,
    }
    unknown = post(url, "/disco/ctrl/save_settings", {"max_failure_rate": "10", "other": 1})
    assert unknown.status_code == 400 and "'other'" in unknown.json()  # Disco ignores it
    saved = post(
        url, "/disco/ctrl/save_settings", {"max_failure_rate": "10", "accept_new_jobs": "0"}
    )
    assert saved.json() == "Settings saved"
    assert get(url, "/disco/ctrl/get_settings").json() == {
        "max_failure_rate": 10,
        "accept_new_jobs": 0,
    }
    refused = httpx.post(f"{url}/disco/job/new", content=b"x", timeout=30)
    assert refused.status_code == 403
    assert refused.text == "No new jobs should be submitted to this cluster."
    bad = post(url, "/disco/ctrl/save_settings", {"max_failure_rate": 10})
    assert bad.status_code == 400 and isinstance(bad.json(), str)

    table = post(url, "/disco/ctrl/save_config_table", [["node01:03", "2"], ["other", "1"]])
    assert table.json() == "table saved!"
    assert get(url, "/disco/ctrl/load_config_table").json() == [["node01:03", "2"], ["other", "1"]]
    nodes = get(url, "/disco/ctrl/nodeinfo").json()
    assert sorted(nodes) == ["node01", "node02", "node03", "other"]
    assert nodes["node02"]["max_workers"] == 2 and nodes["node02"]["blacklisted"] is False
    dup = post(url, "/disco/ctrl/save_config_table", [["node01:02", "1"], ["node02", "1"]])
    assert dup.status_code == 400 and dup.json() == "duplicate nodes"
    invalid = post(url, "/disco/ctrl/save_config_table", [["node01", 3]])
    assert invalid.status_code == 400 and invalid.json() == "invalid config"

    assert post(url, "/disco/ctrl/blacklist", "node02").json() == ""
    assert post(url, "/disco/ctrl/blacklist", "unknown-host").json() == ""
    assert get(url, "/disco/ctrl/get_blacklist").json() == ["node02"]
    assert get(url, "/disco/ctrl/nodeinfo").json()["node02"]["blacklisted"] is True
    post(url, "/disco/ctrl/whitelist", "node02")
    assert get(url, "/disco/ctrl/get_blacklist").json() == []
    post(url, "/disco/ctrl/gc_blacklist", "node03")
    assert get(url, "/disco/ctrl/get_gc_blacklist").json() == ["node03"]
    post(url, "/disco/ctrl/gc_whitelist", "node03")
    assert get(url, "/disco/ctrl/get_gc_blacklist").json() == []


def test_bad_requests(reference_master):
    url = reference_master.url
    for op in ("kill_job", "clean_job", "purge_job", "blacklist"):
        reply = post(url, f"/disco/ctrl/{op}", ["not", "a", "string"])
        assert reply.status_code == 400
        assert reply.json().startswith("string expected")
    bad_json = httpx.post(f"{url}/disco/ctrl/kill_job", content=b"{nope", timeout=30)
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()
    assert post(url, "/disco/ctrl/get_results", "x").status_code == 400
    assert get(url, "/disco/ctrl/no_such_op").status_code == 404
    assert post(url, "/disco/ctrl/kill_job", "nosuch@1:2:3").json() == ""
    assert get(url, "/disco/ctrl/jobinfo").status_code == 400
    assert get(url, "/nothing/here").status_code == 404


def test_data_serving_and_traversal(reference_master):
    url, port, data = reference_master.url, reference_master.port, reference_master.data_dir
    target = data / "localhost" / "ab" / "job"
    target.mkdir(parents=True)
    (target / "file").write_bytes(b"0123456789")
    os.symlink("/etc/passwd", target / "escape")
    whole = get(url, "/disco/localhost/ab/job/file")
    assert whole.status_code == 200 and whole.content == b"0123456789"
    assert whole.headers["content-type"] == "application/octet-stream"
    part = get(url, "/disco/localhost/ab/job/file", headers={"Range": "bytes=2-4"})
    assert part.status_code == 206 and part.content == b"234"
    assert part.headers["content-range"] == "bytes 2-4/10"
    past = get(url, "/disco/localhost/ab/job/file", headers={"Range": "bytes=50-"})
    assert past.status_code == 200 and past.content == b"0123456789"
    assert get(url, "/disco/localhost/ab/job").status_code == 403
    assert get(url, "/disco/localhost/ab/job/missing").status_code == 404
    assert get(url, "/disco/localhost/ab/job/escape").status_code == 404
    for path in (
        "/disco/../../etc/passwd",
        "/disco/%2e%2e/%2e%2e/etc/passwd",
        "/disco/localhost/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/disco//etc/passwd",
        "/disco/%2fetc%2fpasswd",
        "/disco/localhost/ab/job/..%2f..%2f..%2f..%2fetc%2fpasswd",
    ):
        status, body = raw_request(port, f"GET {path} HTTP/1.0\r\nHost: x\r\n")
        assert status == 404, path
        assert b"root:" not in body


def test_oversize_bodies(tmp_path):
    with ReferenceMaster.start_in_thread(tmp_path / "data", max_jobpack_bytes=1000) as master:
        declared = httpx.post(f"{master.url}/disco/job/new", content=b"x" * 1001, timeout=30)
        assert declared.status_code == 413 and declared.text == "Job packet too large"

        def chunks():
            for _ in range(20):
                yield b"y" * 100

        streamed = httpx.post(f"{master.url}/disco/job/new", content=chunks(), timeout=30)
        assert streamed.status_code == 413
        assert not list((master.state.root / "tmp").iterdir())


def test_one_gib_limit_from_content_length(reference_master):
    status, body = raw_request(
        reference_master.port,
        "POST /disco/job/new HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Content-Length: {(1 << 30) + 1}\r\n",
    )
    assert status == 413 and body == b"Job packet too large"


def test_token_required_off_loopback(tmp_path):
    with pytest.raises(Exception, match="allow"):
        ReferenceMaster(tmp_path / "d", host="0.0.0.0")
    with pytest.raises(Exception, match="token"):
        ReferenceMaster(tmp_path / "d", host="0.0.0.0", allow_remote=True)
    with ReferenceMaster.start_in_thread(
        tmp_path / "data", host="0.0.0.0", allow_remote=True, token="s3cret"
    ) as master:
        local = f"http://127.0.0.1:{master.port}"
        assert get(local, "/disco/version").json() == "0.5.4"
        assert get(local, "/disco/ctrl/joblist").json() == []
        denied = post(local, "/disco/ctrl/kill_job", "x")
        assert denied.status_code == 401 and "token" in denied.json()
        assert httpx.post(f"{local}/disco/job/new", content=b"x", timeout=30).status_code == 401
        wrong = post(local, "/disco/ctrl/kill_job", "x", headers={"X-Disco-Token": "nope"})
        assert wrong.status_code == 401
        good = post(local, "/disco/ctrl/kill_job", "x", headers={"Authorization": "Bearer s3cret"})
        assert good.status_code == 200 and good.json() == ""
        also = post(local, "/disco/ctrl/blacklist", "x", headers={"X-Disco-Token": "s3cret"})
        assert also.status_code == 200
        results = post(local, "/disco/ctrl/get_results", [0, ["x"]])
        assert results.json() == [["x", ["unknown job", []]]]


def test_events_of_a_job(reference_master, tmp_path):
    name = submit(reference_master.url, make_pack(tmp_path, "wordcount.sh"))
    wait(reference_master.url, name)
    log = events(reference_master.url, name)
    assert log[:3] == ["New job initialized!", f'Created job "{name}"',
                       "Stage map scheduled with 1 tasks"]  # fmt: skip
    assert "map:0 assigned to localhost" in log
    assert "SYS: [map:0] Received results from localhost" in log
    assert any(m.startswith("DONE: [map:0] Task finished in 0:00:") for m in log)
    assert any(m.startswith("Stage map finished in ") for m in log)


def test_head_on_data(reference_master):
    target = reference_master.data_dir / "localhost" / "x"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"abc")
    reply = httpx.head(f"{reference_master.url}/disco/localhost/x", timeout=30)
    assert reply.status_code == 200 and reply.headers["content-length"] == "3"


def _raw_request(port: int, method: str, path: str) -> tuple[int, str, bytes]:
    """``method path`` sent exactly as written (no client normalises it)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=b'"x"' if method == "POST" else None)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/disco/version", 200, b'"0.5.4"'),
        ("POST", "/disco/version", 404, b"Not found."),  # a wrong method: Disco's 404, not 405
        ("HEAD", "/disco/version", 404, b""),  # HEAD is data serving: no file "version"
        ("GET", "/disco/job/x", 404, b"Not found."),
        ("PUT", "/disco/ctrl/joblist", 404, b"Not found."),
        ("GET", "/disco/ctrl/kill_job", 404, b"Not found."),
        ("GET", "/disco/ctrl/nosuch", 404, b"Not found."),
        ("GET", "/disco/ctrl/joblist/", 404, b"Not found."),
        ("GET", "/nothing", 404, b"Not found."),
        ("DELETE", "/disco/x", 404, b"Not found."),
        # The path is matched decoded, as mochiweb hands it to Disco.
        ("GET", "/disco/ctrl/job%6Cist", 200, b"[]"),
    ],
)
def test_routes_answer_as_disco(reference_master, method, path, status, body):
    got_status, content_type, got_body = _raw_request(reference_master.port, method, path)
    assert (got_status, got_body) == (status, body)
    if status == 404 and method != "HEAD":
        assert content_type == "text/plain"


def test_every_endpoint_has_a_named_route(reference_master):
    from pydisco.master.web import Api, make_app

    api = Api(reference_master.state)
    router = make_app(reference_master.state).router
    names = {"version", "new_job", "ctrl", "ddfs", "data", "not_found"}
    assert names | set(api.get_ops) | set(api.post_ops) <= set(router)
    assert router["joblist"].url_for() == URL("/disco/ctrl/joblist")
    assert router["new_job"].url_for(name="x") == URL("/disco/job/x")
