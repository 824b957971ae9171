"""The HTML certificate in a real browser: verdict visible, language toggle, hostile evidence inert.

Uses Debian's /usr/bin/chromium through playwright (never `playwright install`), from file://,
with every network request recorded: a self-contained report makes none.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests.unit.report.sample_report

from harness.report.document import REPO_ROOT
from harness.report.render import render_all
from tests.integration.browser import chromium_page
from tests.unit.report.sample_report import sample_report

SCREENSHOT = REPO_ROOT / "reports" / "runs" / "screenshots" / "report.png"
FAILED_IDS = ("AUTH-JWT-ALG-NONE", "SAST-HARDCODED-SECRET", "CONF-SCHEMA-RESPONSES")

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _highest_point(points: str) -> float:
    return min(float(pair.split(",")[1]) for pair in points.split())


@pytest.fixture(scope="module")
def page_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_all(sample_report(), tmp_path_factory.mktemp("html"), formats=("html",))["html"]


def test_report_in_headless_chromium(page_html: Path) -> None:
    with chromium_page({"width": 1200, "height": 1600}) as page:
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(page_html.as_uri(), wait_until="load", timeout=30_000)

        # The verdict is the first thing on the page, in Vietnamese by default.
        verdict = page.locator("#verdict")
        assert verdict.is_visible()
        assert "KHÔNG ĐẠT CHỨNG NHẬN" in verdict.inner_text()
        assert "NOT CERTIFIED" in verdict.inner_text()  # the machine verdict code, always shown
        for check_id in FAILED_IDS:
            assert page.locator(f"#check-{check_id} .check-id").is_visible()
        assert page.locator("#verdict .big .en").is_hidden()

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        # The toggle switches every UI string to English (and proves the CSP allows our script).
        page.click("#lang-toggle")
        assert page.locator("html").get_attribute("data-lang") == "en"
        assert page.locator("#verdict .big .en").is_visible()
        assert page.locator("#verdict .big .vi").is_hidden()
        assert page.locator("#verdict .big").inner_text().strip() == "NOT CERTIFIED"
        page.click("#lang-toggle")
        assert page.locator("html").get_attribute("data-lang") == "vi"

        # The SUT's <script> and <img onerror> payloads are shown as text, never run.
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.evaluate("typeof window.__pwned_img") == "undefined"
        assert page.title() != "PWNED" and not dialogs
        assert page.locator("#check-AUTH-JWT-ALG-NONE pre").filter(
            has_text="<script>window.__pwned = true;").count() == 1
        assert page.locator("#failures img").count() == 0
        # Every verdict reason and summary-table link lands on its failed check.
        links = page.locator("#verdict-reasons a.reason-link, #suite-summary a.check-link")
        assert links.count() >= 4
        for index in range(links.count()):
            target = links.nth(index).get_attribute("href")
            assert target and page.locator(target).count() == 1, target
        page.locator("#verdict-reasons a.reason-link").first.click()
        assert page.evaluate("location.hash") == "#check-AUTH-JWT-ALG-NONE"
        assert page.locator("#check-AUTH-JWT-ALG-NONE").is_visible()
        assert page.evaluate("document.getElementById('check-AUTH-JWT-ALG-NONE')"
                             ".getBoundingClientRect().top") < 200  # scrolled to it
        # Waived failures are marked in All results; Vietnamese texts show by default.
        waived = page.locator("#result-LOAD-LATENCY-P99 .status-waived")
        assert waived.is_visible() and "đã miễn trừ" in waived.inner_text()
        assert page.locator("#check-AUTH-JWT-ALG-NONE h3 .vi").is_visible()
        # Charts: percentiles as three lines (p99 drawn from p99 data), errors by type.
        latency = page.locator("figure[data-chart='Latency percentiles'] svg polyline")
        assert latency.count() == 3
        series = [latency.nth(i).get_attribute("data-series") for i in range(3)]
        assert series == ["p50", "p95", "p99"]
        p95_top = _highest_point(latency.nth(1).get_attribute("points") or "")
        p99_top = _highest_point(latency.nth(2).get_attribute("points") or "")
        assert p99_top < p95_top  # SVG y grows downwards: p99 is drawn above p95
        assert page.locator("figure[data-chart='Errors by type'] svg").is_visible()

        # Self-contained: nothing but the file itself was requested.
        assert page.requests == [page_html.as_uri()]
    assert SCREENSHOT.stat().st_size > 10_000
