"""Headless Debian Chromium for the browser tests, through playwright (never `playwright install`).

``chromium_page(viewport)`` yields a page that records in ``page.requests`` every URL it asks
for (a self-contained page asks for nothing but its own file); the test is skipped when
/usr/bin/chromium or playwright is missing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--disable-extensions", "--no-first-run"]


@contextlib.contextmanager
def chromium_page(viewport: dict[str, int]) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             timeout=60_000, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport)
            page.requests = []
            page.on("request", lambda request: page.requests.append(request.url))
            yield page
        finally:
            browser.close()
