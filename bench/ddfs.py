"""DDFS under load: does a busy DDFS slow the master's other endpoints down?

A reference master runs as a child process (``discotool master``), so the load
and the probe in this process do not share its interpreter. Each round first
times ``GET /disco/ctrl/joblist`` on an idle master (the baseline), then times
the same probe while another thread loads DDFS: it uploads ``--blobs`` blobs
into one tag (``--batch`` replica sets per tag POST, so the tag grows to every
blob) and creates ``--tags`` tags, listing them all after each batch. The
figure is the median over rounds of each round's ratio (median probe latency
under load / median idle probe latency). The load's own throughput (blobs/s,
tag POSTs while the tag grows, listings of every tag) is printed too.

    .venv/bin/python bench/ddfs.py                           # 10,000 blobs, 1,000 tags
    .venv/bin/python bench/ddfs.py --blobs 2000 --tags 200 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

#: Seconds between two probes (the probe samples the master; it should not load it).
PROBE_PAUSE = 0.005


def probe(url: str, stop: threading.Event, count: int | None = None) -> list[float]:
    """Latencies (s) of ``joblist`` requests, until ``stop`` is set (or ``count`` are done)."""
    latencies: list[float] = []
    with httpx.Client(base_url=url, timeout=120) as http:
        while not stop.is_set() and (count is None or len(latencies) < count):
            start = time.perf_counter()
            http.get("/disco/ctrl/joblist").raise_for_status()
            latencies.append(time.perf_counter() - start)
            stop.wait(PROBE_PAUSE)
    return latencies


def start_master(data: Path) -> tuple[subprocess.Popen[str], str]:
    """``discotool master`` on free ports; the process and its URL."""
    command = [sys.executable, "-m", "pydisco", "master", "--port", "0", "--data", str(data)]
    process = subprocess.Popen(
        [*command, "--nodes", "localhost=1"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def run_round(url: str, args: argparse.Namespace, round_no: int) -> float:
    """One round: idle probes, then probes under load; the ratio of the medians."""
    idle = probe(url, threading.Event(), count=200)
    stop = threading.Event()
    loaded: list[float] = []
    prober = threading.Thread(target=lambda: loaded.extend(probe(url, stop)))
    prober.start()
    start = time.perf_counter()
    timings = load(url, args.blobs, args.batch, args.tags, round_no)
    elapsed = time.perf_counter() - start
    stop.set()
    prober.join()
    ratio = statistics.median(loaded) / statistics.median(idle)
    print(
        f"round {round_no}: {elapsed:.1f} s load; "
        f"{args.blobs / timings['upload']:.0f} blobs/s uploaded; "
        f"{1000 * timings['tag_post'] / timings['posts']:.1f} ms per POST of "
        f"{args.batch} sets (tag growing to {args.blobs}); "
        f"{1000 * timings['list'] / timings['lists']:.1f} ms per listing "
        f"(up to {args.tags} tags); joblist median "
        f"{1000 * statistics.median(idle):.2f} ms idle, "
        f"{1000 * statistics.median(loaded):.2f} ms loaded "
        f"({len(loaded)} probes): {ratio:.2f}x"
    )
    return ratio


def load(url: str, blobs: int, batch: int, tags: int, round_no: int) -> dict[str, float]:
    """Fill one tag with ``blobs`` blobs and create ``tags`` tags; timings of each part."""
    tag = f"bench:{round_no}:big"
    payload = b"a line of a blob\n" * 4
    timings = {"upload": 0.0, "tag_post": 0.0, "list": 0.0, "posts": 0, "lists": 0}
    with httpx.Client(base_url=url, timeout=120) as http:
        for first in range(0, blobs, batch):
            sets = []
            start = time.perf_counter()
            for n in range(first, min(first + batch, blobs)):
                (target,) = http.get(f"/ddfs/new_blob/blob-{n}").json()
                sets.append([http.put(target, content=payload).json()])
            timings["upload"] += time.perf_counter() - start
            start = time.perf_counter()
            http.post(f"/ddfs/tag/{tag}", content=json.dumps(sets)).raise_for_status()
            timings["tag_post"] += time.perf_counter() - start
            timings["posts"] += 1
        for n in range(tags):
            http.post(f"/ddfs/tag/bench:{round_no}:t{n:05d}", content="[]").raise_for_status()
            if n % batch == batch - 1 or n == tags - 1:
                start = time.perf_counter()
                listed = http.get(f"/ddfs/tags/bench:{round_no}:t").json()
                timings["list"] += time.perf_counter() - start
                timings["lists"] += 1
                assert len(listed) == n + 1
        assert len(http.get(f"/ddfs/tag/{tag}").json()["urls"]) == blobs
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--tags", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ddfs-") as tmp:
        process, url = start_master(Path(tmp) / "data")
        try:
            ratios = [run_round(url, args, n) for n in range(args.rounds)]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
    print(f"median of the rounds' ratios: {statistics.median(ratios):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
