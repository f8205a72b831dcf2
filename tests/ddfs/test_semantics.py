"""Tag changes (ddfs facts §1.2, §1.7, §2.4): append, update, delayed, no-op ids, deletion."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.ddfs.conftest import basic, fresh, push_blob


def urls_of(http: httpx.Client, name: str) -> list[list[str]]:
    value: list[list[str]] = http.get(f"/ddfs/tag/{name}").json()["urls"]
    return value


def tag_id(http: httpx.Client, name: str) -> str:
    value: str = http.get(f"/ddfs/tag/{name}").json()["id"]
    return value


def post(http: httpx.Client, name: str, sets: object, **query: str) -> httpx.Response:
    params = {"delayed": query.get("delayed", ""), "update": query.get("update", "")}
    return http.post(f"/ddfs/tag/{name}", params=params, content=json.dumps(sets))


def test_append_puts_new_sets_first_in_request_order(http: httpx.Client) -> None:
    name = fresh()
    post(http, name, [["a"], ["b"]])
    post(http, name, [["c"], ["d"]])
    assert urls_of(http, name) == [["c"], ["d"], ["a"], ["b"]]


def test_an_empty_post_creates_a_missing_tag_and_changes_nothing_after(http: httpx.Client) -> None:
    name = fresh()
    created = post(http, name, [])
    assert created.status_code == 200
    first = tag_id(http, name)
    again = post(http, name, [])
    assert tag_id(http, name) == first
    assert again.json() == created.json()  # the current version's URLs


@pytest.mark.parametrize("delayed", ["", "1"])
def test_update_skips_sets_whose_key_the_tag_holds(http: httpx.Client, delayed: str) -> None:
    name = fresh()
    blobs = [push_blob(http, "same", b"x"), push_blob(http, "same", b"y")]
    for _ in range(5):
        reply = post(http, name, [[blobs[0]], [blobs[1]]], update="1", delayed=delayed)
        assert reply.status_code == 200
    assert urls_of(http, name) == [[blobs[0]]]
    other = push_blob(http, "other", b"z")
    before = tag_id(http, name)
    post(http, name, [[blobs[1]]], update="1", delayed=delayed)
    assert tag_id(http, name) == before  # nothing added: same id
    post(http, name, [[other], [blobs[1]]], update="1", delayed=delayed)
    assert urls_of(http, name) == [[other], [blobs[0]]]


def test_update_adds_in_reverse_order_and_keys_tags_and_blobs(http: httpx.Client) -> None:
    name = fresh()
    post(http, name, [["tag://x"]])
    sets = [["tag://x"], ["tag://y"], ["disco://h/ddfs/vol0/blob/ab/p$1-2-3"], ["tag://y"]]
    post(http, name, sets, update="1")
    assert urls_of(http, name) == [
        ["disco://h/ddfs/vol0/blob/ab/p$1-2-3"],
        ["tag://y"],
        ["tag://x"],
    ]


def test_update_keys_blobs_on_two_character_hosts(http: httpx.Client) -> None:
    # Disco's key regex breaks on two-character host names (facts §7.8); here it does not.
    name = fresh()
    first = "disco://n1/ddfs/vol0/blob/ab/book$1-2-3"
    second = "disco://n2/ddfs/vol0/blob/cd/book$4-5-6"
    post(http, name, [[first]], update="1")
    post(http, name, [[second]], update="1")
    assert urls_of(http, name) == [[first]]


def test_update_always_adds_sets_without_a_key_and_empty_sets(http: httpx.Client) -> None:
    name = fresh()
    post(http, name, [["http://plain/file"]], update="1")
    reply = post(http, name, [["http://plain/file"], []], update="1")
    assert reply.status_code == 200  # Disco's tag process crashes on [[]] and hangs (§7.7)
    assert urls_of(http, name) == [[], ["http://plain/file"], ["http://plain/file"]]


def test_delayed_updates_are_visible_when_answered(http: httpx.Client) -> None:
    name = fresh()
    post(http, name, [["a"]])
    post(http, name, [["b"]], delayed="1")
    post(http, name, [["c"]], delayed="1")
    assert urls_of(http, name) == [["c"], ["b"], ["a"]]


def test_every_change_writes_a_new_id(http: httpx.Client) -> None:
    name = fresh()
    post(http, name, [])
    seen = {tag_id(http, name)}
    for change in (
        lambda: post(http, name, [["a"]]),
        lambda: http.put(f"/ddfs/tag/{name}", content='[["a"]]'),
        lambda: http.put(f"/ddfs/tag/{name}/k", content='"v"'),
        lambda: http.put(f"/ddfs/tag/{name}/k", content='"v"'),
        lambda: http.delete(f"/ddfs/tag/{name}/absent"),
    ):
        assert change().status_code == 200
        seen.add(tag_id(http, name))
    assert len(seen) == 6


def test_deletion_and_re_creation(http: httpx.Client) -> None:
    name = fresh()
    post(http, name, [["a"]])
    http.put(f"/ddfs/tag/{name}/k", content='"v"', headers=basic("old"))
    http.put(f"/ddfs/tag/{name}/ddfs:write-token", content='"old"', headers=basic("old"))
    assert http.delete(f"/ddfs/tag/{name}").status_code == 401
    assert http.delete(f"/ddfs/tag/{name}", headers=basic("old")).json() == "deleted"
    assert (http.get(f"/ddfs/tag/{name}").status_code, http.get(f"/ddfs/tag/{name}").text) == (
        404,
        "Tag not found.",
    )
    assert name not in http.get("/ddfs/tags").json()
    # Anyone may re-create it, with their own token; it starts empty.
    post_reply = http.post(f"/ddfs/tag/{name}", content='[["b"]]', headers=basic("new"))
    assert post_reply.status_code == 200
    tag = http.get(f"/ddfs/tag/{name}", headers=basic("new")).json()
    assert (tag["urls"], tag["user-data"]) == ([["b"]], {})
    assert http.get(f"/ddfs/tag/{name}").status_code == 401
    assert name in http.get("/ddfs/tags").json()


def test_deleting_a_tag_keeps_its_blobs(http: httpx.Client) -> None:
    name = fresh()
    url = push_blob(http, "kept", b"still here")
    post(http, name, [[url]])
    http.delete(f"/ddfs/tag/{name}")
    path = url.split("//", 1)[1].split("/", 1)[1]
    assert http.get(f"/{path}").content == b"still here"


def test_a_self_linking_tag_is_stored(http: httpx.Client) -> None:
    name = fresh()
    assert post(http, name, [[f"tag://{name}"]]).status_code == 200
    assert urls_of(http, name) == [[f"tag://{name}"]]
