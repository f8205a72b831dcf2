"""The byte-compiled runtime of job homes is built once per version, kept in the user's cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pydisco.job import packing


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(packing.CACHE_ENV, str(root))
    monkeypatch.setattr(packing, "_templates", {})
    return root


def test_a_later_process_reuses_the_cached_runtime(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = packing._runtime_template()
    assert Path(first).parent == cache and Path(first).name.startswith("runtime-")
    assert (Path(first) / "pydisco" / "job" / "execute.py").is_file()
    compiled = list(Path(first).rglob("*.pyc"))
    assert compiled
    marker = Path(first) / "marker"
    marker.write_text("kept")
    monkeypatch.setattr(packing, "_templates", {})  # as in a new process
    assert packing._runtime_template() == first
    assert marker.read_text() == "kept"  # reused, not rebuilt
    assert [p for p in cache.iterdir() if p.name.startswith("building-")] == []


def test_a_cache_others_can_write_is_not_used(cache: Path) -> None:
    cache.mkdir(mode=0o777)
    os.chmod(cache, 0o777)
    path = packing._runtime_template()
    assert Path(path).parent != cache
    assert list(cache.iterdir()) == []


def test_byte_code_stays_in_the_job_home_whatever_the_pycache_prefix(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "elsewhere"))
    template = Path(packing._runtime_template())
    assert (template / "pydisco" / "job" / "__pycache__").is_dir()
    assert not (tmp_path / "elsewhere").exists()


def test_the_zipped_job_home_holds_the_runtime_and_the_job(cache: Path) -> None:
    import io
    import stat
    import zipfile

    from examples.jobs.wordcount import wordcount
    from pydisco.job.launcher import LAUNCHER_NAME

    out = io.BytesIO()
    packing.write_job_home_zip(wordcount, "examples.jobs.wordcount:wordcount", out)
    archive = zipfile.ZipFile(out)
    names = set(archive.namelist())
    assert {"examples/jobs/wordcount.py", "examples/jobs/__init__.py", LAUNCHER_NAME} <= names
    assert "pydisco/job/execute.py" in names and "attr/__init__.py" in names
    assert any(n.startswith("examples/jobs/__pycache__/wordcount.") for n in names)
    mode = archive.getinfo(LAUNCHER_NAME).external_attr >> 16
    assert mode & stat.S_IXUSR
    assert len(names) == len(archive.namelist())  # no name twice


def test_only_the_most_recently_used_templates_are_kept(cache: Path) -> None:
    import time

    cache.mkdir(mode=0o700)
    now = time.time()
    made = []
    for n in range(12):  # older first; each with the zip of its job-home files
        path = cache / f"runtime-{n:02d}"
        path.mkdir()
        zipped = cache / f"runtime-{n:02d}.zip"
        zipped.write_bytes(b"")
        for each in (path, zipped):
            os.utime(each, (now - 3600 + n, now - 3600 + n))
        made.append(path)
    building = cache / "building-abc"  # another process's build in progress
    building.mkdir()
    stale = cache / "runtime-stale"
    stale.mkdir()
    os.utime(stale, (now - packing._CACHE_MAX_AGE - 60,) * 2)
    packing._prune(str(cache), keep=str(made[0]))  # the one in use now, however old
    kept = sorted(p.name for p in cache.iterdir())
    newest = [p.name for p in made[-(packing._CACHE_MAX_KEPT - 1) :]]
    assert kept == sorted(
        ["building-abc", "runtime-00", "runtime-00.zip", *newest, *(n + ".zip" for n in newest)]
    )
