"""Test PKI for the mock NPDB: a national CA, a foreign CA, and certificates issued on demand.

Created on first use under ``<state_dir>/pki`` and reused afterwards, so every component (mock,
reference city system, harness) trusts the same national CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class IssuedCert:
    cert_path: Path
    key_path: Path


def _new_key(key_type: str) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: PrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def load_private_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey))
    return key


class TestPKI:
    """National + foreign CA and issued leaf certificates under ``<state_dir>/pki``."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir) / "pki"
        self.ca_path = self.root / "ca.pem"
        self.ca_key_path = self.root / "ca.key"
        self.foreign_ca_path = self.root / "foreign-ca.pem"
        self.foreign_ca_key_path = self.root / "foreign-ca.key"
        self.issued_dir = self.root / "issued"

    def ensure(self) -> TestPKI:
        self.issued_dir.mkdir(parents=True, exist_ok=True)
        if not self.ca_path.exists():
            self._make_ca(self.ca_path, self.ca_key_path, "NPDB Test National CA")
        if not self.foreign_ca_path.exists():
            self._make_ca(self.foreign_ca_path, self.foreign_ca_key_path, "Foreign Untrusted CA")
        return self

    def _make_ca(self, cert_path: Path, key_path: Path, common_name: str) -> None:
        key = _new_key("ec")
        name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "popcert test PKI"),
                          x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                             crl_sign=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .sign(key, hashes.SHA256()))
        _write_key(key_path, key)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, kind: Literal["server", "client"] = "client",
              sans: tuple[str, ...] = ("127.0.0.1", "localhost"), days: int = 365,
              not_before_offset_days: int = 0, ca: Literal["national", "foreign"] = "national",
              key_type: Literal["ec", "rsa"] = "ec", reuse: bool = True) -> IssuedCert:
        """Issue (or reuse) ``pki/issued/<name>.{pem,key}``; client certs carry ``name``'s CN."""
        self.ensure()
        out = IssuedCert(self.issued_dir / f"{name}.pem", self.issued_dir / f"{name}.key")
        if reuse and out.cert_path.exists() and out.key_path.exists() \
                and _has_authority_key_id(out.cert_path):
            return out
        ca_cert_path, ca_key_path = ((self.ca_path, self.ca_key_path) if ca == "national"
                                     else (self.foreign_ca_path, self.foreign_ca_key_path))
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
        ca_key = load_private_key(ca_key_path)
        key = _new_key(key_type)
        now = dt.datetime.now(dt.UTC)
        start = now + dt.timedelta(days=not_before_offset_days) - dt.timedelta(minutes=5)
        alt_names: list[x509.GeneralName] = []
        for san in sans:
            try:
                alt_names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                alt_names.append(x509.DNSName(san))
        usage = ExtendedKeyUsageOID.SERVER_AUTH if kind == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                                            x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(ca_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   # RFC 5280 §4.2.1.1: strict verifiers (cryptography, sslyze) require the AKI.
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       ca_key.public_key()), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                  critical=False))
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write_key(out.key_path, key)
        out.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return out

    def client_cert_set(self, client_id: str) -> dict[str, IssuedCert]:
        """The valid / expired / foreign-CA client certificates every registered client gets."""
        return {"valid": self.issue(client_id, kind="client", sans=()),
                "expired": self.issue(f"{client_id}-expired", kind="client", sans=(), days=1,
                                      not_before_offset_days=-30),
                "foreign": self.issue(f"{client_id}-foreign", kind="client", sans=(),
                                      ca="foreign")}


def _has_authority_key_id(cert_path: Path) -> bool:
    """Certificates issued before the AKI was added are re-issued, not reused."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except (ValueError, x509.ExtensionNotFound):
        return False
    return True
