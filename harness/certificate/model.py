"""The certificate document: what an assessor vouches for, as canonical JSON plus a detached
Ed25519 signature (the same bytes-on-disk rule as report.json, so OpenSSL can check it too).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from harness.errors import PopcertError
from harness.signing.canonical import canonical_json
from harness.untrusted import json_text_depth

CERTIFICATE_VERSION = "1.0"
FILE_NAME = "certificate.json"
SIGNATURE_SUFFIX = ".sig"
PAGE_NAME = "certificate.html"
EXPIRING_WITHIN_DAYS = 30
MAX_CERTIFICATE_BYTES = 256 * 1024
MAX_CERTIFICATE_DEPTH = 16
# Fields every certificate carries; `verify` refuses a document without them.
REQUIRED = ("certificate_version", "serial", "system", "profile", "specs", "report",
            "fingerprints", "harness", "issued_at", "not_after", "assessor", "summary")


class CertificateError(PopcertError):
    """A certificate that cannot be issued or read (the message says why and what to do)."""


def sha256_bytes(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def not_after_for(issued_at: datetime, validity_days: int) -> datetime:
    """The last instant the certificate is valid: ``validity_days`` after issue, to the second."""
    return issued_at + timedelta(days=validity_days)


@dataclass(frozen=True)
class Certificate:
    """A parsed certificate.json; ``raw`` are its exact signed bytes."""

    document: dict[str, Any]
    raw: bytes

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Certificate:
        return cls(document, canonical_json(document))

    @classmethod
    def read(cls, path: Path) -> Certificate:
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_CERTIFICATE_BYTES + 1)
        except OSError as missing:
            raise CertificateError(f"{path}: cannot read the certificate ({missing.strerror})") from None
        if len(raw) > MAX_CERTIFICATE_BYTES:
            raise CertificateError(f"{path}: larger than any certificate ({MAX_CERTIFICATE_BYTES} bytes)")
        try:
            text = raw.decode("utf-8")
            # Whoever hands over a certificate may be hostile: no deep nesting into the parser.
            if json_text_depth(text) > MAX_CERTIFICATE_DEPTH:
                raise ValueError("nested too deep")
            document = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            raise CertificateError(f"{path}: not a JSON certificate") from None
        if not isinstance(document, dict) or document.get("certificate_version") is None:
            raise CertificateError(f"{path}: not a popcert certificate.json (no certificate_version)")
        return cls(document, raw)

    @property
    def serial(self) -> str:
        return str(self.document["serial"])

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.raw)

    @property
    def issued_at(self) -> datetime:
        return parse_time(self.document["issued_at"])

    @property
    def not_after(self) -> datetime:
        return parse_time(self.document["not_after"])

    @property
    def system_name(self) -> str:
        return str(self.document["system"]["name"])

    def missing_fields(self) -> list[str]:
        return [name for name in REQUIRED if name not in self.document]


def status_on(not_after: datetime, revoked: bool, moment: datetime) -> str:
    """valid / expiring (within 30 days) / expired / revoked, as the registry site shows it."""
    if revoked:
        return "revoked"
    if moment > not_after:
        return "expired"
    if not_after - moment <= timedelta(days=EXPIRING_WITHIN_DAYS):
        return "expiring"
    return "valid"


def days_left(not_after: datetime, moment: datetime) -> int:
    return (not_after.date() - moment.date()).days if moment <= not_after else 0


def iso(moment: datetime | date) -> str:
    return moment.isoformat(timespec="seconds") if isinstance(moment, datetime) else moment.isoformat()
