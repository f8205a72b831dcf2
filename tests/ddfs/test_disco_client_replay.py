"""Replay of the HTTP a Disco 0.5.4 ``disco.ddfs.DDFS`` client sends, checked byte for byte.

Disco's client is not installed here, so this test sends what it sends (ddfs facts
§4.2-4.3): ``http.client.HTTPConnection.request(method, "/" + path, body, headers)``
with only Disco's own headers (``Authorization: Basic base64("token:" + T)``,
``Range`` in ``exists``), JSON bodies from Python's ``json.dumps`` (``", "``
separators), ``new_blob/<name>?`` with its empty query, ``tag()``'s
``?delayed=&update=`` query. Every reply's status and body are compared with the
reply the facts sheet documents (compact JSON, Disco's texts), the variable parts
(timestamps, hash directories, dates) checked by their rules.

The session is what ``ddfs -t s3cret`` (both tokens ``s3cret``) and then a client
without a token do: push, push again with ``update``, get, attributes, tokens,
list, exists, delete, re-creation, and an OOB-style ``delayed`` append.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import socket
from typing import Any
from urllib.parse import urlsplit

from tests.ddfs.conftest import fresh

TS = r"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"
DATE = r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d"
TOKEN = "s3cret"
#: What ``comm.auth_header("s3cret")`` sends.
AUTH = {"Authorization": "Basic dG9rZW46czNjcmV0"}


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    netloc: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request as ``disco.comm.request`` makes it: a fresh ``HTTPConnection`` each time."""
    conn = http.client.HTTPConnection(netloc, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def hh(objname: str) -> str:
    return hashlib.md5(objname.encode()).hexdigest()[:2]


def assert_json_ok(reply: Reply, pattern: str, status: int = 200) -> re.Match[bytes]:
    """A JSON success reply whose exact bytes match ``pattern`` (a regex over the body)."""
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["Content-Type"].startswith("application/json")
    match = re.fullmatch(pattern.encode(), reply.body)
    assert match is not None, reply.body
    return match


def assert_error(reply: Reply, status: int, text: str) -> None:
    """A refusal: Disco's status and exact plain-text body."""
    assert (reply.status, reply.body) == (status, text.encode())


def version_reply(reply: Reply, tag: str) -> str:
    """A list of one tag-version URL ``disco://<host>/ddfs/vol0/tag/<hh>/<tag>$<ts>``: its id."""
    match = assert_json_ok(
        reply, rf'\["disco://localhost/ddfs/vol0/tag/([0-9a-f]{{2}})/({re.escape(tag)}\${TS})"\]'
    )
    tag_id = match.group(2).decode()
    assert match.group(1).decode() == hh(tag_id)
    return tag_id


def push(master: str, tag: str, name: str, data: bytes, query: str, auth: dict[str, str]) -> str:
    """``DDFS.push(tag, [(BytesIO(data), name)], ...)``: new_blob, PUT, tag POST; the blob URL."""
    reply = send(master, "GET", f"/ddfs/new_blob/{name}?", headers=auth)
    match = assert_json_ok(reply, rf'\["http://localhost:(\d+)/ddfs/({re.escape(name)}\${TS})"\]')
    (target,) = reply.json()
    objname = match.group(2).decode()
    parts = urlsplit(target)
    uploaded = send(parts.netloc, "PUT", parts.path, data, auth)
    assert_json_ok(
        uploaded,
        rf'"disco://localhost/ddfs/vol0/blob/{hh(objname)}/{re.escape(objname)}"',
        status=201,
    )
    blob_url = uploaded.json()
    body = json.dumps([[blob_url]]).encode()
    version_reply(send(master, "POST", f"/ddfs/tag/{tag}?{query}", body, auth), tag)
    assert isinstance(blob_url, str)
    return blob_url


def test_a_disco_client_session_byte_for_byte(ddfs_master: Any) -> None:
    master = urlsplit(ddfs_master.url).netloc
    tag = fresh("data:notes")

    # push with -t s3cret: the tag is created with both tokens s3cret (atomic creation).
    first = push(master, tag, "notes", b"remember the milk\n", "delayed=&update=", AUTH)
    tag_url = f"/ddfs/tag/{tag}"
    got = send(master, "GET", tag_url, headers=AUTH)
    match = assert_json_ok(
        got,
        rf'\{{"version":1,"id":"({re.escape(tag)}\${TS})","last-modified":"{DATE}",'
        rf'"urls":\[\["{re.escape(first)}"\]\],"user-data":\{{\}}\}}',
    )
    tag_id = match.group(1).decode()

    # push(..., update=True) of a blob with the same prefix adds nothing: the same id.
    (target,) = send(master, "GET", "/ddfs/new_blob/notes?", headers=AUTH).json()
    parts = urlsplit(target)
    again = send(parts.netloc, "PUT", parts.path, b"again\n", AUTH).json()
    body = json.dumps([[again]]).encode()
    posted = send(master, "POST", f"{tag_url}?delayed=&update=1", body, AUTH)
    assert version_reply(posted, tag) == tag_id
    # A plain append puts the new set first; json.dumps' ", " separators are fine.
    body = json.dumps([[again], ["tag://other"]]).encode()
    appended = version_reply(send(master, "POST", f"{tag_url}?delayed=&update=", body, AUTH), tag)
    assert appended != tag_id
    assert send(master, "GET", f"{tag_url}/ddfs:urls", headers=AUTH).body == (
        json.dumps([[again], ["tag://other"], [first]], separators=(",", ":")).encode()
    )

    # Attributes: setattr (a JSON string body), getattr, attrs, delattr.
    version_reply(send(master, "PUT", f"{tag_url}/owner", b'"me"', AUTH), tag)
    version_reply(send(master, "PUT", f"{tag_url}/color", b'"blue"', AUTH), tag)
    version_reply(send(master, "PUT", f"{tag_url}/owner", b'"you"', AUTH), tag)
    assert_json_ok(send(master, "GET", f"{tag_url}/owner", headers=AUTH), '"you"')
    assert re.search(
        rb'"user-data":\{"owner":"you","color":"blue"\}\}$',
        send(master, "GET", tag_url, headers=AUTH).body,
    )
    assert_json_ok(send(master, "DELETE", f"{tag_url}/color", headers=AUTH), '"deleted"')
    assert_json_ok(send(master, "DELETE", f"{tag_url}/absent", headers=AUTH), '"deleted"')
    assert_error(
        send(master, "GET", f"{tag_url}/color", headers=AUTH), 404, "Tag attribute not found."
    )
    assert_error(
        send(master, "PUT", f"{tag_url}/ddfs:other", b'"x"', AUTH), 404, "Tag attribute not found."
    )
    assert_error(
        send(master, "PUT", f"{tag_url}/owner", b"[1]", AUTH), 403, "Invalid attribute key or value"
    )

    # Tokens: the tag is protected, so a client without one is refused...
    assert_error(send(master, "GET", tag_url), 401, "Incorrect or missing token.")
    assert_error(
        send(master, "POST", f"{tag_url}?delayed=&update=", b"[]"),
        401,
        "Incorrect or missing token.",
    )
    # ... but exists() (a ranged GET without a token) takes 401 as "exists".
    exists = send(master, "GET", tag_url, headers={"Range": "bytes=0-10485759"})
    assert exists.status == 401
    assert_json_ok(send(master, "GET", f"{tag_url}/ddfs:write-token", headers=AUTH), f'"{TOKEN}"')
    # chtok -r: a read token of its own; its holder reads but may not see the write token.
    version_reply(send(master, "PUT", f"{tag_url}/ddfs:read-token", b'"r"', AUTH), tag)
    reader = {"Authorization": "Basic " + base64.b64encode(b"token:r").decode()}
    assert send(master, "GET", tag_url, headers=reader).status == 200
    assert_json_ok(send(master, "GET", f"{tag_url}/ddfs:read-token", headers=reader), '"r"')
    assert_error(
        send(master, "GET", f"{tag_url}/ddfs:write-token", headers=reader),
        401,
        "Incorrect or missing token.",
    )

    # list(prefix) and list().
    assert_json_ok(send(master, "GET", f"/ddfs/tags/{tag}"), re.escape(json.dumps([tag])))
    assert tag in send(master, "GET", "/ddfs/tags/").json()

    # An OOB-style delayed update (Task.put) is answered with the new version.
    delayed = json.dumps([[first]]).encode()
    version_reply(send(master, "POST", f"{tag_url}?delayed=1&update=", delayed, AUTH), tag)

    # delete: "deleted"; then the tag is gone from GET, exists() and list().
    assert_error(send(master, "DELETE", tag_url), 401, "Incorrect or missing token.")
    assert_json_ok(send(master, "DELETE", tag_url, headers=AUTH), '"deleted"')
    assert_error(send(master, "GET", tag_url, headers=AUTH), 404, "Tag not found.")
    gone = send(master, "GET", tag_url, headers={"Range": "bytes=0-10485759"})
    assert_error(gone, 404, "Tag not found.")
    assert_json_ok(send(master, "GET", f"/ddfs/tags/{tag}"), re.escape("[]"))
    assert_error(
        send(master, "DELETE", f"{tag_url}/owner", headers=AUTH), 404, "Tag attribute not found."
    )
    assert_json_ok(send(master, "DELETE", tag_url), '"deleted"')  # a missing tag: still "deleted"

    # Re-created by a client without a token: a fresh tag, open to all, no old attributes.
    second = push(master, tag, "notes", b"new\n", "delayed=&update=", {})
    assert_json_ok(
        send(master, "GET", tag_url),
        rf'\{{"version":1,"id":"{re.escape(tag)}\${TS}","last-modified":"{DATE}",'
        rf'"urls":\[\["{re.escape(second)}"\]\],"user-data":\{{\}}\}}',
    )
    assert_json_ok(send(master, "GET", f"{tag_url}/ddfs:write-token"), "null")
    assert_json_ok(send(master, "GET", f"/ddfs/tags/{tag}"), re.escape(json.dumps([tag])))


def test_a_pycurl_upload_waits_for_100_continue(ddfs_master: Any) -> None:
    """With pycurl installed, Disco's client uploads with ``Expect: 100-continue`` (curl's
    default for a large PUT) and sends the body only after the interim reply."""
    master = urlsplit(ddfs_master.url).netloc
    (target,) = send(master, "GET", "/ddfs/new_blob/curl?").json()
    parts = urlsplit(target)
    body = b"x" * 70_000
    head = (
        f"PUT {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: */*\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=60) as sock:
        sock.sendall(head.encode())
        interim = sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
        sock.sendall(body)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.endswith(b'"'):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 201 Created"
    url = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert url.startswith("disco://localhost/ddfs/vol0/blob/")
    assert send(master, "GET", urlsplit(url).path).body == body
