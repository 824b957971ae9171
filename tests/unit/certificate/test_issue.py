"""Issuing: only a verified, complete CERTIFIED report with fingerprints becomes a certificate."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from harness.certificate.issue import issue_certificate
from harness.certificate.model import Certificate, CertificateError
from harness.signing.canonical import canonical_json, is_canonical
from tests.unit.certificate.conftest import FIREWALL_FP, SOURCE_FP, Lab, certified, not_certified


def test_certificate_carries_what_was_certified_and_is_signed(lab: Lab) -> None:
    report_path = lab.report(certified("district"))
    issued = issue_certificate(report_path, lab.key, registry=lab.registry, assessor="Trần Thị B")
    raw = issued.path.read_bytes()
    assert is_canonical(raw)
    document = json.loads(raw)
    assert document["serial"].startswith("PC-") and document["system"]["level"] == "district"
    assert document["report"]["sha256"] == hashlib.sha256(report_path.read_bytes()).hexdigest()
    assert document["fingerprints"] == {"firewall_ruleset": FIREWALL_FP, "source_tree": SOURCE_FP}
    assert set(document["specs"]) == {"npdb", "connection", "firewall"}
    assert len(document["profile"]["sha256"]) == 64
    certificate = Certificate(document, raw)
    # district.yaml: validity_days 730
    assert certificate.not_after - certificate.issued_at == timedelta(days=730)
    assert document["assessor"]["name"] == "Trần Thị B"
    public = serialization.load_pem_public_key(lab.public_key.read_bytes())
    public.verify(issued.signature_path.read_bytes(), raw)  # raises if not signed over these bytes
    assert lab.registry.get(certificate.serial) is not None
    page = issued.page_path.read_text(encoding="utf-8")
    assert "GIẤY CHỨNG NHẬN" in page and "Certificate of fitness" in page and certificate.serial in page


def test_ministry_certificate_lasts_the_ministry_profiles_validity(lab: Lab) -> None:
    issued = issue_certificate(lab.report(certified("ministry")), lab.key, registry=lab.registry,
                               assessor="A")
    certificate = issued.certificate
    assert certificate.not_after - certificate.issued_at == timedelta(days=365)


def test_not_certified_report_gets_no_certificate(lab: Lab) -> None:
    with pytest.raises(CertificateError, match="NOT CERTIFIED"):
        issue_certificate(lab.report(not_certified()), lab.key, registry=lab.registry, assessor="A")
    assert lab.registry.certificates() == [] and lab.registry.log() == []


def test_unsigned_report_gets_no_certificate(lab: Lab) -> None:
    with pytest.raises(CertificateError, match="not signed"):
        issue_certificate(lab.report(certified(), sign=False), lab.key, registry=lab.registry,
                          assessor="A")


def test_report_changed_after_signing_gets_no_certificate(lab: Lab) -> None:
    path = lab.report(certified())
    tampered = json.loads(path.read_bytes())
    tampered["system"]["name"] = "Another system"
    path.write_bytes(canonical_json(tampered))
    with pytest.raises(CertificateError, match="does not verify"):
        issue_certificate(path, lab.key, registry=lab.registry, assessor="A")
    assert not (path.parent / "certificate.json").exists()


def test_incomplete_run_gets_no_certificate(lab: Lab) -> None:
    report = certified()
    report["run"]["complete"] = False
    report["verdict"] = {"status": "INCOMPLETE", "reasons": ["the run did not finish"], "blocking": []}
    with pytest.raises(CertificateError):
        issue_certificate(lab.report(report), lab.key, registry=lab.registry, assessor="A")
    assert lab.registry.certificates() == []


def test_report_without_fingerprints_gets_no_certificate(lab: Lab) -> None:
    with pytest.raises(CertificateError, match="firewall ruleset fingerprint"):
        issue_certificate(lab.report(certified(fingerprints=False)), lab.key,
                          registry=lab.registry, assessor="A")


def test_same_report_is_certified_once(lab: Lab) -> None:
    path = lab.report(certified())
    issue_certificate(path, lab.key, registry=lab.registry, assessor="A")
    with pytest.raises(CertificateError, match="already issued"):
        issue_certificate(path, lab.key, registry=lab.registry, assessor="A")
    assert len(lab.registry.certificates()) == 1


def test_openssl_checks_the_certificate_signature_without_popcert(lab: Lab) -> None:
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    issued = issue_certificate(lab.report(certified()), lab.key, registry=lab.registry, assessor="A")
    command = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(lab.public_key), "-rawin",
               "-in", str(issued.path), "-sigfile", str(issued.signature_path)]
    assert subprocess.run(command, capture_output=True, check=False).returncode == 0
    issued.path.write_bytes(issued.path.read_bytes().replace(b'"level":"district"',
                                                             b'"level":"ministry"'))
    assert subprocess.run(command, capture_output=True, check=False).returncode != 0
