"""Issuing a certificate: only from a verified, complete CERTIFIED report, with a trusted key.

The issuing key's public half must be in the trust store (nobody could verify what it signs
otherwise), whoever calls: the command line or a library caller.

The report's signature must check against a trusted assessor key (the trust store, or the issuing
assessor's own key); the profile it was judged by must still be the published one; the run's
firewall ruleset and source tree fingerprints must be in it. The certificate is recorded in the
registry and its log before any file is written, so no certificate exists that the registry lacks.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness import resources
from harness.certificate.eligibility import LAB_TARGET_OPTION, lab_target, refusals
from harness.certificate.model import (
    CERTIFICATE_VERSION,
    FILE_NAME,
    PAGE_NAME,
    SIGNATURE_SUFFIX,
    Certificate,
    CertificateError,
    iso,
    not_after_for,
    now_utc,
    sha256_bytes,
)
from harness.certificate.registry import Registry
from harness.profiles import CERTIFIED, load_profile
from harness.report import sign as report_signing
from harness.report.document import Fingerprints, ReportDocument
from harness.signing import keys as signing_keys
from harness.signing.keys import fingerprint, load_private_key, sign_bytes


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: Certificate
    path: Path
    signature_path: Path
    page_path: Path


def trusted_public_keys(trust_store: Path | None) -> list[Any]:
    """The assessor keys the trust store holds (`popcert keys trust`)."""
    from harness.signing.trust import trusted_keys

    return [trusted.key for trusted in trusted_keys(trust_store)]


def trusted_signing_key(key_path: Path, trust_store: Path | None) -> Ed25519PrivateKey:
    """The assessor's private key, refused unless its public half is in the trust store (else
    nobody could verify what it signs): issuing and revoking both go through here."""
    key = load_private_key(key_path)
    own = fingerprint(key.public_key())
    if own not in {fingerprint(k) for k in trusted_public_keys(trust_store)}:
        raise CertificateError(f"{key_path}: its public key {own} is not in the trust store — "
                               "trust it first: popcert keys trust NAME.pub.pem")
    return key


def new_serial(moment: datetime) -> str:
    return f"PC-{moment:%Y}-{secrets.token_hex(6).upper()}"


def build_certificate(report: ReportDocument, report_sha256: str, *, assessor: str,
                      assessor_fingerprint: str, issued_at: datetime,
                      allow_lab_target: str | None = None) -> dict[str, Any]:
    """The certificate document for a report already checked by ``issue_certificate``."""
    profile_name = report.profile.name
    profile = load_profile(profile_name)
    if profile.version != report.profile.version:
        raise CertificateError(f"the report was judged by profile {profile_name} "
                               f"{report.profile.version}, but the published profile is now "
                               f"{profile.version} — re-run the certification")
    profile_file = resources.profiles_dir() / f"{profile_name}.yaml"
    fingerprints = report.run.fingerprints or Fingerprints()
    for name, what, value in (("firewall_ruleset", "firewall ruleset", fingerprints.firewall_ruleset),
                              ("source_tree", "source tree", fingerprints.source_tree)):
        if not value:
            raise CertificateError(f"the report records no {what} fingerprint (run.fingerprints."
                                   f"{name}) — re-run the certification with firewall and source "
                                   "configured, using this popcert")
    results, system = report.results, report.system
    why_lab = lab_target(system.base_url)
    # What run the certificate stands on (issue 21): its mode, seed, load duration; the profile's
    # version, the tool version and the spec fingerprints are beside it.
    run = {"mode": report.run.mode, "quick": report.run.quick, "seed": report.run.seed,
           "load_duration_s": report.run.load_duration_s,
           "results": (report.run.results_chain or {}).get("count"),
           "results_chain_head": (report.run.results_chain or {}).get("head")}
    lab = ({"lab_target": {"reason": " ".join(allow_lab_target.split()), "why": why_lab,
                           "option": LAB_TARGET_OPTION}}
           if why_lab and allow_lab_target else {})
    return {**lab, "run": run,
        "certificate_version": CERTIFICATE_VERSION,
        "serial": new_serial(issued_at),
        "system": {"name": system.name, "organisation": system.organisation,
                   "level": system.level, "base_url": system.base_url},
        "profile": {"name": profile_name, "version": profile.version,
                    "title_vi": profile.title_vi, "title_en": profile.title_en,
                    "sha256": sha256_bytes(profile_file.read_bytes()),
                    "validity_days": profile.validity_days},
        "specs": {name: spec.to_json() for name, spec in report.specs.items()},
        "report": {"sha256": report_sha256, "run_id": report.run.id,
                   "finished_at": report.run.finished_at,
                   "verdict": report.verdict.status},
        "fingerprints": {"firewall_ruleset": fingerprints.firewall_ruleset,
                         "source_tree": fingerprints.source_tree},
        "harness": report.harness.to_json(),
        "issued_at": iso(issued_at),
        "not_after": iso(not_after_for(issued_at, profile.validity_days)),
        "assessor": {"name": assessor, "key_fingerprint": assessor_fingerprint},
        "summary": {"checks": len(results),
                    "mandatory": sum(1 for r in results if r.mandatory),
                    "passed": sum(1 for r in results if r.status == "pass"),
                    "waived": sum(1 for r in results if r.waiver is not None)},
    }


def issue_certificate(report_path: Path, key_path: Path, *, registry: Registry, assessor: str,
                      out_dir: Path | None = None, trust_store: Path | None = None,
                      now: datetime | None = None,
                      allow_lab_target: str | None = None) -> IssuedCertificate:
    key = trusted_signing_key(key_path, trust_store)
    own = key.public_key()
    signature_path = report_path.with_name(report_path.name + signing_keys.SIGNATURE_SUFFIX)
    if not signature_path.exists():
        raise CertificateError(f"{report_path}: not signed (no {signature_path.name}) — sign it "
                               f"first: popcert sign {report_path} --key KEY")
    outcome = report_signing.verify(report_path, signature_path, [own, *trusted_public_keys(trust_store)])
    if not outcome.valid:
        raise CertificateError(f"{report_path}: the report does not verify, no certificate issued:\n"
                               + "\n".join(f"  - {reason}" for reason in outcome.reasons))
    raw = report_path.read_bytes()
    # verify() checked the schema of these very bytes, so the document reads.
    report = ReportDocument.from_json(json.loads(raw.decode("utf-8")))
    if not report.run.complete:
        raise CertificateError(f"{report_path}: the run is INCOMPLETE — only a complete run is "
                               "certified")
    # Every reason at once: a demo report is told it is a demo even when its verdict also fails.
    refused = refusals(report, load_profile(report.profile.name), allow_lab_target=allow_lab_target)
    if report.verdict.status != CERTIFIED:
        verdict = (f"{report_path}: verdict is {report.verdict.status}, not {CERTIFIED} — no "
                   "certificate issued")
        raise CertificateError(verdict + "".join(f"\n  - {reason}" for reason in refused))
    if refused:
        raise CertificateError(f"{report_path}: no certificate issued — a certificate comes only "
                               "from a full run at the profile's level of a vendor's system:\n"
                               + "\n".join(f"  - {reason}" for reason in refused))
    report_sha256 = sha256_bytes(raw)
    for registered in registry.certificates():
        if registered.certificate.document["report"]["sha256"] == report_sha256 \
                and not registered.revoked:
            raise CertificateError(f"certificate {registered.certificate.serial} was already issued "
                                   "for this report")
    document = build_certificate(report, report_sha256, assessor=assessor,
                                 assessor_fingerprint=fingerprint(own),
                                 issued_at=(now or now_utc()).replace(microsecond=0),
                                 allow_lab_target=allow_lab_target)
    certificate = Certificate.from_document(document)
    signature = sign_bytes(certificate.raw, key)
    registry.add(certificate, signature, key)
    return write_certificate_files(certificate, signature, out_dir or report_path.parent)


def write_certificate_files(certificate: Certificate, signature: bytes,
                            out_dir: Path) -> IssuedCertificate:
    from harness.certificate.page import render_certificate_page

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE_NAME
    path.write_bytes(certificate.raw)
    signature_path = out_dir / (FILE_NAME + SIGNATURE_SUFFIX)
    signature_path.write_bytes(signature)
    page_path = out_dir / PAGE_NAME
    page_path.write_text(render_certificate_page(certificate), encoding="utf-8")
    return IssuedCertificate(certificate, path, signature_path, page_path)
