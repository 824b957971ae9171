"""The printable certificate and the registry site in headless Chromium (Debian's, via playwright):
bilingual, self-contained (no request but the file), search and language toggle working, text from
reports shown as text."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.certificate.issue import issue_certificate
from harness.certificate.model import now_utc
from harness.certificate.site import render_site
from harness.signing.keys import load_private_key
from tests.integration.browser import CHROMIUM, chromium_page
from tests.unit.certificate.conftest import Lab, certified, make_lab

SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "runs" / "screenshots"
HOSTILE = '<script>window.__pwned = true</script>Xã <img src=x onerror="window.__img = 1">'

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    return make_lab(tmp_path, monkeypatch)


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium_page({"width": 1100, "height": 1400}) as page:
        yield page


def _issue(lab: Lab, system: str, name: str, days_ago: int = 0, profile: str = "district"):
    report = certified(profile, system=system)
    report["run"]["id"] = f"system/{name}"  # each certification is its own run
    return issue_certificate(lab.report(report, name=name), lab.key,
                             registry=lab.registry, assessor="Phạm Thu Hà",
                             now=now_utc() - timedelta(days=days_ago))


def test_certificate_page_is_bilingual_printable_and_inert(lab: Lab, page: Any) -> None:
    issued = _issue(lab, HOSTILE, "one")
    page.goto(issued.page_path.as_uri(), wait_until="load", timeout=30_000)
    assert page.locator("#title-vi").inner_text() == "GIẤY CHỨNG NHẬN ĐỦ ĐIỀU KIỆN KẾT NỐI"
    assert "National Population Database" in page.locator("#title-en").inner_text()
    assert page.locator("#serial").inner_text() == issued.certificate.serial
    assert page.locator("#system").inner_text().startswith("<script>window.__pwned")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("typeof window.__img") == "undefined"
    assert page.locator("#fp-firewall").inner_text() == "sha256:" + "a" * 64
    not_after = issued.certificate.document["not_after"][:10]
    assert not_after in page.locator("#validity").inner_text()
    assert page.requests == [issued.page_path.as_uri()]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "certificate.png"), full_page=True)
    pdf = page.pdf(format="A4")  # the print layout fits one A4 sheet
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1


def test_registry_site_statuses_history_search_and_language(lab: Lab, page: Any,
                                                            tmp_path: Path) -> None:
    # Hà Nội: certified twice (history + trend), the newest valid.
    _issue(lab, "Cổng dịch vụ công Hà Nội", "hn1", days_ago=700)
    _issue(lab, "Cổng dịch vụ công Hà Nội", "hn2", days_ago=10)
    _issue(lab, "Hệ thống TTHC Hải Phòng", "hp", days_ago=715)      # district: 730 days -> expiring
    _issue(lab, "Hệ thống TTHC Đà Nẵng", "dn", days_ago=400, profile="ministry")  # 365 -> expired
    revoked = _issue(lab, "Hệ thống TTHC Cần Thơ", "ct", days_ago=30)
    lab.registry.revoke(revoked.certificate.serial, "chính sách tường lửa thay đổi / firewall changed",
                        load_private_key(lab.key))
    _issue(lab, HOSTILE, "hostile")
    index = render_site(lab.registry, tmp_path / "site")

    page.goto(index.as_uri(), wait_until="load", timeout=30_000)
    systems = page.locator("section.system")
    assert systems.count() == 5
    status = {systems.nth(i).locator("h2").inner_text().split("\n")[0]:
              systems.nth(i).get_attribute("data-status") for i in range(5)}
    assert status["Cổng dịch vụ công Hà Nội Còn hiệu lực"] == "valid"
    assert sorted(status.values()) == ["expired", "expiring", "revoked", "valid", "valid"]
    hanoi = systems.filter(has=page.locator("h2", has_text="Cổng dịch vụ công Hà Nội"))
    assert hanoi.locator("tr.cert").count() == 2
    assert hanoi.locator("svg.trend circle").count() == 2
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "registry.png"), full_page=True)

    page.fill("#search", "hải phòng")
    assert page.locator("section.system:visible").count() == 1
    assert page.locator("#shown-count").inner_text() == "1"
    page.fill("#search", revoked.certificate.serial.lower())
    assert page.locator("section.system:visible").count() == 1
    page.fill("#search", "")
    assert page.locator("section.system:visible").count() == 5

    assert page.locator("#counts .vi").first.is_visible()
    page.click("#lang-toggle")
    assert page.locator("html").get_attribute("data-lang") == "en"
    assert page.locator("#counts .en").first.is_visible()
    assert "Expiring within 30 days" in page.locator("#counts").inner_text()

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.requests == [index.as_uri()]


def test_issue_with_pdf_prints_one_a4_page(lab: Lab) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from typer.testing import CliRunner

    from harness.commands.main import app

    report = lab.report(certified(system="Hệ thống TTHC Quảng Ninh"), name="qn")
    result = CliRunner().invoke(app, ["certificate", "issue", str(report), "--key", str(lab.key),
                                      "--assessor", "Đỗ Văn E", "--pdf"])
    assert result.exit_code == 0, result.output
    pdf = (report.parent / "certificate.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1
