"""Master hardening (issue 14): bad job homes are refused at submit, through real HTTP.

One master serves the whole module (jobs do not interfere: each test looks at its
own job, or at the job list not growing); tests that need other settings or a
broken data directory start their own.
"""

from __future__ import annotations

import io
import stat
import struct
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pydisco.jobpack import jobpack_bytes
from pydisco.master import ReferenceMaster
from pydisco.master.server import MasterHandle
from tests.master.helpers import WORKERS, events, submit, wait

FAST = {"retry_delay": 0.0, "pid_timeout": 5.0, "max_failure_rate": 3}
WORKER = (WORKERS / "behave.sh").read_bytes()
#: The module master's job home byte limit (the default is 1 GiB: too big to build here).
SMALL_HOME_BYTES = 4 << 20


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterHandle]:
    data = tmp_path_factory.mktemp("hardening") / "data"
    with ReferenceMaster.start_in_thread(
        data, jobhome_max_bytes=SMALL_HOME_BYTES, **FAST
    ) as handle:
        yield handle


def home_zip(entries: list[tuple[str, bytes, int]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A job home holding the behave.sh worker and ``entries`` (name, data, st_mode)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, mode in [("behave.sh", WORKER, stat.S_IFREG | 0o755), *entries]:
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = method
            archive.writestr(info, data)
    return buffer.getvalue()


def pack_of(home: bytes, envs: dict[str, str] | None = None, **jobdict: Any) -> bytes:
    values: dict[str, Any] = {
        "prefix": "Hard",
        "worker": "behave.sh",
        "owner": "tester@localhost",
        "scheduler": {},
        "pipeline": [["map", "split", False]],
        "inputs": [[0, 0, ["raw://hello"]]],
        "save_results": False,
    }
    values.update(jobdict)
    return jobpack_bytes(
        jobdict=values, jobenvs=envs or {"MODE": "ok"}, jobhome=home, version=2, check=False
    )


def post_pack(url: str, pack: bytes) -> list[Any]:
    reply = httpx.post(f"{url}/disco/job/new", content=pack, timeout=60)
    assert reply.status_code == 200, reply.text
    value: list[Any] = reply.json()
    return value


def job_names(url: str) -> set[str]:
    return {name for _, _, name in httpx.get(f"{url}/disco/ctrl/joblist", timeout=30).json()}


def refused(master: MasterHandle, pack: bytes, *parts: str) -> str:
    """Submit ``pack``; it must be refused before any job exists, the reason holding ``parts``."""
    before = job_names(master.url)
    status, reason = post_pack(master.url, pack)
    assert status == "error", reason
    assert reason.startswith("Job failed to start: "), reason
    for part in parts:
        assert part in reason, (part, reason)
    assert job_names(master.url) == before
    assert not list((master.state.root / "tmp").iterdir()), "the upload was left behind"
    return str(reason)


REG = stat.S_IFREG | 0o644
UNSAFE = [
    ("../x", REG, "'..' component"),
    ("a/../../../x", REG, "'..' component"),
    ("/etc/x", REG, "absolute path"),
    ("C:/x", REG, "absolute path"),
    ("a\\..\\x", REG, "backslash"),
    ("link", stat.S_IFLNK | 0o777, "symlink"),
    ("fifo", stat.S_IFIFO | 0o644, "fifo"),
    ("dev", stat.S_IFCHR | 0o644, "char-device"),
    ("blk", stat.S_IFBLK | 0o644, "block-device"),
]


@pytest.mark.parametrize(("name", "mode", "why"), UNSAFE, ids=[u[0] for u in UNSAFE])
def test_unsafe_entries_are_refused_at_submit(
    master: MasterHandle, name: str, mode: int, why: str
) -> None:
    shown = repr(name) if "\\" not in name else "a"  # backslashes come back escaped twice
    refused(master, pack_of(home_zip([(name, b"x", mode)])), shown, why)


def test_count_bomb_is_refused_at_submit(master: MasterHandle) -> None:
    limit = master.state.settings.jobhome_max_entries
    entries = [(f"f{n}", b"", REG) for n in range(limit)]
    refused(master, pack_of(home_zip(entries, zipfile.ZIP_STORED)), str(limit), "max_entries")


def test_zeros_bomb_is_refused_at_submit(master: MasterHandle) -> None:
    zeros = b"\0" * (SMALL_HOME_BYTES + 1)
    refused(master, pack_of(home_zip([("zeros", zeros, REG)])), "'zeros'", "max_bytes")


def _patch_sizes(home: bytes, name: str, size: int) -> bytes:
    """Make ``name``'s headers declare ``size`` decompressed bytes (a lying-size entry)."""
    data = bytearray(home)
    encoded = name.encode()
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        if data[at + 46 : at + 46 + len(encoded)] == encoded:
            struct.pack_into("<I", data, at + 24, size)
            local = struct.unpack_from("<I", data, at + 42)[0]
            struct.pack_into("<I", data, local + 22, size)
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


def test_lying_size_is_refused_at_submit(master: MasterHandle) -> None:
    home = _patch_sizes(home_zip([("liar", b"y" * 1000, REG)]), "liar", 10)
    refused(master, pack_of(home), "'liar'")


def test_ratio_bomb_is_refused_at_submit(master: MasterHandle) -> None:
    home = _patch_sizes(home_zip([("ratio", b"z" * 100, REG)]), "ratio", 3 << 20)
    refused(master, pack_of(home), "'ratio'", "max_ratio")


def test_bad_crc_is_refused_at_submit(master: MasterHandle) -> None:
    home = bytearray(home_zip([("data.txt", b"qqq payload\n" * 20, REG)], zipfile.ZIP_STORED))
    at = home.find(b"qqq payload")
    home[at] ^= 0x20
    refused(master, pack_of(bytes(home)), "'data.txt'", "CRC")


def test_worker_missing_from_the_job_home_is_refused(master: MasterHandle) -> None:
    refused(master, pack_of(home_zip([]), worker="nothere.sh"), "'nothere.sh'", "not a file")


def test_sound_job_home_still_runs(master: MasterHandle) -> None:
    name = submit(master.url, pack_of(home_zip([("lib/data.txt", b"d" * 5000, REG)])))
    status, _ = wait(master.url, name, timeout=60)
    assert status == "ready", events(master.url, name)


BAD_JOBDICTS: list[tuple[str, dict[str, Any], dict[str, str] | None, str]] = [
    ("max-cores-0", {"scheduler": {"max_cores": 0}}, None, "'minimum'"),
    ("max-cores-minus-1", {"scheduler": {"max_cores": -1}}, None, "'minimum'"),
    ("max-cores-lots", {"scheduler": {"max_cores": "lots"}}, None, "'type'"),
    ("max-cores-1.5", {"scheduler": {"max_cores": 1.5}}, None, "'type'"),
    ("worker-7", {"worker": 7}, None, "'type'"),
    ("worker-null", {"worker": None}, None, "'type'"),
    ("owner-object", {"owner": {"who": "me"}}, None, "'type'"),
    ("prefix-array", {"prefix": ["a"]}, None, "'type'"),
    ("prefix-240", {"prefix": "p" * 240}, None, "'maxLength'"),
    ("label-minus-5", {"inputs": [[-5, 0, ["raw://x"]]]}, None, "'minimum'"),
    ("label-10e30", {"inputs": [[10**30, 0, ["raw://x"]]]}, None, "'maximum'"),
    ("env-equals", {}, {"A=B": "1"}, "'propertyNames pattern'"),
    ("env-nul", {}, {"A\0B": "1"}, "'propertyNames pattern'"),
]


@pytest.mark.parametrize(
    ("change", "envs", "rule"), [b[1:] for b in BAD_JOBDICTS], ids=[b[0] for b in BAD_JOBDICTS]
)
def test_bad_jobdict_values_are_refused_at_submit(
    master: MasterHandle, change: dict[str, Any], envs: dict[str, str] | None, rule: str
) -> None:
    field = next(iter(change), "jobenvs")
    refused(master, pack_of(home_zip([]), envs, **change), field, rule)


def test_failed_extraction_kills_the_job_without_retrying(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "localhost").write_text("not a directory")  # every job home mkdir fails
    with ReferenceMaster.start_in_thread(data, nodes="localhost=1", **FAST) as handle:
        name = submit(handle.url, pack_of(home_zip([])))
        status, _ = wait(handle.url, name, timeout=60)
        log = events(handle.url, name)
    assert status == "dead", log
    fatal = [m for m in log if m.startswith("FATAL: [map:0] Jobpack extraction failed")]
    assert len(fatal) == 1, log
    assert not any(m.startswith("WARNING") for m in log), log
    assert sum(m.startswith("map:0 assigned to") for m in log) == 1, log


def test_kill_cancels_an_extraction_in_flight(tmp_path: Path) -> None:
    """Eight 64 MiB entries of zeros: the kill lands while the first ones are written."""
    chunk = 64 << 20
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for n in range(8):
            with archive.open(f"z{n}", "w") as out:
                for _ in range(chunk >> 20):
                    out.write(bytes(1 << 20))
        info = zipfile.ZipInfo("behave.sh", (1980, 1, 1, 0, 0, 0))
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        archive.writestr(info, WORKER)
    with ReferenceMaster.start_in_thread(tmp_path / "data", nodes="localhost=1", **FAST) as handle:
        name = submit(handle.url, pack_of(buffer.getvalue()))
        deadline = time.monotonic() + 60
        job_home = None
        while job_home is None or not (job_home / "z0").exists():  # wait for the first entry
            assert time.monotonic() < deadline, "the extraction never started"
            time.sleep(0.002)
            job_home = next(iter(handle.data_dir.glob(f"localhost/*/{name}")), None)
        assert not (job_home / ".jobhome").exists(), "the extraction ended before the kill"
        reply = httpx.post(f"{handle.url}/disco/ctrl/kill_job", content=f'"{name}"', timeout=60)
        assert reply.status_code == 200
        assert not job_home.exists(), sorted(p.name for p in job_home.iterdir())
        assert wait(handle.url, name)[0] == "dead"
        log = events(handle.url, name)
    assert "WARN: Job killed" in log
    assert not any("FATAL" in m for m in log), log


def test_docs_limits_table_names_real_settings_and_defaults() -> None:
    """docs/master.md's Limits table: each setting it names exists, with the default shown."""
    import attrs

    from pydisco.master.config import MasterSettings

    docs = (Path(__file__).parents[2] / "docs" / "master.md").read_text()
    table = docs.split("### Limits", 1)[1].split("\n## ", 1)[0]
    fields = {f.name: f.default for f in attrs.fields(MasterSettings)}
    shown = {
        "max_jobpack_bytes": "1 GiB",
        "jobhome_max_bytes": "1 GiB",
        "jobhome_max_entries": "10 000",
        "jobhome_max_ratio": "1 100",
        "task_timeout": "none",
        "max_failure_rate": "100",
    }
    as_text = {1 << 30: "1 GiB", None: "none"}
    for name, text in shown.items():
        row = next(line for line in table.splitlines() if f"`{name}`" in line)
        assert f"| {text} |" in row, row
        default = fields[name]
        expected = as_text[default] if default in as_text else f"{default:,}".replace(",", " ")
        assert expected == text, name


def test_disco_crash_reasons_come_with_a_readable_one(master: MasterHandle) -> None:
    reason = refused(master, pack_of(home_zip([]), prefix=5), "The prefix must be a string")
    assert '(Disco: "invalid payload: error:function_clause")' in reason


def test_the_job_home_is_extracted_once_per_job(tmp_path: Path) -> None:
    """Two nodes run the job: the second node's home links the first one's files."""
    nodes = "127.0.0.2=1,127.0.0.3=1"
    home = home_zip([("lib/data.txt", b"d" * 5000, REG)])
    inputs = [[0, 0, ["http://127.0.0.2/x"]], [0, 0, ["http://127.0.0.3/y"]]]
    with ReferenceMaster.start_in_thread(tmp_path / "data", nodes=nodes, **FAST) as handle:
        name = submit(handle.url, pack_of(home, inputs=inputs))
        assert wait(handle.url, name)[0] == "ready", events(handle.url, name)
        homes = [next(handle.data_dir.glob(f"{n}/*/{name}")) for n in ("127.0.0.2", "127.0.0.3")]
    for entry in ("behave.sh", "lib/data.txt"):
        first, second = ((h / entry).stat() for h in homes)
        assert (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino), entry
    assert (homes[1] / "behave.sh").stat().st_mode & 0o111
