"""Helpers for the status page's tests: job packs for ``workers/ui.sh``, a driven browser."""

from __future__ import annotations

import shutil
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from pydisco.jobpack import jobpack_bytes

WORKER = Path(__file__).parent / "workers" / "ui.sh"
#: How long a page may take to show what a test waits for (a bound, not a pace).
PATIENCE = 30.0


def ui_pack(
    tmp_path: Path,
    *,
    prefix: str = "Web",
    owner: str = "tester@localhost",
    envs: dict[str, str] | None = None,
    inputs: list[str] | None = None,
    stages: tuple[str, ...] = ("map",),
) -> bytes:
    """A v2 job pack running ``ui.sh``: one task per raw input, each stage ``split``."""
    home = tmp_path / f"home-{time.monotonic_ns()}"
    home.mkdir()
    shutil.copy(WORKER, home / WORKER.name)
    jobdict = {
        "prefix": prefix,
        "worker": WORKER.name,
        "owner": owner,
        "scheduler": {},
        "pipeline": [[stage, "split", False] for stage in stages],
        "inputs": [[n, 0, [url]] for n, url in enumerate(inputs or ["raw://one"])],
        "save_results": False,
    }
    return jobpack_bytes(jobdict=jobdict, jobenvs=envs or {}, jobhome=home, version=2)


def fragment(name: str) -> str:
    """The page address of job ``name``."""
    return "#/job/" + urllib.parse.quote(name, safe="")


class UI:
    """A browser pointed at one master; screenshots go to ``shots``."""

    def __init__(self, driver: WebDriver, url: str, shots: Path) -> None:
        self.driver = driver
        self.url = url
        self.shots = shots

    def open(self, where: str = "") -> None:
        """Load the page afresh at ``where`` (a ``#/...`` fragment)."""
        self.driver.get("about:blank")
        self.driver.get(f"{self.url}/{where}")

    def until(self, condition: Callable[[WebDriver], Any], what: str) -> Any:
        """Wait for ``condition`` to be truthy (a DOM condition, not a duration)."""
        return WebDriverWait(
            self.driver,
            PATIENCE,
            poll_frequency=0.05,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        ).until(condition, f"the page never showed {what}")

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def click(self, css: str) -> None:
        """Click the first match, finding it again if the page re-rendered it meanwhile."""

        def press(driver: WebDriver) -> bool:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return True

        self.until(press, f"{css} to click")

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def texts(self, css: str) -> list[str]:
        """The ``textContent`` of every match (exact, whatever the layout), read at once."""
        script = "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)"
        return list(self.driver.execute_script(script, css))

    def attrs(self, css: str, name: str) -> list[str | None]:
        """Attribute ``name`` of every match, read at once (the page re-renders as it polls)."""
        script = (
            "return [...document.querySelectorAll(arguments[0])]"
            ".map(e => e.getAttribute(arguments[1]))"
        )
        return list(self.driver.execute_script(script, css, name))

    def attr(self, css: str, name: str) -> str | None:
        """Attribute ``name`` of the first match (``None`` when nothing matches)."""
        found = self.attrs(css, name)
        return found[0] if found else None

    def shot(self, name: str) -> Path:
        """A screenshot of the window, saved under the test's tmp dir."""
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), path
        return path

    def errors(self) -> list[str]:
        """Severe messages from the browser console (script errors, CSP refusals)."""
        return [
            str(entry["message"])
            for entry in self.driver.get_log("browser")
            # a 401 or 404 the page expects is logged as a failed load: not an error of the page
            if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]
        ]
