"""Deleted tags never come back (ddfs facts §1.7), also from a ``DDFS_DATA`` Disco wrote.

Disco keeps a deleted tag's versions and lists its name in the tag ``+deleted``;
a tree holding older versions of a tag, or a ``+deleted`` list, must not bring a
deleted tag back after a restart, and a re-created tag must not be hidden again.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from pydisco import jsoncodec
from pydisco.ddfsnames import format_timestamp, hashdir
from pydisco.master import ReferenceMaster
from pydisco.master.ddfs.tags import Tag


def write_version(ddfs: Path, name: str, micros: int, urls: list[list[str]]) -> Path:
    """A tag version file as Disco writes it (``vol0/tag/<hh>/<name>$<ts>``)."""
    tag = Tag(name, format_timestamp(micros), "2014/10/27 22:01:49", None, None)
    body = tag.to_json(secure=False) | {"urls": urls}
    path = ddfs / "vol0" / "tag" / hashdir(tag.id) / tag.id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jsoncodec.dumps(body))
    return path


def versions(ddfs: Path, name: str) -> list[Path]:
    return sorted(ddfs.glob(f"vol*/tag/*/{name}$*"))


def test_a_deleted_tag_with_older_versions_stays_deleted(tmp_path: Path) -> None:
    ddfs = tmp_path / "ddfs"
    write_version(ddfs, "old", 1_414_459_309_000_001, [["older"]])
    write_version(ddfs, "old", 1_414_459_309_000_002, [["newer"]])
    with ReferenceMaster.start_in_thread(tmp_path / "data", ddfs_data=ddfs) as master:
        assert httpx.get(f"{master.url}/ddfs/tag/old/ddfs:urls").json() == [["newer"]]
        assert httpx.delete(f"{master.url}/ddfs/tag/old").json() == "deleted"
    assert versions(ddfs, "old") == []
    with ReferenceMaster.start_in_thread(tmp_path / "data", ddfs_data=ddfs) as master:
        assert httpx.get(f"{master.url}/ddfs/tag/old").status_code == 404
        assert httpx.get(f"{master.url}/ddfs/tags").json() == []


def test_discos_deleted_list_is_applied_at_start(tmp_path: Path) -> None:
    ddfs = tmp_path / "ddfs"
    write_version(ddfs, "gone", 1_414_459_309_000_001, [["a"]])
    write_version(ddfs, "gone", 1_414_459_309_000_005, [["b"]])
    write_version(ddfs, "kept", 1_414_459_309_000_002, [["k"]])
    write_version(ddfs, "+deleted", 1_414_459_309_000_003, [["tag://stale"]])
    write_version(ddfs, "+deleted", 1_414_459_309_000_006, [["tag://gone"], ["tag://never"]])
    with ReferenceMaster.start_in_thread(tmp_path / "data", ddfs_data=ddfs) as master:
        missing = httpx.get(f"{master.url}/ddfs/tag/gone")
        assert (missing.status_code, missing.text) == (404, "Tag not found.")
        assert httpx.get(f"{master.url}/ddfs/tags").json() == ["kept"]
        assert httpx.get(f"{master.url}/ddfs/tag/+deleted").status_code == 403
        # Re-created by anyone: a fresh tag, which a restart does not hide again.
        reply = httpx.post(f"{master.url}/ddfs/tag/gone", content=b'[["again"]]')
        assert reply.status_code == 200
    assert versions(ddfs, "+deleted") == []
    with ReferenceMaster.start_in_thread(tmp_path / "data", ddfs_data=ddfs) as master:
        assert httpx.get(f"{master.url}/ddfs/tag/gone/ddfs:urls").json() == [["again"]]
        assert httpx.get(f"{master.url}/ddfs/tags").json() == ["gone", "kept"]


def test_an_unreadable_deleted_list_is_left_alone(tmp_path: Path) -> None:
    ddfs = tmp_path / "ddfs"
    write_version(ddfs, "kept", 1_414_459_309_000_002, [["k"]])
    broken = write_version(ddfs, "+deleted", 1_414_459_309_000_003, [])
    broken.write_bytes(b"{not json")
    with ReferenceMaster.start_in_thread(tmp_path / "data", ddfs_data=ddfs) as master:
        assert httpx.get(f"{master.url}/ddfs/tags").json() == ["kept"]
    assert broken.exists()
