"""The DDFS client (sync and async) and ``discotool ddfs``, against a real master."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pydisco.cli.main import cli
from pydisco.client import DDFS, AsyncDDFS, DdfsRequestError, InvalidTag
from tests.ddfs.conftest import fresh

BOOK = "".join(f"line {n} of the book\n" for n in range(200))


@pytest.fixture(scope="module")
def ddfs(ddfs_master: Any) -> Any:
    with DDFS(ddfs_master.url) as client:
        yield client


def test_push_get_read_and_attributes(ddfs: DDFS, tmp_path: Path) -> None:
    name = fresh("push")
    (tmp_path / "a.txt").write_bytes(b"aaa\n")
    versions, sets = ddfs.push(name, [tmp_path / "a.txt", (b"", "empty"), (b"bbb", "b b")])
    assert versions and len(sets) == 3
    assert [s[0].rsplit("/", 1)[1].split("$")[0] for s in sets] == ["a_txt", "empty", "b_b"]
    assert ddfs.urls(name) == sets
    assert [ddfs.read(s) for s in ddfs.blobs(f"tag://{name}")] == [b"aaa\n", b"", b"bbb"]
    ddfs.setattr(name, "k", "v")
    assert ddfs.attrs(name) == {"k": "v"}
    assert ddfs.getattr(name, "k") == "v"
    assert ddfs.getattr(name, "ddfs:write-token") is None
    ddfs.delattr(name, "k")
    assert ddfs.attrs(name) == {}
    assert name in ddfs.list(name[:5])


def test_update_push_adds_a_name_once(ddfs: DDFS) -> None:
    name = fresh("once")
    for _ in range(3):
        ddfs.push(name, [(b"x", "same"), (b"y", "same")], update=True)
    assert len(ddfs.urls(name)) == 1
    ddfs.push(fresh("empty"), [], update=True)


def test_tokens_from_arguments_urls_and_the_environment(
    ddfs: DDFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = fresh("secret")
    ddfs.put(name, [["u"]], token="s")
    assert ddfs.exists(name)  # a 401 counts as existing
    with pytest.raises(DdfsRequestError) as refused:
        ddfs.get(name)
    assert refused.value.status == 401
    assert "--ddfs-token" in str(refused.value)
    assert ddfs.urls(f"tag://user:s@/{name}") == [["u"]]
    assert ddfs.urls(name, token="s") == [["u"]]
    monkeypatch.setenv("DDFS_READ_TOKEN", "s")
    assert ddfs.urls(name) == [["u"]]
    with pytest.raises(DdfsRequestError):
        ddfs.tag(name, [["v"]])  # writes use DDFS_WRITE_TOKEN
    monkeypatch.setenv("DDFS_WRITE_TOKEN", "s")
    ddfs.tag(name, [["v"]])
    assert ddfs.urls(name) == [["v"], ["u"]]
    ddfs.delete(name)
    assert not ddfs.exists(name)


def test_missing_tags_and_bad_names(ddfs: DDFS) -> None:
    with pytest.raises(DdfsRequestError) as missing:
        ddfs.get("never-there")
    assert missing.value.status == 404
    assert "discotool ddfs ls" in str(missing.value)
    assert ddfs.blobs("never-there") == []
    with pytest.raises(DdfsRequestError):
        ddfs.blobs("never-there", ignore_missing=False)
    with pytest.raises(DdfsRequestError):
        ddfs.expand("tag://never-there")
    with pytest.raises(InvalidTag):
        ddfs.get("no/slashes")


def test_blobs_walk_linked_tags_once_even_in_cycles(ddfs: DDFS) -> None:
    leaf, meta = fresh("leaf"), fresh("meta")
    _, sets = ddfs.push(leaf, [(b"1", "one")])
    ddfs.tag(meta, [[f"tag://{leaf}"], [f"tag://{meta}"], ["tag://missing-child"]])
    assert ddfs.blobs(meta) == sets
    assert ddfs.expand(meta) == sets


def test_chunk_keeps_lines_whole_and_in_order(ddfs: DDFS, tmp_path: Path) -> None:
    path = tmp_path / "book.txt"
    path.write_text(BOOK)
    name = fresh("book")
    sets = ddfs.chunk(name, path, chunk_size=500)
    assert len(sets) > 3
    pieces = [ddfs.read(s) for s in ddfs.blobs(name)]
    assert b"".join(pieces).decode() == BOOK
    assert all(p.endswith(b"\n") for p in pieces)


def test_gc_controls(ddfs: DDFS) -> None:
    assert ddfs.gc_status() == ""
    assert ddfs.gc_start() == "GC has started"


def test_async_client(ddfs_master: Any, tmp_path: Path) -> None:
    path = tmp_path / "book.txt"
    path.write_text(BOOK)
    name = fresh("async")

    async def scenario() -> list[Any]:
        async with AsyncDDFS(ddfs_master.url) as client:
            await client.chunk(name, path, chunk_size=1000)
            await client.push(name, [(b"tail", "tail")])
            await client.setattr(name, "a", "b")
            data = b"".join([await client.read(s) for s in await client.blobs(name)])
            exists = await client.exists(name)
            attrs = await client.attrs(name)
            await client.delete(name)
            return [data, exists, attrs, await client.exists(name), await client.list(name)]

    data, exists, attrs, after, listed = asyncio.run(scenario())
    assert data == b"tail" + BOOK.encode()
    assert (exists, attrs, after, listed) == (True, {"a": "b"}, False, [])


# -- discotool ddfs --------------------------------------------------------------------------


def ddfs_cli(master: Any, *args: str, stdin: str | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(cli, ["ddfs", "--master", master.url, *args], input=stdin)


def test_cli_chunk_cat_xcat_blobs_urls_ls(ddfs_master: Any, tmp_path: Path) -> None:
    path = tmp_path / "book.txt"
    path.write_text(BOOK)
    name = fresh("cli")
    chunked = ddfs_cli(ddfs_master, "chunk", "--chunk-size", "1000", name, str(path))
    assert chunked.exit_code == 0, chunked.output
    created = [line for line in chunked.stdout.splitlines() if line.startswith("created: disco://")]
    assert len(created) >= 3
    assert ddfs_cli(ddfs_master, "cat", name).stdout == BOOK
    assert ddfs_cli(ddfs_master, "cat", f"tag://{name}").stdout == BOOK
    lines = ddfs_cli(ddfs_master, "xcat", "--format", "lines", name).stdout.splitlines()
    assert lines == BOOK.splitlines()
    blobs = ddfs_cli(ddfs_master, "blobs", name).stdout.splitlines()
    assert blobs == [line.removeprefix("created: ") for line in created]
    assert ddfs_cli(ddfs_master, "urls", name).stdout.splitlines() == blobs
    assert json.loads(ddfs_cli(ddfs_master, "blobs", "--json", name).stdout) == [[b] for b in blobs]
    assert name in ddfs_cli(ddfs_master, "ls").stdout.splitlines()
    assert json.loads(ddfs_cli(ddfs_master, "--json", "ls", name).stdout) == [name]
    recursive = ddfs_cli(ddfs_master, "ls", "-r", name).stdout.splitlines()
    assert recursive == [name, *blobs, ""]


def test_cli_push_tag_get_attrs_exists_rm(ddfs_master: Any, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("pushed\n")
    name, meta = fresh("clip"), fresh("clim")
    pushed = ddfs_cli(ddfs_master, "push", name, str(tmp_path / "f.txt"))
    assert pushed.exit_code == 0 and pushed.stdout.startswith("pushed: disco://")
    assert ddfs_cli(ddfs_master, "tag", meta, f"tag://{name}", "a b").exit_code == 0
    assert ddfs_cli(ddfs_master, "tag", meta, stdin="c\n\nd e\n").exit_code == 0
    assert ddfs_cli(ddfs_master, "urls", meta).stdout.splitlines() == [
        "c",
        "d\te",
        f"tag://{name}",
        "a\tb",
    ]
    tag = json.loads(ddfs_cli(ddfs_master, "get", name).stdout)
    assert list(tag) == ["version", "id", "last-modified", "urls", "user-data"]
    assert ddfs_cli(ddfs_master, "setattr", name, "k", "v 1").exit_code == 0
    assert ddfs_cli(ddfs_master, "attrs", name).stdout == "k\tv 1\n"
    assert json.loads(ddfs_cli(ddfs_master, "attrs", "--json", name).stdout) == {"k": "v 1"}
    assert ddfs_cli(ddfs_master, "getattr", name, "k").stdout == "v 1\n"
    assert ddfs_cli(ddfs_master, "getattr", name, "ddfs:read-token").stdout == "None\n"
    assert ddfs_cli(ddfs_master, "delattr", name, "k").exit_code == 0
    found = ddfs_cli(ddfs_master, "exists", name)
    assert (found.exit_code, found.stdout) == (0, "True\n")
    removed = ddfs_cli(ddfs_master, "rm", name)
    assert (removed.exit_code, removed.stdout) == (0, "deleted\n")
    gone = ddfs_cli(ddfs_master, "exists", name)
    assert (gone.exit_code, gone.stdout, gone.stderr) == (1, "", "False\n")


def test_cli_put_and_touch(ddfs_master: Any) -> None:
    name, other = fresh("cliput"), fresh("clitouch")
    assert ddfs_cli(ddfs_master, "tag", name, "old").exit_code == 0
    assert ddfs_cli(ddfs_master, "put", name, "new1", "new2 new3").exit_code == 0
    assert ddfs_cli(ddfs_master, "urls", name).stdout == "new1\nnew2\tnew3\n"
    assert ddfs_cli(ddfs_master, "touch", name, other).exit_code == 0
    assert ddfs_cli(ddfs_master, "urls", name).stdout == "new1\nnew2\tnew3\n"
    assert ddfs_cli(ddfs_master, "exists", other).exit_code == 0


def test_cli_tokens_and_errors(ddfs_master: Any) -> None:
    name = fresh("clitok")
    assert ddfs_cli(ddfs_master, "--ddfs-token", "s", "tag", name, "u").exit_code == 0
    refused = ddfs_cli(ddfs_master, "urls", name)
    assert refused.exit_code == 1
    assert "401" in refused.stderr and "--ddfs-token" in refused.stderr
    assert ddfs_cli(ddfs_master, "--ddfs-token", "s", "urls", name).stdout == "u\n"
    assert ddfs_cli(ddfs_master, "urls", f"tag://u:s@/{name}").stdout == "u\n"
    missing = ddfs_cli(ddfs_master, "get", "nothing-here")
    assert missing.exit_code == 1 and "404" in missing.stderr
    bad = ddfs_cli(ddfs_master, "get", "bad/name")
    assert bad.exit_code == 1 and "is not a DDFS tag" in bad.stderr
    bad_size = ddfs_cli(ddfs_master, "chunk", "--chunk-size", "0", name, __file__)
    assert bad_size.exit_code == 2
