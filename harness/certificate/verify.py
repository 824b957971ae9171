"""`popcert certificate verify`: is this certificate genuine, current and unrevoked?

Valid only when: the detached signature checks against a key in the assessor trust store and is
the key the certificate names; the bytes are canonical and complete; today is within
issued_at..not_after; the registry holds this exact certificate; the log has not revoked it; and
the registry's log chain is intact (no entry edited, deleted or reordered).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from harness.certificate.model import Certificate, CertificateError, now_utc, status_on
from harness.certificate.registry import Registry
from harness.signing.canonical import is_canonical
from harness.signing.keys import fingerprint, read_signature


@dataclass
class CertificateCheck:
    serial: str | None = None
    status: str | None = None  # valid / expiring / expired / revoked, when it could be told
    reasons: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.reasons


def verify_certificate(certificate_path: Path, signature_path: Path, *, registry: Registry,
                       trusted: list[Any], now: datetime | None = None,
                       checkpoints: Sequence[Path] = ()) -> CertificateCheck:
    """Raises CertificateError for unusable input (missing file); otherwise every reason found.

    ``checkpoints``: signed checkpoints of the registry's log (the one the registry site
    published): the log must not be shorter than, or inconsistent with, any of them, nor with the
    one beside the database or the newest seen before (harness/certificate/checkpoint.py).
    """
    moment = now or now_utc()
    certificate = Certificate.read(certificate_path)
    try:
        signature = read_signature(signature_path)
    except OSError as missing:
        raise CertificateError(f"{signature_path}: cannot read the signature "
                               f"({missing.strerror})") from None
    check = CertificateCheck(serial=str(certificate.document.get("serial")))
    if not trusted:
        check.reasons.append("the trust store holds no assessor key — trust one with "
                             "`popcert keys trust ASSESSOR.pub.pem`")
    signer = None
    for key in trusted:
        try:
            key.verify(signature, certificate.raw)
        except InvalidSignature:
            continue
        signer = fingerprint(key)
        break
    if trusted and signer is None:
        check.reasons.append("signature does not match any trusted key: the certificate was "
                             "changed after signing, or signed by a key you do not trust")
    named = (certificate.document.get("assessor") or {}).get("key_fingerprint")
    if signer is not None and signer != named:
        check.reasons.append(f"signed by {signer}, but the certificate names {named}")
    if not is_canonical(certificate.raw):
        check.reasons.append("certificate.json is not in canonical form (sorted keys, compact)")
    lacking = certificate.missing_fields()
    if lacking:
        check.reasons.append(f"certificate.json lacks {', '.join(lacking)}")
        return check
    try:
        issued_at, not_after = certificate.issued_at, certificate.not_after
    except (TypeError, ValueError):
        check.reasons.append("issued_at / not_after are not ISO 8601 timestamps")
        return check
    if moment < issued_at:
        check.reasons.append(f"issued_at {certificate.document['issued_at']} is in the future")
    if moment > not_after:
        check.reasons.append(f"expired on {certificate.document['not_after']}")
    registered = registry.get(certificate.serial)
    revoked = False
    if registered is None:
        check.reasons.append(f"serial {certificate.serial} is not in the registry "
                             f"({registry.display_url()})")
    else:
        if registered.certificate.sha256 != certificate.sha256:
            check.reasons.append("the registry holds a different certificate under this serial")
        if registered.revoked:
            revoked = True
            check.reasons.append(f"revoked on {registered.revoked_at}: {registered.revoked_reason}")
    check.reasons.extend(f"registry log: {problem}"
                         for problem in registry.integrity_problems(trusted))
    check.reasons.extend(f"registry checkpoint: {problem}"
                         for problem in registry.checkpoint_review(trusted, checkpoints).problems)
    check.status = status_on(not_after, revoked, moment)
    return check


def describe(certificate: Certificate) -> dict[str, Any]:
    """The fields `popcert certificate show` prints, in reading order."""
    document = certificate.document
    return {"serial": document["serial"], "system": document["system"],
            "profile": document["profile"], "issued_at": document["issued_at"],
            "not_after": document["not_after"], "assessor": document["assessor"],
            "fingerprints": document["fingerprints"], "report": document["report"],
            "specs": document["specs"]}


def pretty(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
