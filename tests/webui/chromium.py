"""Debian's headless Chromium through its chromedriver, started one way for every user.

The status page's tests (``conftest.py``), ``docs/screenshots.py`` and
``bench/webui.py`` all drive the same browser with the same flags; only the
window (a fixed size, or no scrollbars for screenshots) and whether the console
is recorded differ.
"""

from __future__ import annotations

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Headless, no sandbox (containers), and nothing that talks to the network on its own.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: The window the tests and the benchmark use.
WINDOW = "--window-size=1280,1000"


def start_chromium(profile: Path, *extra: str, console_log: bool = False) -> WebDriver:
    """A headless Chromium with a fresh profile in ``profile``, and ``extra`` flags.

    With ``console_log`` the browser console is kept, for ``driver.get_log("browser")``.
    The caller quits the driver.
    """
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, *extra):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
