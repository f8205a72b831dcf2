"""The token rules of ddfs facts §1.6, row by row, over real HTTP."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.ddfs.conftest import basic, fresh


def make_tag(http: httpx.Client, read: str | None, write: str | None) -> str:
    """A tag with the given tokens (set through the API, read token last)."""
    name = fresh("tok")
    http.post(f"/ddfs/tag/{name}", content='[["u"]]')
    if write is not None:
        http.put(f"/ddfs/tag/{name}/ddfs:write-token", content=f'"{write}"')
    if read is not None:
        headers = basic(write) if write is not None else {}
        reply = http.put(f"/ddfs/tag/{name}/ddfs:read-token", content=f'"{read}"', headers=headers)
        assert reply.status_code == 200
    return name


def headers_for(token: str | None) -> dict[str, str]:
    return {} if token is None else basic(token)


# Row 1: a write is allowed when P passes W (W null, or P = W).
@pytest.mark.parametrize(
    ("read", "write", "given", "allowed"),
    [
        (None, None, None, True),
        (None, None, "any", True),
        ("r", None, None, True),  # a read token alone does not protect writes
        (None, "w", "w", True),
        (None, "w", None, False),
        (None, "w", "x", False),
        ("r", "w", "r", False),
        ("w", "w", "w", True),
    ],
)
def test_write_rule(
    http: httpx.Client, read: str | None, write: str | None, given: str | None, allowed: bool
) -> None:
    name = make_tag(http, read, write)
    headers = headers_for(given)
    replies = [
        http.post(f"/ddfs/tag/{name}", content='[["v"]]', headers=headers),
        http.put(f"/ddfs/tag/{name}", content='[["v"]]', headers=headers),
        http.put(f"/ddfs/tag/{name}/a", content='"b"', headers=headers),
        http.delete(f"/ddfs/tag/{name}/a", headers=headers),
    ]
    for reply in replies:
        expected = 200 if allowed else 401
        assert reply.status_code == expected, reply.text
        if not allowed:
            assert reply.text == "Incorrect or missing token."
    deleted = http.delete(f"/ddfs/tag/{name}", headers=headers)
    assert deleted.status_code == (200 if allowed else 401)


# Rows 2-4: reads, and the privilege a read gets (reading ddfs:write-token needs "write").
@pytest.mark.parametrize(
    ("read", "write", "given", "privilege"),
    [
        # row 2: P passes R; write privilege if W is null or W = R
        (None, None, None, "write"),
        ("r", None, "r", "write"),
        ("r", "r", "r", "write"),
        ("r", "w", "r", "read"),
        (None, "w", None, "read"),
        (None, "w", "x", "read"),
        # row 3: P fails R, W is not null and P = W
        ("r", "w", "w", "write"),
        # row 4: otherwise refused
        ("r", "w", "x", None),
        ("r", "w", None, None),
        ("r", None, None, None),
        ("r", None, "x", None),
    ],
)
def test_read_rules(
    http: httpx.Client,
    read: str | None,
    write: str | None,
    given: str | None,
    privilege: str | None,
) -> None:
    name = make_tag(http, read, write)
    headers = headers_for(given)
    tag = http.get(f"/ddfs/tag/{name}", headers=headers)
    attr = http.get(f"/ddfs/tag/{name}/ddfs:read-token", headers=headers)
    secret = http.get(f"/ddfs/tag/{name}/ddfs:write-token", headers=headers)
    if privilege is None:
        assert [r.status_code for r in (tag, attr, secret)] == [401, 401, 401]
        return
    assert tag.status_code == 200
    assert "read-token" not in tag.json() and "write-token" not in tag.json()
    assert attr.json() == read
    if privilege == "write":
        assert secret.json() == write
    else:
        assert (secret.status_code, secret.text) == (401, "Incorrect or missing token.")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer r",  # another scheme: no token
        "basic " + base64.b64encode(b"token:r").decode(),  # the scheme is case-sensitive
        "Basic " + base64.b64encode(b"user:r").decode(),  # not the user "token"
    ],
)
def test_headers_that_present_no_token(http: httpx.Client, header: str) -> None:
    name = make_tag(http, "r", None)
    assert http.get(f"/ddfs/tag/{name}", headers={"Authorization": header}).status_code == 401
    open_tag = make_tag(http, None, None)
    assert http.get(f"/ddfs/tag/{open_tag}", headers={"Authorization": header}).status_code == 200


def test_the_empty_token_is_not_no_token(http: httpx.Client) -> None:
    name = make_tag(http, "", None)
    assert http.get(f"/ddfs/tag/{name}").status_code == 401
    assert http.get(f"/ddfs/tag/{name}", headers=basic("")).status_code == 200
    assert http.get(f"/ddfs/tag/{name}/ddfs:read-token", headers=basic("")).json() == ""


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", "", "[]"), ("PUT", "", "[]"), ("PUT", "/attr", '"v"')],
)
def test_atomic_creation_sets_both_tokens(
    http: httpx.Client, method: str, path: str, body: str
) -> None:
    name = fresh("atomic")
    reply = http.request(method, f"/ddfs/tag/{name}{path}", content=body, headers=basic("s"))
    assert reply.status_code == 200
    assert http.get(f"/ddfs/tag/{name}").status_code == 401  # put(tag, [], token='s')
    assert http.get(f"/ddfs/tag/{name}/ddfs:write-token", headers=basic("s")).json() == "s"
    assert http.get(f"/ddfs/tag/{name}/ddfs:read-token", headers=basic("s")).json() == "s"
    assert http.post(f"/ddfs/tag/{name}", content="[]").status_code == 401


def test_creation_without_a_token_leaves_tokens_null(http: httpx.Client) -> None:
    name = fresh("open")
    http.post(f"/ddfs/tag/{name}", content="[]")
    assert http.get(f"/ddfs/tag/{name}/ddfs:write-token").json() is None
    assert http.get(f"/ddfs/tag/{name}/ddfs:read-token").json() is None


def test_only_a_read_token_lets_anyone_write_even_the_token(http: httpx.Client) -> None:
    name = make_tag(http, "r", None)
    assert http.get(f"/ddfs/tag/{name}").status_code == 401
    assert http.put(f"/ddfs/tag/{name}/ddfs:read-token", content='"mine"').status_code == 200
    assert http.get(f"/ddfs/tag/{name}", headers=basic("mine")).status_code == 200


def test_only_a_write_token_lets_anyone_read(http: httpx.Client) -> None:
    name = make_tag(http, None, "w")
    assert http.get(f"/ddfs/tag/{name}").json()["urls"] == [["u"]]
    assert http.post(f"/ddfs/tag/{name}", content='[["x"]]').status_code == 401


def test_deleting_a_token_sets_it_back_to_null(http: httpx.Client) -> None:
    name = make_tag(http, "r", "w")
    assert http.delete(f"/ddfs/tag/{name}/ddfs:read-token", headers=basic("w")).json() == "deleted"
    assert http.get(f"/ddfs/tag/{name}").status_code == 200
    http.delete(f"/ddfs/tag/{name}/ddfs:write-token", headers=basic("w"))
    assert http.post(f"/ddfs/tag/{name}", content="[]").status_code == 200


def test_a_missing_tag_passes_any_token(http: httpx.Client) -> None:
    name = fresh("missing")
    assert http.get(f"/ddfs/tag/{name}", headers=basic("x")).status_code == 404
    assert http.delete(f"/ddfs/tag/{name}", headers=basic("x")).json() == "deleted"


def test_tokens_are_compared_exactly(http: httpx.Client) -> None:
    name = make_tag(http, "sécret", None)
    assert http.get(f"/ddfs/tag/{name}", headers=basic("sécret")).status_code == 200
    for near in ("Sécret", "sécre", "sécret ", "secret"):
        assert http.get(f"/ddfs/tag/{name}", headers=basic(near)).status_code == 401
