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
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
from selenium.webdriver.support.ui import WebDriverWait

from pydisco.master import ReferenceMaster

# The browser and the job packs are the status page tests', from this checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.webui.chromium import start_chromium
from tests.webui.helpers import ui_pack

DOCS = Path(__file__).parent
WIDTH = 1280


def pack(
    work: Path, prefix: str, owner: str, envs: dict[str, str], *, inputs: int, stages: int
) -> bytes:
    """A job pack running the tests' ``ui.sh`` worker: ``inputs`` tasks, ``stages`` stages."""
    urls = [f"raw://line-{n}" for n in range(inputs)]
    stage_names = ("map", "reduce")[:stages]
    return ui_pack(work, prefix=prefix, owner=owner, envs=envs, inputs=urls, stages=stage_names)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshots of the master's status page.")
    parser.add_argument("--out", type=Path, default=DOCS, help="where the PNG files go")
    parser.add_argument("--pause", type=float, default=0.4, help="seconds each task sleeps")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="webui-shots-") as tmp:
        work = Path(tmp)
        nodes = "127.0.0.2=2,127.0.0.3=2"
        with ReferenceMaster.start_in_thread(work / "data", nodes=nodes, retry_delay=0.0) as master:
            driver = start_chromium(work / "profile", "--hide-scrollbars")
            try:
                for path in shoot(driver, master.url, work, args.out, args.pause):
                    print(path)
            finally:
                driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
