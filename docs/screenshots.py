"""Takes the screenshots of the master's status page shown in docs/master.md.

It starts a master with two nodes on loopback addresses, runs a few small jobs
(a two-stage job with a retried task, a job that dies, a job left running), and
saves one PNG per page with headless Chromium (Debian's ``chromium`` and
``chromium-driver``). Run from the repository root::

    .venv/bin/python docs/screenshots.py            # writes docs/webui-*.png
    .venv/bin/python docs/screenshots.py --out /tmp/shots --pause 0
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from pydisco.jobpack import jobpack_bytes
from pydisco.master import ReferenceMaster

DOCS = Path(__file__).parent
WORKER = DOCS.parent / "tests" / "webui" / "workers" / "ui.sh"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
WIDTH = 1280


def pack(
    work: Path, prefix: str, owner: str, envs: dict[str, str], *, inputs: int, stages: int
) -> bytes:
    """A job pack running the tests' ``ui.sh`` worker: one task per input, split stages."""
    home = work / f"home-{time.monotonic_ns()}"
    home.mkdir()
    shutil.copy(WORKER, home / WORKER.name)
    jobdict = {
        "prefix": prefix,
        "worker": WORKER.name,
        "owner": owner,
        "scheduler": {},
        "pipeline": [[name, "split", False] for name in ("map", "reduce")[:stages]],
        "inputs": [[n, 0, [f"raw://line-{n}"]] for n in range(inputs)],
        "save_results": False,
    }
    return jobpack_bytes(jobdict=jobdict, jobenvs=envs, jobhome=home, version=2)


def submit(url: str, data: bytes) -> str:
    status, name = httpx.post(f"{url}/disco/job/new", content=data, timeout=60).json()
    if status != "ok":
        raise SystemExit(f"the master refused a job: {name}")
    return str(name)


def wait(url: str, name: str) -> str:
    while True:
        body = json.dumps([2000, [name]])
        [[_, [status, _results]]] = httpx.post(
            f"{url}/disco/ctrl/get_results", content=body, timeout=60
        ).json()
        if status != "active":
            return str(status)


def shoot(driver: Any, url: str, work: Path, out: Path, pause: float) -> list[Path]:
    """Run the jobs on the master at ``url`` and save one screenshot per page in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (work / "markers").mkdir(exist_ok=True)
    slow = {"PAUSE": str(pause)} if pause else {}
    first = submit(url, pack(work, "Tokenize", "ana@lab", slow, inputs=3, stages=1))
    wait(url, first)
    counted = submit(
        url,
        pack(
            work,
            "WordCount",
            "ana@lab",
            {**slow, "FAIL_ONCE": "map:1", "MARKER_DIR": str(work / "markers")},
            inputs=6,
            stages=2,
        ),
    )
    wait(url, counted)
    broken = submit(
        url, pack(work, "Broken", "bo@lab", {"FATAL": '"input is not UTF-8"'}, inputs=1, stages=1)
    )
    wait(url, broken)
    release = work / "release"
    running = submit(
        url, pack(work, "Nightly", "bo@lab", {"RELEASE": str(release)}, inputs=2, stages=2)
    )
    pages = [
        ("jobs", "#/jobs", "#job-rows td.owner:not(:empty)"),
        ("job", "#/job/" + urllib.parse.quote(counted, safe=""), "#jobdict dl"),
        ("job-running", "#/job/" + urllib.parse.quote(running, safe=""), ".tl-bar"),
        ("nodes", "#/nodes", "#node-rows td.tasks a"),
        ("settings", "#/settings", "#setting-max_failure_rate"),
    ]
    saved = []
    try:
        for name, where, ready in pages:
            driver.set_window_size(WIDTH, 800)
            driver.get("about:blank")
            driver.get(f"{url}/{where}")
            WebDriverWait(driver, 30, poll_frequency=0.05).until(
                lambda d, css=ready: d.execute_script(
                    "return document.querySelectorAll(arguments[0]).length", css
                ),
                f"the {name} page never showed {ready}",
            )
            height, chrome = driver.execute_script(
                "return [document.documentElement.scrollHeight,"
                " window.outerHeight - window.innerHeight]"
            )
            driver.set_window_size(WIDTH, min(int(height), 2400) + int(chrome))
            path = out / f"webui-{name}.png"
            driver.save_screenshot(str(path))
            saved.append(path)
    finally:
        release.touch()
        wait(url, running)
    return saved


def browser(profile: Path) -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshots of the master's status page.")
    parser.add_argument("--out", type=Path, default=DOCS, help="where the PNG files go")
    parser.add_argument("--pause", type=float, default=0.4, help="seconds each task sleeps")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="webui-shots-") as tmp:
        work = Path(tmp)
        nodes = "127.0.0.2=2,127.0.0.3=2"
        with ReferenceMaster.start_in_thread(work / "data", nodes=nodes, retry_delay=0.0) as master:
            driver = browser(work / "profile")
            try:
                for path in shoot(driver, master.url, work, args.out, args.pause):
                    print(path)
            finally:
                driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
