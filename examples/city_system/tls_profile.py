"""The reference city system's TLS endpoint: a strong server context, and the tls.* defect switches.

``build_server_context`` is Mozilla "intermediate" by default (TLS 1.2+, ECDHE + AEAD, P-256);
each ``tls.*`` switch weakens exactly one property so the TLS suite's detection matrix can prove
that each check catches its defect. ``server_certificate`` issues the matching certificate.
"""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path
from typing import Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ClientAuth = Literal["off", "optional", "required"]

# Mozilla intermediate TLS 1.2 suites that work with an ECDSA or RSA certificate: ECDHE + AEAD only.
STRONG_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
# tls.allows_tls10: TLS 1.0/1.1 only have CBC-SHA suites, and OpenSSL 3 refuses their SHA-1
# handshake signatures unless the security level is 0.
LEGACY_CIPHERS = STRONG_CIPHERS + ":ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0"
# tls.weak_ciphers: CBC (not AEAD) suites on TLS 1.2. ECDSA-only on purpose: static-RSA suites
# would need an RSA certificate, and sslyze's ROBOT probe cannot present a client certificate,
# so the Mozilla check could not complete against an mTLS-required SUT.
WEAK_CIPHERS = STRONG_CIPHERS + ":ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA"
# Mozilla intermediate allows X25519, P-256, P-384; OpenSSL 3 also offers X448 and P-521 by default.
SERVER_CURVE = "prime256v1"

TLS_DEFECTS = frozenset({"tls.allows_tls10", "tls.weak_ciphers", "tls.self_signed",
                         "tls.hostname_mismatch", "tls.expiring_cert", "tls.long_lived_cert"})

_CERT_DEFECTS = frozenset({"tls.hostname_mismatch", "tls.expiring_cert", "tls.long_lived_cert"})

EXPIRING_IN_DAYS = 5
LONG_LIVED_DAYS = 800  # > 398 (CA/Browser Forum) and > 366 (Mozilla intermediate 5.7)
WRONG_HOSTNAME = "wrong-host.example.test"


class IssuedCertLike(Protocol):
    cert_path: Path
    key_path: Path


class PkiLike(Protocol):
    """The part of ``popcert_npdb.pki.TestPKI`` this module uses (docs/interfaces.md §2)."""

    @property
    def ca_path(self) -> Path: ...

    def issue(self, name: str, *, kind: str = ..., sans: tuple[str, ...] = ..., days: int = ...,
              not_before_offset_days: int = ..., ca: str = ...,
              key_type: str = ...) -> IssuedCertLike: ...


def build_server_context(defects: frozenset[str], cert_path: Path, key_path: Path,
                         client_ca_path: Path | None = None,
                         client_auth: ClientAuth = "off") -> ssl.SSLContext:
    """The server-side TLS context of the city system, strong unless a tls.* switch says otherwise."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    ciphers = STRONG_CIPHERS
    if "tls.allows_tls10" in defects:
        context.minimum_version = ssl.TLSVersion.TLSv1
        ciphers = LEGACY_CIPHERS
    if "tls.weak_ciphers" in defects:
        ciphers = WEAK_CIPHERS
    context.set_ciphers(ciphers)
    context.set_ecdh_curve(SERVER_CURVE)
    context.options |= ssl.OP_NO_COMPRESSION
    context.load_cert_chain(str(cert_path), str(key_path))
    if client_auth != "off":
        if client_ca_path is None:
            raise ValueError(f"client_auth={client_auth!r} needs client_ca_path (the national CA)")
        context.load_verify_locations(cafile=str(client_ca_path))
        context.verify_mode = ssl.CERT_REQUIRED if client_auth == "required" else ssl.CERT_OPTIONAL
    return context


def server_certificate(defects: frozenset[str], pki: PkiLike, name: str) -> tuple[Path, Path]:
    """Issue the city system's server certificate, broken the way the tls.* cert switches ask."""
    sans: tuple[str, ...] = ("127.0.0.1", "localhost")
    days, offset = 365, 0
    if "tls.self_signed" in defects:
        return _self_signed(Path(pki.ca_path).parent / "issued", f"{name}-self-signed", sans)
    if "tls.hostname_mismatch" in defects:
        sans = (WRONG_HOSTNAME,)
    if "tls.expiring_cert" in defects:
        # A normal 90-day certificate that was issued 85 days ago: a lifespan Mozilla accepts.
        days, offset = 90, -(90 - EXPIRING_IN_DAYS)
    if "tls.long_lived_cert" in defects:
        days = LONG_LIVED_DAYS
    # TestPKI reuses files by name: a certificate broken differently must have its own name.
    variant = "-".join(sorted(d.removeprefix("tls.") for d in defects & _CERT_DEFECTS))
    issued = pki.issue(f"{name}-{variant}" if variant else name, kind="server", sans=sans, days=days,
                       not_before_offset_days=offset, key_type="ec")
    return Path(issued.cert_path), Path(issued.key_path)


def _self_signed(out_dir: Path, name: str, sans: tuple[str, ...]) -> tuple[Path, Path]:
    """A certificate signed by its own key: no chain to the national CA (tls.self_signed)."""
    import ipaddress

    out_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out_dir / f"{name}.pem", out_dir / f"{name}.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    alt_names: list[x509.GeneralName] = []
    for san in sans:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            alt_names.append(x509.DNSName(san))
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
