"""A headless Chromium from the distribution's packages, driven by Selenium, for tests that look at pages.

Selenium is given the browser and its driver explicitly, so it never tries to download either.
Without them the browser tests are skipped, unless PROCMESH_REQUIRE_BROWSER=1 (as .ci/run sets).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DESKTOP = (1280, 800)
PHONE = (390, 844)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")


def browser(profile: Path) -> Iterator[webdriver.Chrome]:
    """A fresh browser with its own profile folder, quit afterwards."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        reason = f"needs the chromium and chromium-driver packages ({', '.join(missing)} missing)"
        if os.environ.get("PROCMESH_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (PROCMESH_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshots(driver: webdriver.Chrome, folder: Path, name: str) -> list[Path]:
    """The page at desktop and at phone size, as PNG files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
        driver.set_window_size(width, height)
        path = folder / f"{name}-{label}.png"
        driver.save_screenshot(str(path))
        shots.append(path)
    driver.set_window_size(*DESKTOP)
    return shots
