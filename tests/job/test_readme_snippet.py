"""Every Python snippet of README.md and docs/*.md runs exactly as printed, from a clean clone.

Each document's snippets that are not worker scripts form one script (later
snippets build on earlier ones), run with ``python`` from the top of a
"clone" (a directory whose ``examples`` is the repository's) on the bundled
master, as a user would after saving them. A snippet that starts with ``#!``
is a worker: it is packed (``discotool pack --with-runtime``) and run on a
master, except the job launcher, which must be the script every pydisco job
runs. The README's master tour and the client snippet share one master.
"""

from __future__ import annotations

import collections
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pydisco.job.launcher import LAUNCHER_SCRIPT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BOOK = (ROOT / "examples" / "book.txt").read_text()
_SNIPPET = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def snippets(doc: Path) -> list[str]:
    return _SNIPPET.findall(doc.read_text())


def scripts(doc: Path) -> list[str]:
    return [s for s in snippets(doc) if not s.startswith("#!")]


def workers(doc: Path) -> list[str]:
    return [s for s in snippets(doc) if s.startswith("#!")]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A directory that looks like the top of a fresh clone to the snippets."""
    top = tmp_path / "clone"
    top.mkdir()
    (top / "examples").symlink_to(ROOT / "examples")
    return top


def user_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCO_", "PYDISCO_"))}
    env.update(extra)
    return env


def run(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=user_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result


def run_doc_script(doc: Path, clone: Path, **env: str) -> str:
    """The document's non-worker snippets, saved as one file and run with ``python``."""
    script = clone / f"{doc.stem.lower()}_snippets.py"
    script.write_text("\n".join(scripts(doc)))
    return run([sys.executable, script.name], clone, **env).stdout


def discotool(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "pydisco", *args], cwd, **env)


def word_counts(text: str) -> dict[str, int]:
    return dict(collections.Counter(text.split()))


def test_every_snippet_is_covered() -> None:
    """A new document with Python snippets must get its expectations below."""
    with_scripts = {doc.name for doc in DOCS if scripts(doc)}
    # docs/ddfs.md's scripts need a master with DDFS data: tests/ddfs/test_docs.py runs them.
    assert with_scripts == {"README.md", "jobs.md", "client.md", "master.md", "ddfs.md"}
    with_workers = {doc.name for doc in DOCS if workers(doc)}
    assert with_workers == {"README.md", "jobs.md", "worker.md"}


def test_readme_wordcount_script_counts_the_book(clone: Path) -> None:
    (source,) = scripts(DOCS[0])
    assert 'runner="local"' in source and 'if __name__ == "__main__":' in source
    printed = run_doc_script(DOCS[0], clone)
    counted = {word: int(n) for word, n in (line.split() for line in printed.splitlines())}
    assert counted == word_counts(BOOK)


def test_jobs_md_script_runs_inline_and_on_the_bundled_master(clone: Path) -> None:
    printed = run_doc_script(ROOT / "docs" / "jobs.md", clone).splitlines()
    counts = word_counts(BOOK)
    inline = dict(line.split() for line in printed[: len(counts)])
    assert {w: int(n) for w, n in inline.items()} == counts
    long_words = collections.Counter(w.lower() for w in BOOK.split() if len(w) >= 4)
    pipeline = [line.split() for line in printed[len(counts) :]]
    assert {w: int(n) for w, n in pipeline} == dict(long_words)


def test_master_md_script_starts_and_stops_masters(clone: Path) -> None:
    printed = run_doc_script(ROOT / "docs" / "master.md", clone).splitlines()
    assert len(printed) == 2
    assert all(line.startswith("http://127.0.0.1:") for line in printed)


def test_launcher_snippet_is_the_script_every_job_runs() -> None:
    (launcher,) = [w for w in workers(ROOT / "docs" / "jobs.md") if "pydisco.job.launcher" in w]
    assert launcher == LAUNCHER_SCRIPT


def test_readme_worker_is_the_tour_worker() -> None:
    (worker,) = workers(DOCS[0])
    shipped = ROOT / "examples" / "tour" / "worker.py"
    assert worker == shipped.read_text()
    assert shipped.stat().st_mode & stat.S_IXUSR


def test_worker_md_worker_runs_on_a_master(clone: Path) -> None:
    (worker,) = workers(ROOT / "docs" / "worker.md")
    home = clone / "home"
    home.mkdir()
    (home / "worker.py").write_text(worker)
    (home / "worker.py").chmod(0o755)
    pack = ["pack", "home", "--worker", "worker.py", "--with-runtime", "-o", "w.pack"]
    discotool(*pack, "--input", "raw://one\ntwo\n", cwd=clone)
    result = discotool("run", "w.pack", cwd=clone)
    assert result.stdout == "one\ntwo\n"


def test_readme_master_tour_and_the_client_snippet(clone: Path, tmp_path: Path) -> None:
    """The README's tour, command by command, then docs/client.md on the same master."""
    master = subprocess.Popen(
        [sys.executable, "-m", "pydisco", "master", "--port", "0", "--data", str(tmp_path / "d")],
        cwd=clone,
        env=user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _master_url(master)
        env = {"DISCO_MASTER": url}
        discotool(
            *("pack", "examples/tour", "--worker", "worker.py", "--with-runtime"),
            *("--input", "raw://hello", "-o", "job.pack"),
            cwd=clone,
        )
        submitted = discotool("submit", "job.pack", "--wait", "--results", cwd=clone, **env)
        assert submitted.stdout == "hello"
        name = submitted.stderr.split()[1]
        assert name in discotool("jobs", cwd=clone, **env).stdout
        assert "status:  ready" in discotool("info", "@", cwd=clone, **env).stdout
        assert "READY" in discotool("events", "@", cwd=clone, **env).stdout
        assert run_doc_script(ROOT / "docs" / "client.md", clone, **env) == "hello\n"
        counted = discotool(
            *("run", "examples/jobs/wordcount.py:wordcount", "examples/book.txt"),
            *("--master", url),
            cwd=clone,
        )
        assert _counts(counted.stdout) == word_counts(BOOK)
        assert "wordcount@" in discotool("jobs", cwd=clone, **env).stdout  # it stays there
    finally:
        master.terminate()
        master.communicate(timeout=60)


def test_readme_run_line_counts_the_book(clone: Path) -> None:
    result = discotool(
        "run", "examples/jobs/wordcount.py:wordcount", "examples/book.txt", cwd=clone
    )
    assert _counts(result.stdout) == word_counts(BOOK)


def _counts(printed: str) -> dict[str, int]:
    return {w: int(n) for w, n in (line.split("\t") for line in printed.splitlines())}


def _master_url(master: subprocess.Popen[str]) -> str:
    assert master.stdout is not None
    for line in master.stdout:
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        if found:
            return found.group(0)
    raise AssertionError("the master exited without saying where it listens")
