"""The kit starts workers as a Disco node does: job home, job pack, environment."""

from __future__ import annotations

from pathlib import Path

from pydisco import jobpack
from pydisco.conformance.httpserver import DataServer
from pydisco.conformance.process import is_descendant, worker_environment
from pydisco.conformance.scenarios import SCENARIOS_BY_NAME, hexhash, make_setup, write_jobfile


def test_job_home_layout_and_job_pack(tmp_path):
    with DataServer() as server:
        setup = make_setup(tmp_path, "more", server)
        plan = SCENARIOS_BY_NAME["more"].build(setup)
        write_jobfile(setup, plan, "worker.sh")
        task = setup.task(plan)
    assert setup.jobhome == setup.disco_data / "localhost" / hexhash(setup.jobname) / setup.jobname
    assert (setup.jobhome / ".jobhome").exists()
    assert task.jobfile == str(setup.jobhome / "jobfile")
    assert task.disco_port == server.port
    jobdict = jobpack.validate(task.jobfile)
    assert jobdict.worker == "worker.sh"
    assert jobdict.raw["pipeline"] == [["map", "split", True]]  # "more" is a concurrent stage


def test_environment_drops_disco_settings(monkeypatch):
    monkeypatch.setenv("DISCO_DATA", "/somewhere")
    monkeypatch.setenv("DDFS_DATA", "/elsewhere")
    monkeypatch.setenv("KEEP_ME", "1")
    env = worker_environment({"JOB_ENV": "x"})
    assert "DISCO_DATA" not in env and "DDFS_DATA" not in env
    assert env["KEEP_ME"] == "1" and env["JOB_ENV"] == "x"


def test_pid_ancestry():
    import os

    assert is_descendant(os.getpid(), os.getpid()) is True
    assert is_descendant(os.getppid(), os.getpid()) is False


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_a_hanging_worker_is_killed_with_its_whole_tree(tmp_path):
    from pydisco.conformance import KitSettings, Verdict, run_kit, select_scenarios
    from pydisco.protocol.session import Profile

    pidfile = tmp_path / "child.pid"
    script = tmp_path / "hang.sh"
    script.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pidfile}\nexec sleep 300\n")
    script.chmod(0o755)
    result = run_kit(
        [str(script)], (Profile.SPEC,), select_scenarios(["basic"]), KitSettings(timeout=2.0)
    )
    assert result.verdict("HS-4", Profile.SPEC) is Verdict.FAIL
    assert "hangs" in "\n".join(result.runs[0].transcript)
    assert not _alive(int(pidfile.read_text()))
