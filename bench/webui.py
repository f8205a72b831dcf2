"""How fast the status page's jobs list renders with many jobs, in headless Chromium.

A real master restores N finished jobs from its data directory (written directly
in the master's on-disk layout: a job pack, ``state.json`` and ``events`` each),
and the page at ``/#/jobs`` is loaded afresh. Measured in the page, from the
start of navigation (``performance.now()``):

* ``table``: the joblist is fetched, sorted, filtered and the first page of rows
  is on screen (the count says N jobs);
* ``details``: every shown row has its owner and duration (one jobinfo and one
  jobevents per shown row, four at a time);
* ``refilter``: choosing a status in the filter re-renders the list (in the page,
  synchronously).

The baseline is the same page with 100 jobs, in the same process, rounds
interleaved; the figures are medians. Usage::

    .venv/bin/python bench/webui.py [--jobs 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from selenium.webdriver.support.ui import WebDriverWait

from pydisco import jsoncodec
from pydisco.master import ReferenceMaster
from pydisco.master.layout import hexhash, local_time

# The browser setup is the one the status page's tests use, from this checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.webui.chromium import WINDOW, start_chromium

#: Runs in the page before its own script: notes when the list and the details appear.
PROBE = """
window.__bench = {};
new MutationObserver(() => {
  const b = window.__bench;
  const count = document.getElementById("job-count");
  if (!b.table && count && count.textContent === window.__benchExpect) b.table = performance.now();
  if (b.table && !b.details) {
    const cells = document.querySelectorAll("#job-rows td.duration");
    if (cells.length && [...cells].every((c) => c.textContent)) b.details = performance.now();
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

REFILTER = """
const select = document.getElementById("status-filter");
const start = performance.now();
select.value = "dead";
select.dispatchEvent(new Event("change"));
const middle = performance.now();
select.value = "";
select.dispatchEvent(new Event("change"));
return [middle - start, performance.now() - middle];
"""


def write_jobs(data: Path, count: int) -> None:
    """``count`` finished jobs in the layout a master with ``port=0`` restores."""
    root = data / "_disco_0"
    start = time.time() - count
    for n in range(count):
        created = start + n
        name = f"Bench@{int(created) >> 20:x}:{int(created) & 0xFFFFF:x}:{n:x}"
        job = root / hexhash(name) / name
        job.mkdir(parents=True)
        (job / "jobfile").write_bytes(b"")
        status = "dead" if n % 10 == 0 else "ready"
        record = {
            "name": name,
            "status": status,
            "created": created,
            "owner": f"user{n % 7}@host",
            "worker": "worker.sh",
            "inputs": [f"raw://input-{n}"],
            "pipeline": [["map", 0, 0, 0, 1, 0]],
            "results": [],
            "stage_results": {},
        }
        (job / "state.json").write_bytes(jsoncodec.dumps(record))
        last = "READY: Job done in 0:00:00.250" if status == "ready" else "WARN: Job killed"
        lines = [
            [local_time(created), "master", "New job initialized!"],
            [local_time(created), "master", f'Created job "{name}"'],
            [local_time(created + 1), "master", last],
        ]
        (job / "events").write_text("".join(jsoncodec.dumps_text(e) + "\n" for e in lines))


def browser(profile: Path) -> Any:
    driver = start_chromium(profile, WINDOW)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
    return driver


def measure(driver: Any, url: str, count: int) -> dict[str, float]:
    driver.get("about:blank")
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": f"window.__benchExpect = {jsoncodec.dumps_text(f'{count} jobs')};"},
    )
    driver.get(f"{url}/#/jobs")
    wait = WebDriverWait(driver, 120, poll_frequency=0.02)
    marks = wait.until(
        lambda d: d.execute_script("const b = window.__bench; return b.details && b")
    )
    dead, every = driver.execute_script(REFILTER)
    return {"table": marks["table"], "details": marks["details"], "refilter": dead + every}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-webui-") as tmp:
        base = Path(tmp)
        written = time.perf_counter()
        for count in (args.baseline, args.jobs):
            write_jobs(base / str(count), count)
        print(f"wrote {args.jobs + args.baseline} jobs in {time.perf_counter() - written:.1f} s")
        with (
            ReferenceMaster.start_in_thread(base / str(args.baseline)) as small,
            ReferenceMaster.start_in_thread(base / str(args.jobs)) as large,
        ):
            driver = browser(base / "profile")
            try:
                results: dict[int, list[dict[str, float]]] = {args.baseline: [], args.jobs: []}
                measure(driver, small.url, args.baseline)  # warm-up: caches, JIT
                for _ in range(args.rounds):
                    for count, master in ((args.baseline, small), (args.jobs, large)):
                        results[count].append(measure(driver, master.url, count))
            finally:
                driver.quit()
    print(f"median of {args.rounds} interleaved rounds, ms from the start of navigation:")
    print(f"{'':>10} {f'{args.baseline} jobs':>12} {f'{args.jobs} jobs':>12} {'ratio':>7}")
    for key in ("table", "details", "refilter"):
        small_ms = statistics.median(r[key] for r in results[args.baseline])
        large_ms = statistics.median(r[key] for r in results[args.jobs])
        ratio = large_ms / small_ms if small_ms else float("nan")
        print(f"{key:>10} {small_ms:>12.1f} {large_ms:>12.1f} {ratio:>6.2f}x")
    table = statistics.median(r["table"] for r in results[args.jobs])
    print(f"{args.jobs} jobs: the list is on screen {table:.0f} ms after navigation starts")
    return 0 if table < 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
