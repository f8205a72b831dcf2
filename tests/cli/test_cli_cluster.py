"""``discotool`` master and node commands, and ``run``, against real reference masters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydisco import __version__

from .conftest import Discotool, InProcess, support


def test_version(dt: InProcess, live_master: Any) -> None:
    result = dt("version")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"client: pydisco {__version__}",
        f"master: 0.5.4 ({live_master.url}, pydisco's reference master)",
    ]
    assert json.loads(dt("version", "--json").stdout) == {
        "client": __version__,
        "master": "0.5.4",
        "reference_master": True,
    }


def test_nodeinfo(dt: InProcess) -> None:
    rows = dt("nodeinfo").stdout.splitlines()
    assert rows[0].split("\t")[:4] == ["host", "slots", "connected", "blacklisted"]
    host = rows[1].split("\t")[0]
    data = json.loads(dt("nodeinfo", "--json").stdout)
    assert data[host]["connected"] is True and data[host]["blacklisted"] is False


def test_blacklist_and_whitelist(dt: InProcess) -> None:
    host = next(iter(json.loads(dt("nodeinfo", "--json").stdout)))
    assert dt("blacklist").stdout == ""
    assert dt("blacklist", host).stdout == f"Blacklisted {host}\n"
    assert dt("blacklist").stdout == f"{host}\n"
    assert json.loads(dt("nodeinfo", "--json").stdout)[host]["blacklisted"] is True
    assert dt("whitelist", host).stdout == f"Whitelisted {host}\n"
    assert json.loads(dt("blacklist", "--json").stdout) == []
    assert dt("blacklist", "--gc", host).exit_code == 0
    assert dt("blacklist", "--gc").stdout == f"{host}\n"
    assert dt("whitelist", "--gc", host).exit_code == 0
    assert dt("blacklist", "--gc").stdout == ""


def test_settings_show_and_set(dt: InProcess) -> None:
    assert dt("settings", "show").stdout.splitlines() == [
        "max_failure_rate\t100",
        "accept_new_jobs\t1",
    ]
    result = dt("settings", "set", "max_failure_rate=5", "accept_new_jobs=0")
    assert result.exit_code == 0 and result.stdout == "Settings saved.\n"
    shown = json.loads(dt("settings", "show", "--json").stdout)
    assert shown == {"max_failure_rate": 5, "accept_new_jobs": 0}


def test_refused_submission_when_not_accepting_jobs(dt: InProcess, tmp_path: Path) -> None:
    assert dt("settings", "set", "accept_new_jobs=0").exit_code == 0
    result = dt("submit", str(support.write_pack(tmp_path)))
    assert result.exit_code == 1 and "403" in result.stderr


def test_config_show_and_set(dt: InProcess) -> None:
    rows = dt("config", "show").stdout.splitlines()
    assert rows[0] == "nodes\tslots"
    host = rows[1].split("\t")[0]
    result = dt("config", "set", f"{host}=3")
    assert result.exit_code == 0 and result.stdout == "Node table saved.\n"
    assert json.loads(dt("config", "show", "--json").stdout) == [[host, 3]]
    duplicate = dt("config", "set", f"{host}=1", f"{host}=2")
    assert duplicate.exit_code == 1 and "duplicate" in duplicate.stderr


def test_run_a_pack_with_replaced_inputs_in_a_real_process(
    offline: Discotool, tmp_path: Path
) -> None:
    data = tmp_path / "words.txt"
    data.write_text("red\ngreen\n")
    pack = support.write_pack(tmp_path, inputs=["raw://ignored"])
    # No master is needed: run starts its own (the DISCO_MASTER of `offline` is unused).
    result = offline("run", str(pack), str(data), "raw://blue")
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == ["blue", "green", "red"]
    assert "Submitted ClientTest@" in result.stderr and "local master" in result.stderr


def test_run_keeps_inputs_and_reports_failures(dt_offline: InProcess, tmp_path: Path) -> None:
    pack = support.write_pack(tmp_path, inputs=["raw://kept"])
    result = dt_offline("run", str(pack), "--urls")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("http://")
    failing = support.write_pack(tmp_path, name="fail.pack", envs={"TEST_MODE": "fatal"})
    result = dt_offline("run", str(failing))
    assert result.exit_code == 1 and "told to fail" in result.stderr
    result = dt_offline("run", str(pack), "/no/such/input")
    assert result.exit_code == 2 and "neither a URL nor an existing file" in result.stderr


def test_token_option_and_environment(tmp_path: Path) -> None:
    from pydisco.master import ReferenceMaster

    with ReferenceMaster.start_in_thread(tmp_path / "d", token="s3cret", retry_delay=0.0) as h:
        dt = InProcess(h.url)
        host = next(iter(json.loads(dt("nodeinfo", "--json").stdout)))
        refused = dt("blacklist", host)
        assert refused.exit_code == 1
        assert "401" in refused.stderr and "--token or DISCO_TOKEN" in refused.stderr
        assert dt("blacklist", host, "--token", "s3cret").exit_code == 0
        assert dt("--token", "s3cret", "whitelist", host).exit_code == 0
        dt.env["DISCO_TOKEN"] = "s3cret"
        assert dt("blacklist", host).exit_code == 0
