"""The printable certificate page (certificate.html): bilingual Vietnamese/English, one A4 sheet,
self-contained (inline CSS, no script, no fetch) from reports/templates/certificate.html.j2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Undefined,
    select_autoescape,
)
from markupsafe import Markup

from harness import resources
from harness.certificate.model import Certificate
from harness.untrusted import strip_control

TEMPLATE = "certificate.html.j2"
# No script at all on the certificate: the policy forbids every fetch and every script.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
LEVELS = {"ministry": ("Cấp bộ, ngành", "Ministry level"), "province": ("Cấp tỉnh", "Province level"),
          "district": ("Cấp huyện", "District level")}


def _finalize(value: Any) -> Any:
    """Every ``{{ }}`` output: system, organisation, assessor and revocation reason come from a
    vendor's report or an assessor's command line, so they lose control characters and escapes
    (bidi overrides, ESC sequences) as in report.html."""
    if value is None or isinstance(value, (Markup, bool, int, float, Undefined)):
        return value  # Markup is built by the site module from already-cleaned parts
    return strip_control(str(value))


def environment() -> Environment:
    """The jinja2 environment of the certificate templates (page and registry site)."""
    return Environment(loader=FileSystemLoader(str(resources.templates_dir())),
                       undefined=StrictUndefined, autoescape=select_autoescape(default=True),
                       finalize=_finalize, trim_blocks=True, lstrip_blocks=True)


def render_certificate_page(certificate: Certificate) -> str:
    document: dict[str, Any] = certificate.document
    level_vi, level_en = LEVELS.get(document["system"]["level"], (document["system"]["level"],) * 2)
    return environment().get_template(TEMPLATE).render(
        c=document, sha256=certificate.sha256, csp=CSP, level_vi=level_vi, level_en=level_en,
        issued_date=document["issued_at"][:10], not_after_date=document["not_after"][:10])


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PDF_NAME = "certificate.pdf"
PDF_DEADLINE_S = 60.0


def find_chromium() -> str | None:
    import shutil

    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def print_pdf(page_path: Path, pdf_path: Path, chromium: str | None = None) -> Path:
    """Print certificate.html to PDF with headless Chromium (Debian's package; no network: the
    page's policy forbids every fetch). Raises CertificateError when Chromium is missing or fails."""
    import os
    import subprocess
    import tempfile

    from harness.certificate.model import CertificateError
    from harness.processes import spawn

    browser = chromium or find_chromium()
    if browser is None:
        raise CertificateError("--pdf needs Chromium (apt-get install chromium); "
                               "certificate.html prints the same from any browser")
    with tempfile.TemporaryDirectory(prefix="popcert-chromium-") as profile:
        argv = [browser, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--no-pdf-header-footer",
                f"--print-to-pdf={pdf_path}", page_path.resolve().as_uri()]
        if os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")  # Chromium refuses to start as root with its sandbox
        child = spawn(argv, name="chromium-pdf", deadline_s=PDF_DEADLINE_S,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        child.wait()
    if not pdf_path.exists() or not pdf_path.read_bytes().startswith(b"%PDF"):
        raise CertificateError(f"Chromium did not write {pdf_path} (exit {child.returncode})")
    return pdf_path
