"""The printable certificate page (certificate.html): bilingual Vietnamese/English, one A4 sheet,
self-contained (inline CSS, no script, no fetch) from reports/templates/certificate.html.j2.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from harness import resources
from harness.certificate.model import Certificate

TEMPLATE = "certificate.html.j2"
# No script at all on the certificate: the policy forbids every fetch and every script.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
LEVELS = {"ministry": ("Cấp bộ, ngành", "Ministry level"), "province": ("Cấp tỉnh", "Province level"),
          "district": ("Cấp huyện", "District level")}


def environment() -> Environment:
    """The jinja2 environment of the certificate templates (page and registry site)."""
    return Environment(loader=FileSystemLoader(str(resources.templates_dir())),
                       undefined=StrictUndefined, autoescape=select_autoescape(default=True),
                       trim_blocks=True, lstrip_blocks=True)


def render_certificate_page(certificate: Certificate) -> str:
    document: dict[str, Any] = certificate.document
    level_vi, level_en = LEVELS.get(document["system"]["level"], (document["system"]["level"],) * 2)
    return environment().get_template(TEMPLATE).render(
        c=document, sha256=certificate.sha256, csp=CSP, level_vi=level_vi, level_en=level_en,
        issued_date=document["issued_at"][:10], not_after_date=document["not_after"][:10])
