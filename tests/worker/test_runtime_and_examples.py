"""The shipped runtime under a bare interpreter, and the example workers on top of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zlib

import pytest

from pydisco.worker.runtime import install_runtime, runtime_files

from .scripted_master import ScriptedMaster, data_input, make_task, write_jobfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ECHO = os.path.join(REPO, "examples", "workers", "python", "echo_worker.py")
WORDCOUNT = os.path.join(REPO, "examples", "wordcount", "worker.py")
#: A bare interpreter: no site-packages (-S), no environment or user site (-I).
BARE = [sys.executable, "-I", "-S"]


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("runtime")
    install_runtime(str(path))
    return str(path)


def make_home(runtime_dir: str, home: str, *workers: str) -> None:
    shutil.copytree(runtime_dir, home, dirs_exist_ok=True)
    for worker in workers:
        shutil.copy(worker, home)


def test_runtime_holds_the_worker_and_nothing_heavy() -> None:
    relative = {path for _, path in runtime_files()}
    assert "pydisco/__init__.py" in relative and "pydisco/worker/run.py" in relative
    assert "pydisco/protocol/session.py" in relative and "attrs/__init__.py" in relative
    assert "attr/__init__.py" in relative
    tops = {path.split("/")[1] for path in relative if path.startswith("pydisco/")}
    assert not tops & {"jobpack", "client", "master", "cli", "conformance"}


def test_bare_interpreter_imports_the_shipped_runtime(runtime_dir: str) -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import attrs, pydisco.worker, pydisco.jsoncodec as j;"
        "print(attrs.__file__); print(pydisco.worker.__file__); print(j.ujson_available());"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('httpx','aiohttp','click','rich','ujson','gzip','ssl')"
        " or m.startswith(('pydisco.jobpack','pydisco.client','pydisco.master','http.client'))))"
    )
    result = subprocess.run(
        [*BARE, "-c", code, runtime_dir], capture_output=True, text=True, check=True
    )
    attrs_file, worker_file, has_ujson, heavy = result.stdout.splitlines()
    assert attrs_file.startswith(runtime_dir)
    assert worker_file.startswith(runtime_dir)
    assert has_ujson == "False"
    assert heavy == "[]"


def test_importing_the_worker_stays_light() -> None:
    code = (
        "import sys, pydisco.worker;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('httpx','aiohttp','click','rich','gzip','ssl','hashlib','traceback')"
        " or m.startswith(('pydisco.jobpack','pydisco.client','pydisco.master','http.client'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "[]", result.stderr


#: The system's own interpreter, if there is one: a node "with only Python 3".
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")
INTERPRETERS = [pytest.param(BARE, id="venv-python-I-S")]
if SYSTEM_PYTHON is not None and os.path.realpath(SYSTEM_PYTHON) != os.path.realpath(
    sys.executable
):
    INTERPRETERS.append(pytest.param([SYSTEM_PYTHON, "-I"], id="system-python3"))


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_echo_worker_under_bare_python(runtime_dir: str, home: str, interpreter: list[str]) -> None:
    make_home(runtime_dir, home, ECHO)
    inputs = [data_input(0, "raw://one\ntwo\n"), data_input(1, "raw://three\n")]
    argv = [*interpreter, "echo_worker.py"]
    master = ScriptedMaster(argv, home, make_task(home), inputs=inputs)
    run = master.run()
    assert run.protocol_error is None, bytes(run.raw)
    assert run.closing.NAME == "DONE", run.closing
    (output,) = run.named("OUTPUT")
    with open(os.path.join(home, output.location), "rb") as handle:
        assert handle.read() == b"one\ntwo\nthree\n"
    assert "echo: copied 3 lines" in run.msg_texts


def test_wordcount_map_then_reduce_under_bare_python(runtime_dir: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    disco_data = tmp_path / "data"
    home = disco_data / "nodeA" / "ab" / "WordCount@1:2:3"
    home.mkdir(parents=True)
    make_home(runtime_dir, str(home), WORDCOUNT)
    base = make_task(str(home), disco_data=str(disco_data), jobname="WordCount@1:2:3")
    write_jobfile(base.jobfile, b'{"partitions": 2}')
    texts = ["the cat sat on the mat\n", "The dog and the cat\nsat\n"]
    inputs = [data_input(index, "raw://" + text) for index, text in enumerate(texts)]
    run = ScriptedMaster([*BARE, "worker.py"], str(home), base, inputs=inputs).run()
    assert run.protocol_error is None and run.closing.NAME == "DONE", run.closing
    outputs = run.named("OUTPUT")
    assert {output.label for output in outputs} <= {0, 1}
    for output in outputs:
        with open(home / output.location, "rb") as handle:
            for line in handle.read().decode().splitlines():
                word = line.split("\t")[0]
                assert zlib.crc32(word.encode()) % 2 == output.label

    # The map task's results index, as the master writes it (facts §5.2).
    index = home / ".disco" / "map-3-1.results"
    index.parent.mkdir()
    prefix = "disco://nodeA/disco/nodeA/ab/WordCount@1:2:3"
    index.write_text("".join(f"{o.label} {prefix}/{o.location} {o.size}\n" for o in outputs))
    dir_url = f"dir://nodeA/disco/nodeA/ab/WordCount@1:2:3/.disco/{index.name}"
    counts: dict[str, int] = {}
    for label in (0, 1):
        task = make_task(
            str(home),
            disco_data=str(disco_data),
            stage="reduce",
            grouping="group_label",
            group=(label, ""),
            taskid=4 + label,
        )
        run = ScriptedMaster(
            [*BARE, "worker.py"], str(home), task, inputs=[data_input(0, dir_url, label=label)]
        ).run()
        assert run.protocol_error is None and run.closing.NAME == "DONE", run.closing
        (output,) = run.named("OUTPUT")
        assert output.label == 0
        lines = (home / output.location).read_text().splitlines()
        pairs = [(line.split("\t")[0], int(line.split("\t")[1])) for line in lines]
        assert pairs == sorted(pairs, key=lambda pair: (-pair[1], pair[0]))
        counts.update(pairs)
    assert counts == {"the": 3, "cat": 2, "sat": 2, "on": 1, "mat": 1, "The": 1, "dog": 1, "and": 1}
