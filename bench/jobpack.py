"""Benchmark: write and read a job pack with a large job home, in bounded memory.

Each measured step runs in a fresh child process, which reports its wall
time and its peak resident memory (``resource.getrusage`` ``ru_maxrss``), so
one step's allocations cannot hide another's. Throughput is reported as a
ratio against a baseline measured in the same run: ``shutil.copyfileobj`` of
the same bytes with the same 1 MiB buffer.

    python bench/jobpack.py                 # 1024 MB job home
    python bench/jobpack.py --size-mb 256   # quicker
    python bench/jobpack.py --deflate       # also time a deflated job home

Each step runs twice (after ``os.sync()``) and the faster run counts; peak
memory is the larger of the two. Exit status 1 if any step's peak memory
exceeds --max-rss-mb (default 100).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

FILE_MB = 64
CHUNK = 1 << 20


def make_home(root: Path, size_mb: int) -> Path:
    """A job home with a worker and ``size_mb`` MB of random data in 64 MB files."""
    home = root / "home"
    (home / "data").mkdir(parents=True)
    (home / "worker.py").write_text("#!/usr/bin/env python3\n")
    left = size_mb
    index = 0
    while left > 0:
        mb = min(FILE_MB, left)
        with (home / "data" / f"part-{index:04}").open("wb") as out:
            for _ in range(mb):
                out.write(os.urandom(CHUNK))
        left -= mb
        index += 1
    return home


def home_files(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.is_file())


# Steps (run in child processes).


def step_baseline_write(home: Path, out: Path) -> None:
    with out.open("wb") as dst:
        for path in home_files(home):
            with path.open("rb") as src:
                shutil.copyfileobj(src, dst, CHUNK)


def step_baseline_read(src_path: Path) -> None:
    with src_path.open("rb") as src, open(os.devnull, "wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK)


def step_write(home: Path, out: Path, compression: int) -> None:
    from pydisco import jobpack

    with out.open("wb") as dst:
        jobpack.build_jobpack(
            dst,
            home,
            worker="worker.py",
            inputs=["http://localhost/in"],
            jobdata=b"x" * 1000,
            compression=compression,
        )


def step_read_section(pack: Path) -> None:
    from pydisco import jobpack

    with (
        jobpack.JobPack.open(pack) as jp,
        jp.open_jobhome() as section,
        open(os.devnull, "wb") as dst,
    ):
        shutil.copyfileobj(section, dst, CHUNK)


def step_extract(pack: Path, dest: Path) -> None:
    from pydisco import jobpack

    jobpack.extract_jobhome(pack, dest)


def child(step: str, args: list[str]) -> None:
    import pydisco.jobpack  # noqa: F401 - import time is not part of any step

    start = time.perf_counter()
    paths = [Path(a) for a in args]
    if step == "baseline_write":
        step_baseline_write(paths[0], paths[1])
    elif step == "baseline_read":
        step_baseline_read(paths[0])
    elif step == "write_stored":
        step_write(paths[0], paths[1], zipfile.ZIP_STORED)
    elif step == "write_deflated":
        step_write(paths[0], paths[1], zipfile.ZIP_DEFLATED)
    elif step == "read_section":
        step_read_section(paths[0])
    elif step == "extract":
        step_extract(paths[0], paths[1])
    else:
        raise SystemExit(f"unknown step {step}")
    elapsed = time.perf_counter() - start
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "max_rss_mb": rss_kb / 1024}))


REPEAT = 2


def run(step: str, *args: Path) -> dict[str, Any]:
    """Best of REPEAT runs of a step, each in a fresh child after flushing dirty pages."""
    best: dict[str, Any] = {}
    for _ in range(REPEAT):
        for arg in args:
            if arg.is_dir() and arg.name.startswith("out"):
                shutil.rmtree(arg)
        os.sync()
        done = subprocess.run(
            [sys.executable, __file__, "--child", step, *map(str, args)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if not best or result["seconds"] < best["seconds"]:
            best = {**result, "max_rss_mb": max(result["max_rss_mb"], best.get("max_rss_mb", 0))}
        else:
            best["max_rss_mb"] = max(best["max_rss_mb"], result["max_rss_mb"])
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="job home size (default 1024)")
    parser.add_argument("--deflate", action="store_true", help="also time a deflated job home")
    parser.add_argument("--max-rss-mb", type=float, default=100.0)
    parser.add_argument("--tmp", help="directory for the temporary files")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        child(opts.child[0], opts.child[1:])
        return 0
    with tempfile.TemporaryDirectory(dir=opts.tmp, prefix="jobpack-bench-") as tmp:
        root = Path(tmp)
        home = make_home(root, opts.size_mb)
        size = sum(p.stat().st_size for p in home_files(home)) / 1e6
        rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        copy = run("baseline_write", home, root / "copy.bin")
        base_read = run("baseline_read", root / "copy.bin")
        (root / "copy.bin").unlink()
        pack = root / "stored.pack"
        rows.append(("write (stored)", run("write_stored", home, pack), copy))
        rows.append(("read job home section", run("read_section", pack), base_read))
        rows.append(("extract job home", run("extract", pack, root / "out"), copy))
        shutil.rmtree(root / "out")
        if opts.deflate:
            pack.unlink()
            pack = root / "deflated.pack"
            rows.append(("write (deflated)", run("write_deflated", home, pack), copy))
            rows.append(("extract (deflated)", run("extract", pack, root / "out2"), copy))
        print(
            f"job home: {size:.0f} MB of random data in {FILE_MB} MB files; Python "
            f"{sys.version.split()[0]}"
        )
        print(
            f"baseline copyfileobj: write {size / copy['seconds']:.0f} MB/s, read "
            f"{size / base_read['seconds']:.0f} MB/s, peak RSS "
            f"{max(copy['max_rss_mb'], base_read['max_rss_mb']):.1f} MB"
        )
        print(f"{'step':24} {'MB/s':>8} {'vs baseline':>12} {'peak RSS MB':>12}")
        worst = 0.0
        for name, result, base in rows:
            rate = size / result["seconds"]
            ratio = base["seconds"] / result["seconds"]
            worst = max(worst, result["max_rss_mb"])
            print(f"{name:24} {rate:8.0f} {ratio:11.2f}x {result['max_rss_mb']:12.1f}")
        ok = worst <= opts.max_rss_mb
        verdict = "within" if ok else "OVER"
        print(f"peak RSS {worst:.1f} MB {verdict} the {opts.max_rss_mb:.0f} MB budget")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
