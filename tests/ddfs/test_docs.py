"""The commands and snippets of docs/ddfs.md and the README's DDFS example run as printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.processes import environment, run

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ddfs.md"
README = ROOT / "README.md"
PRINTED_MASTER = "http://127.0.0.1:8989"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), re.S)


def shell(script: str, cwd: Path, master: Any) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with ``discotool`` on PATH and the live master as DISCO_MASTER."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    (cwd / "examples").symlink_to(ROOT / "examples")
    env = environment(DISCO_MASTER=master.url, PATH=path)
    return run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env)


def test_the_session_of_docs_ddfs_runs(ddfs_master: Any, tmp_path: Path) -> None:
    session = blocks(DOC, "sh")[0]
    done = shell(session, tmp_path, ddfs_master)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "created: disco://localhost/ddfs/vol0/blob/" in out
    assert "the quick brown fox\njumps over the lazy dog\nthe dog sleeps\n" in out
    assert "source\tgutenberg\n" in out
    assert re.search(r"^the\t3$", out, re.M) and re.search(r"^dog\t2$", out, re.M)
    assert out.endswith("gone\n")


def test_the_python_snippets_of_docs_ddfs_run(ddfs_master: Any, tmp_path: Path) -> None:
    first = blocks(DOC, "python")[0]
    exec(compile(first.replace(PRINTED_MASTER, ddfs_master.url), "ddfs.md", "exec"), {})
    from pydisco.client import DDFS

    with DDFS(ddfs_master.url) as ddfs:
        if not ddfs.exists("data:book"):
            (tmp_path / "book.txt").write_text("the quick brown fox\nthe dog\n")
            ddfs.chunk("data:book", tmp_path / "book.txt")
        assert ddfs.attrs("data:notes") == {"owner": "me"}
    scope: dict[str, Any] = {}
    second = blocks(DOC, "python")[1]
    exec(compile(second.replace(PRINTED_MASTER, ddfs_master.url), "ddfs.md", "exec"), scope)
    assert dict(scope["results"])["the"] >= 2
    assert ddfs_master.state.jobs[scope["results"].job_name].results_tag is not None
    assert len(list(scope["again"])) > 0


def test_the_readme_ddfs_example_runs(ddfs_master: Any, tmp_path: Path) -> None:
    (example,) = [b for b in blocks(README, "sh") if "discotool ddfs" in b]
    done = shell(example, tmp_path, ddfs_master)  # the clone's examples/book.txt, as printed
    assert done.returncode == 0, done.stderr
    assert re.search(r"^counted\t4$", done.stdout, re.M)  # words only that book has
    assert re.search(r"^river\t1$", done.stdout, re.M)
