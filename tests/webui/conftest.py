"""One master with a few real jobs, and one headless Chromium, per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.webui.chromium import CHROMEDRIVER, CHROMIUM, WINDOW, start_chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Debian's chromium through its chromedriver, headless, with a fresh profile."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            "The browser tests need Debian's chromium and chromium-driver: "
            "apt-get install chromium chromium-driver (.ci/run installs them)."
        )
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"), WINDOW, console_log=True)
    try:
        yield driver
    finally:
        driver.quit()
