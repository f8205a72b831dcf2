"""The fixed cost of a local job: job homes without the runtime, packing while the master starts.

The bundled master's workers run on this machine as this user, so its job
homes leave pydisco's runtime out and the workers import the byte-compiled
template of :mod:`pydisco.job.packing`; a pack for any other master (which
could be a real Disco, whose nodes have no pydisco) still carries it.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from examples.jobs.wordcount import wordcount
from pydisco.job import packing
from pydisco.job.jobdata import LAUNCHER_NAME, LAUNCHER_SCRIPT, launcher_script
from pydisco.job.remote import LocalMasterRunner, MasterRunner
from pydisco.jobpack import JobPack
from tests.job.where_job import where_from
from tests.processes import environment, run

ROOT = Path(__file__).resolve().parents[2]


def _home(pack: bytes, tmp_path: Path) -> zipfile.ZipFile:
    path = tmp_path / "job.pack"
    path.write_bytes(pack)
    with JobPack.open(path) as opened:
        return zipfile.ZipFile(io.BytesIO(opened.open_jobhome().read()))


def _pack(runner: MasterRunner, inputs: list[Any], tmp_path: Path) -> zipfile.ZipFile:
    out = io.BytesIO()
    runner.write_pack(out, wordcount, inputs)
    return _home(out.getvalue(), tmp_path)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8989", "http://disco.example:8989"], ids=["loopback", "remote"]
)
def test_a_pack_for_any_other_master_carries_the_runtime(url: str, tmp_path: Path) -> None:
    runner = MasterRunner(url, slots=1, staging=str(tmp_path))
    home = _pack(runner, [b"a b\n"], tmp_path)
    names = set(home.namelist())
    assert {"pydisco/worker/run.py", "pydisco/job/launcher.py", "attr/__init__.py"} <= names
    assert home.read(LAUNCHER_NAME).decode() == LAUNCHER_SCRIPT


def test_a_running_master_given_by_url_gets_the_runtime_too(tmp_path: Path) -> None:
    # A master on this machine given by URL may be a real Disco (or another user's master).
    runner = LocalMasterRunner(master="http://127.0.0.1:8989", slots=1, staging=str(tmp_path))
    assert "pydisco/worker/run.py" in _pack(runner, [b"a b\n"], tmp_path).namelist()


def test_a_runtime_less_pack_holds_the_job_and_a_launcher_naming_the_template(
    tmp_path: Path,
) -> None:
    runner = MasterRunner("http://127.0.0.1:8989", slots=1, staging=str(tmp_path))
    runner.ship_runtime = False
    home = _pack(runner, [b"a b\n"], tmp_path)
    names = set(home.namelist())
    assert not any(n.startswith(("pydisco/", "attr/", "attrs/")) for n in names)
    assert {LAUNCHER_NAME, "examples/jobs/wordcount.py", "examples/jobs/__init__.py"} <= names
    template = packing._runtime_template()
    launcher = home.read(LAUNCHER_NAME).decode()
    assert launcher == launcher_script(template)
    assert f"sys.path.insert(1, {template!r})" in launcher
    assert (home.getinfo(LAUNCHER_NAME).external_attr >> 16) & 0o111


def test_a_runtime_less_job_home_runs_on_a_master_of_this_machine(
    reference_master: Any, tmp_path: Path
) -> None:
    runner = LocalMasterRunner(master=reference_master, ship_runtime=False)
    results = dict(runner.run(where_from, [b"x\ny\n"]))
    template = packing._runtime_template()
    assert results.keys() == {"x", "y"}
    for paths in results.values():
        assert [Path(p).parent.parent for p in paths] == [Path(template)]


class StartingMaster:
    """A master address whose URL is not known yet: reading it is recorded."""

    def __init__(self) -> None:
        self.asked = 0

    @property
    def url(self) -> str:
        self.asked += 1
        return "http://127.0.0.1:8989/"


def test_the_job_is_packed_without_waiting_for_a_starting_master(tmp_path: Path) -> None:
    data = tmp_path / "words.txt"
    data.write_text("a b\n" * 1000)
    address = StartingMaster()
    runner = MasterRunner(address, slots=2, byte_ranges=True)
    home = _pack(runner, [str(data)], tmp_path)
    assert address.asked == 0  # the pack needs the slots and the inputs, not the URL
    assert "pydisco/worker/run.py" in home.namelist()  # the runtime unless told otherwise
    assert runner.url == "http://127.0.0.1:8989" and address.asked == 1
    # A master address that is not a URL yet is a local master: it reads this machine's files.
    assert runner.local_files and runner.byte_ranges and runner.jobenvs["PATH"]


SCRIPT = """\
import io, json, sys
from pydisco.job import packing
from pydisco.job.remote import LocalMasterRunner
from tests.job.where_job import where_from

if __name__ == "__main__":
    out = io.BytesIO()
    runner = LocalMasterRunner()
    runner.write_pack(out, where_from, [b"x\\n"])
    results = dict(where_from.run([b"x\\ny\\n"], runner="local"))
    print(json.dumps({"results": results, "template": packing._runtime_template(),
                      "pack_bytes": len(out.getvalue())}))
"""


@pytest.mark.slow
def test_the_bundled_masters_workers_import_the_cached_runtime(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(SCRIPT)
    env = environment(PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = run([sys.executable, tmp_path / "script.py"], env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["results"].keys() == {"x", "y"}
    for paths in report["results"].values():
        assert [str(Path(p).parent.parent) for p in paths] == [report["template"]]
    assert report["pack_bytes"] < 64 * 1024  # the job's code only, not the runtime


def test_slots_given_with_a_master_plan_its_map_tasks(tmp_path: Path) -> None:
    runner = LocalMasterRunner(master="http://127.0.0.1:8989", slots=3, staging=str(tmp_path))
    assert runner.slots == 3
    assert LocalMasterRunner(master="http://127.0.0.1:8989").slots is None  # asked when needed


def test_the_bundled_master_refuses_other_slots_once_it_runs(tmp_path: Path) -> None:
    """Its slots are fixed when it starts: a later runner asking for others is told so."""
    script = tmp_path / "slots.py"
    script.write_text(
        "from pydisco.job.errors import JobError\n"
        "from pydisco.job.remote import LocalMasterRunner\n"
        "assert LocalMasterRunner(slots=1).slots == 1\n"
        "assert LocalMasterRunner().slots == 1\n"
        "assert LocalMasterRunner(slots=1).slots == 1\n"
        "try:\n"
        "    LocalMasterRunner(slots=2)\n"
        "except JobError as exc:\n"
        "    print(exc)\n"
    )
    done = run([sys.executable, script], env=environment(), cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "was started with slots=1; slots=2 cannot change that" in done.stdout
    assert "discotool master --nodes localhost=N" in done.stdout
