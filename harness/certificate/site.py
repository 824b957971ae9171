"""The static registry site (`popcert registry site OUT/`): every certified system with its status
(valid / expiring within 30 days / expired / revoked), history and trend, searchable and bilingual.

One self-contained index.html (inline CSS, inline SVG, one inline script allowed by its hash) so it
can be published on any static host or opened from a file, with no CDN and no fetch.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from markupsafe import Markup

from harness.certificate.checkpoint import FILE_NAME as CHECKPOINT_FILE
from harness.certificate.checkpoint import write_checkpoint
from harness.certificate.model import CertificateError, days_left, now_utc, status_on
from harness.certificate.page import environment
from harness.certificate.registry import RegisteredCertificate, Registry
from harness.untrusted import strip_control

TEMPLATE = "registry_site.html.j2"
INDEX = "index.html"
# Search box and language toggle; the page is fully readable without it.
SITE_JS = """
(function () {
  var root = document.documentElement, box = document.getElementById('search');
  var systems = document.querySelectorAll('.system');
  function filter() {
    var needle = box.value.trim().toLowerCase(), shown = 0;
    systems.forEach(function (s) {
      var hit = !needle || s.getAttribute('data-search').indexOf(needle) !== -1;
      s.hidden = !hit; if (hit) { shown += 1; }
    });
    document.getElementById('shown-count').textContent = String(shown);
  }
  box.addEventListener('input', filter);
  document.getElementById('lang-toggle').addEventListener('click', function () {
    root.setAttribute('data-lang', root.getAttribute('data-lang') === 'vi' ? 'en' : 'vi');
    root.setAttribute('lang', root.getAttribute('data-lang'));
  });
  filter();
})();
""".strip()
STATUS_WORDS = {"valid": ("Còn hiệu lực", "Valid"),
                "expiring": ("Sắp hết hiệu lực (≤ 30 ngày)", "Expiring within 30 days"),
                "expired": ("Hết hiệu lực", "Expired"), "revoked": ("Đã thu hồi", "Revoked"),
                "none": ("Chưa có chứng nhận", "No certificate")}


@dataclass(frozen=True)
class CertificateRow:
    serial: str
    issued_at: str
    not_after: str
    status: str
    days_left: int
    profile: str
    assessor: str
    passed: int
    checks: int
    waived: int
    revoked_reason: str | None
    firewall_ruleset: str
    source_tree: str


def _row(registered: RegisteredCertificate, moment: datetime) -> CertificateRow:
    certificate, document = registered.certificate, registered.certificate.document
    summary = document.get("summary", {})
    return CertificateRow(
        serial=certificate.serial, issued_at=document["issued_at"][:10],
        not_after=document["not_after"][:10],
        status=status_on(certificate.not_after, registered.revoked, moment),
        days_left=days_left(certificate.not_after, moment),
        profile=f"{document['profile']['name']} {document['profile']['version']}",
        assessor=document["assessor"]["name"], passed=int(summary.get("passed", 0)),
        checks=int(summary.get("checks", 0)), waived=int(summary.get("waived", 0)),
        revoked_reason=registered.revoked_reason,
        firewall_ruleset=document["fingerprints"]["firewall_ruleset"] or "",
        source_tree=document["fingerprints"]["source_tree"] or "")


def systems_view(registered: list[RegisteredCertificate], moment: datetime) -> list[dict[str, Any]]:
    """One entry per system (by name and organisation), newest certificate deciding its status."""
    grouped: dict[tuple[str, str], list[RegisteredCertificate]] = {}
    for item in registered:
        system = item.certificate.document["system"]
        grouped.setdefault((system["name"], system["organisation"]), []).append(item)
    view = []
    for (name, organisation), items in sorted(grouped.items(), key=lambda kv: kv[0][0].lower()):
        items.sort(key=lambda i: (i.certificate.document["issued_at"], i.certificate.serial))
        rows = [_row(i, moment) for i in items]
        current = rows[-1]
        view.append({"name": name, "organisation": organisation,
                     "level": items[-1].certificate.document["system"]["level"],
                     "status": current.status, "current": current,
                     "history": list(reversed(rows)), "trend": trend_svg(rows),
                     "search": " ".join([name, organisation, *(r.serial for r in rows),
                                         current.status]).lower()})
    return view


def trend_svg(rows: list[CertificateRow], width: int = 260, height: int = 40) -> Markup:
    """Share of checks passed at each certification, oldest to newest (inline SVG, no script)."""
    shares = [(r.passed / r.checks) if r.checks else 0.0 for r in rows]
    if not shares:
        return Markup("")
    plot_width = width - 60  # room for the latest figure on the right
    step = (plot_width - 12) / max(len(shares) - 1, 1)
    points = [(6 + i * step, height - 6 - share * (height - 12)) for i, share in enumerate(shares)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="dot-{r.status}"/>'
                   for (x, y), r in zip(points, rows, strict=True))
    label = ", ".join(f"{r.issued_at}: {r.passed}/{r.checks}" for r in rows)
    return Markup(f'<svg class="trend" role="img" width="{width}" height="{height}" '
                  f'viewBox="0 0 {width} {height}"><title>{Markup.escape(strip_control(label))}</title>'
                  f'<polyline fill="none" stroke="#2b5d8a" stroke-width="1.5" points="{path}"/>'
                  f'{dots}<text x="{plot_width + 4}" y="{height / 2 + 4:.0f}" font-size="12">'
                  f"{rows[-1].passed}/{rows[-1].checks}</text></svg>")


def csp() -> str:
    digest = base64.b64encode(hashlib.sha256(SITE_JS.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")


def render_site(registry: Registry, out_dir: Path, *, now: datetime | None = None,
                trusted: Sequence[Ed25519PublicKey] | None = None, checkpoints: Sequence[Path] = (),
                key: Ed25519PrivateKey | None = None) -> Path:
    """index.html, and checkpoint.json: the newest signed checkpoint of the log (a fresh one when
    ``key`` is given). Refuses (CertificateError) a log shorter than, or inconsistent with, any
    checkpoint given, beside the database or seen before: the site would show a revoked
    certificate as valid. ``trusted``: the keys checkpoints are checked with (default: the trust
    store's)."""
    moment = now or now_utc()
    if trusted is None:
        from harness.signing.trust import trusted_keys

        trusted = [k.key for k in trusted_keys()]
    reviewed = registry.checkpoint_review(list(trusted), checkpoints)
    if reviewed.problems:
        raise CertificateError("the registry's log does not extend its signed checkpoint, no site "
                               "written (restore the database from a backup):\n"
                               + "\n".join(f"  - {problem}" for problem in reviewed.problems))
    published = registry.publish_checkpoint(key) if key is not None and registry.log() \
        else reviewed.newest
    registered = registry.certificates()
    systems = systems_view(registered, moment)
    counts = {status: sum(1 for s in systems if s["status"] == status) for status in STATUS_WORDS}
    entries = registry.log()
    html = environment().get_template(TEMPLATE).render(
        systems=systems, counts=counts, words=STATUS_WORDS, generated_at=moment.isoformat(),
        log_head=entries[-1] if entries else None, certificates=len(registered),
        script=Markup(SITE_JS), csp=csp(),
        checkpoint=published.body if published is not None else None)
    out_dir.mkdir(parents=True, exist_ok=True)
    if published is not None:
        write_checkpoint(out_dir / CHECKPOINT_FILE, published)
    index = out_dir / INDEX
    index.write_text(html, encoding="utf-8")
    return index
