"""``discotool run`` with ``tag://`` inputs: a job pack's inputs replaced by a tag's blobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pydisco.cli.main import cli
from pydisco.client import DDFS
from tests.client.support import write_pack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_run_a_job_pack_on_a_tag(ddfs_master: Any, tmp_path: Path) -> None:
    lines = [f"record {n}" for n in range(30)]
    (tmp_path / "data.txt").write_text("".join(f"{line}\n" for line in lines))
    with DDFS(ddfs_master.url) as ddfs:
        ddfs.chunk("data:pack-input", tmp_path / "data.txt", chunk_size=100)
        blobs = len(ddfs.blobs("data:pack-input"))
    assert blobs > 1
    pack = write_pack(tmp_path)
    done = CliRunner().invoke(
        cli, ["run", "--master", ddfs_master.url, str(pack), "tag://data:pack-input"]
    )
    assert done.exit_code == 0, done.output
    assert sorted(done.stdout.splitlines()) == sorted(lines)


def test_run_with_a_missing_tag_says_so(ddfs_master: Any, tmp_path: Path) -> None:
    pack = write_pack(tmp_path)
    done = CliRunner().invoke(cli, ["run", "--master", ddfs_master.url, str(pack), "tag://nope"])
    assert done.exit_code == 1
    assert "404" in done.stderr and "Tag not found." in done.stderr
