"""The distribution: ``python -m build`` makes an sdist with what implementers and users need,
and the wheel built from it runs ``discotool run`` on an example job outside the checkout.

No network: the build runs without isolation (setuptools and wheel of this
environment), the fresh venv gets the wheel with ``pip --no-deps --no-index``
and reaches the dependencies through a ``.pth`` line naming this
environment's site-packages (added after its own, so the wheel's pydisco wins).
"""

from __future__ import annotations

import collections
import shutil
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.processes import environment, run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
_SKIP = {".venv", ".git", "build", "dist", ".hypothesis", ".mypy_cache", ".ruff_cache"}


def _ignore(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in _SKIP or n.endswith(".egg-info") or n == "__pycache__"]


def _run(*argv: str | Path, cwd: Path) -> str:
    done = run(argv, cwd=cwd, env=environment(), timeout=400)
    assert done.returncode == 0, f"{argv}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` of a copy of the checkout: the sdist, then the wheel from it."""
    top = tmp_path_factory.mktemp("dist")
    source = top / "source"
    shutil.copytree(ROOT, source, ignore=_ignore, symlinks=True)
    out = top / "out"
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, source, cwd=top)
    return out


def test_sdist_holds_the_spec_docs_examples_tests_and_license(dist: Path) -> None:
    (sdist,) = dist.glob("pydisco-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in (
        "LICENSE",
        "README.md",
        "protocol-spec/README.md",
        "protocol-spec/jobpack.md",
        "docs/jobs.md",
        "examples/jobs/wordcount.py",
        "examples/book.txt",
        "examples/tour/worker.py",
        "tests/job/test_readme_snippet.py",
    ):
        assert needed in names, needed
    assert any(n.startswith("protocol-spec/schemas/") for n in names)
    assert any(n.startswith("protocol-spec/vectors/") for n in names)
    assert not any("__pycache__" in n for n in names)


def test_wheel_metadata_names_the_license(dist: Path) -> None:
    (wheel,) = dist.glob("pydisco-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
        assert any(n.endswith("LICENSE") for n in archive.namelist())
    assert "License: BSD-3-Clause" in text
    urls = [line for line in text.splitlines() if line.startswith("Project-URL:")]
    # Only URLs that exist (no made-up pydisco homepage): Disco's site and its source.
    assert urls == [
        "Project-URL: Disco (the system pydisco implements), https://discoproject.org",
        "Project-URL: Disco 0.5.4 source (the compatibility reference), "
        "https://github.com/discoproject/disco",
    ]


def test_installed_wheel_runs_an_example_job_outside_the_checkout(
    dist: Path, tmp_path: Path
) -> None:
    (wheel,) = dist.glob("pydisco-*.whl")
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        wheel,
        cwd=tmp_path,
    )
    purelib = _run(
        python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path
    ).strip()
    Path(purelib, "zz_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    where = _run(python, "-c", "import pydisco; print(pydisco.__file__)", cwd=tmp_path)
    assert where.startswith(str(venv)), where
    away = tmp_path / "elsewhere"
    away.mkdir()
    job = away / "wordcount.py"
    shutil.copyfile(ROOT / "examples" / "jobs" / "wordcount.py", job)
    text = (ROOT / "examples" / "book.txt").read_text()
    (away / "book.txt").write_text(text)
    printed = _run(
        venv / "bin" / "discotool", "run", "wordcount.py:wordcount", "book.txt", cwd=away
    )
    counted = {w: int(n) for w, n in (line.split("\t") for line in printed.splitlines())}
    assert counted == dict(collections.Counter(text.split()))
