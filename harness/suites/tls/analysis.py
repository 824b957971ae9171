"""Pure judgements over one sslyze scan: protocols, cipher suites, certificate chain, name, expiry.

Kept apart from the checks so the Mozilla check can reuse them to decide which of Mozilla's
findings a dedicated check already reports (no double counting), and so they unit-test offline.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from sslyze import AllScanCommandsAttempts, ScanCommandAttemptStatusEnum

# sslyze result field -> the version name Mozilla's profile uses.
VERSION_FIELDS = (
    ("ssl_2_0_cipher_suites", "SSLv2"),
    ("ssl_3_0_cipher_suites", "SSLv3"),
    ("tls_1_0_cipher_suites", "TLSv1"),
    ("tls_1_1_cipher_suites", "TLSv1.1"),
    ("tls_1_2_cipher_suites", "TLSv1.2"),
    ("tls_1_3_cipher_suites", "TLSv1.3"),
)
LEGACY_VERSIONS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")
AEAD_MARKERS = ("_GCM_", "_CCM", "_CHACHA20_POLY1305")
PFS_PREFIXES = ("TLS_ECDHE_", "TLS_DHE_")


# cryptography names extensions by OID only; an assessor needs the name to fix the PKI.
_EXTENSION_NAMES = {"2.5.29.35": "authorityKeyIdentifier", "2.5.29.14": "subjectKeyIdentifier",
                    "2.5.29.17": "subjectAltName", "2.5.29.19": "basicConstraints",
                    "2.5.29.15": "keyUsage", "2.5.29.37": "extendedKeyUsage"}


class IncompleteScan(Exception):
    """A scan command the judgement needs did not complete (named in the message)."""


def accepted_suites(scan: AllScanCommandsAttempts) -> dict[str, list[str]]:
    """Accepted IANA cipher-suite names per protocol version (empty list: version refused)."""
    accepted: dict[str, list[str]] = {}
    for field_name, version in VERSION_FIELDS:
        attempt = getattr(scan, field_name)
        if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED or attempt.result is None:
            raise IncompleteScan(f"sslyze could not test {version} ({attempt.error_reason})")
        accepted[version] = sorted(s.cipher_suite.name for s in attempt.result.accepted_cipher_suites)
    return accepted


def legacy_protocols(accepted: dict[str, list[str]]) -> list[str]:
    return [v for v in LEGACY_VERSIONS if accepted.get(v)]


def suite_weaknesses(suite: str) -> list[str]:
    """Why a TLS 1.2 suite is not acceptable: it must be (EC)DHE (forward secrecy) and AEAD."""
    reasons = []
    if not suite.startswith(PFS_PREFIXES) or "_anon_" in suite:
        reasons.append("no forward secrecy" if "_anon_" not in suite else "anonymous key exchange")
    if not any(marker in suite for marker in AEAD_MARKERS):
        reasons.append("not AEAD")
    return reasons


@dataclass(frozen=True)
class CipherJudgement:
    weak: dict[str, list[str]]  # TLS 1.2 suite -> reasons, reported by TLS-CIPHERS-STRONG
    # Weak TLS 1.2 suites that TLS 1.0/1.1 also accept. OpenSSL cannot enable a suite for one
    # version only, so these are the price of the legacy protocol: TLS-PROTOCOL-LEGACY reports them.
    legacy_attributed: dict[str, list[str]]


def judge_tls12_suites(accepted: dict[str, list[str]]) -> CipherJudgement:
    legacy_suites = {s for v in LEGACY_VERSIONS for s in accepted.get(v, [])}
    weak: dict[str, list[str]] = {}
    attributed: dict[str, list[str]] = {}
    for suite in accepted.get("TLSv1.2", []):
        reasons = suite_weaknesses(suite)
        if reasons:
            (attributed if suite in legacy_suites else weak)[suite] = reasons
    return CipherJudgement(weak, attributed)


def leaf_and_chain(scan: AllScanCommandsAttempts) -> list[x509.Certificate]:
    """The certificate chain the server sent (leaf first), from the SNI deployment."""
    attempt = scan.certificate_info
    if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED or attempt.result is None:
        raise IncompleteScan(f"sslyze could not retrieve the certificate ({attempt.error_reason})")
    deployments = attempt.result.certificate_deployments
    if not deployments:
        raise IncompleteScan("the server sent no certificate")
    return list(deployments[0].received_certificate_chain)


def _sans(leaf: x509.Certificate) -> list[x509.GeneralName]:
    try:
        return list(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []


def describe_names(leaf: x509.Certificate) -> list[str]:
    return [str(n.value) for n in _sans(leaf)]


def chain_problem(chain: list[x509.Certificate], ca_bundle: Path | None,
                  now: dt.datetime) -> str | None:
    """Why the chain does not validate to the configured CA, or None when it does.

    Validated (RFC 5280 / CA-B profile, by cryptography) for a name the leaf itself claims, so a
    wrong host name is judged by TLS-CERT-HOSTNAME alone, not here as well.
    """
    if ca_bundle is None:
        return "no CA bundle configured (target.ca_bundle): cannot validate the chain"
    roots = x509.load_pem_x509_certificates(Path(ca_bundle).read_bytes())
    leaf = chain[0]
    claimed = _sans(leaf)
    if not claimed:
        return "the leaf certificate has no subjectAltName, so no verifier can accept it"
    name = claimed[0]
    subject: DNSName | IPAddress
    if isinstance(name, x509.IPAddress):
        subject = IPAddress(name.value)
    else:
        subject = DNSName(str(name.value))
    verifier = PolicyBuilder().store(Store(roots)).time(now).build_server_verifier(subject)
    try:
        verifier.verify(leaf, chain[1:])
    except VerificationError as refused:
        reason = str(refused).split(" (encountered processing")[0]
        for oid, extension in _EXTENSION_NAMES.items():
            reason = reason.replace(oid, f"{oid} ({extension})")
        return f"{leaf.subject.rfc4514_string()} (issuer {leaf.issuer.rfc4514_string()}): {reason}"
    return None


def hostname_problem(leaf: x509.Certificate, host: str) -> str | None:
    """Whether the leaf's subjectAltNames cover ``host`` (RFC 6125; CN is not consulted)."""
    names = _sans(leaf)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for name in names:
        if address is not None and isinstance(name, x509.IPAddress) and name.value == address:
            return None
        if address is None and isinstance(name, x509.DNSName) and _dns_match(name.value, host):
            return None
    listed = ", ".join(str(n.value) for n in names) or "none"
    return f"the certificate names ({listed}) do not include {host}"


def _dns_match(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        # A wildcard covers exactly one left-most label.
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def days_to_expiry(leaf: x509.Certificate, now: dt.datetime) -> float:
    return (leaf.not_valid_after_utc - now).total_seconds() / 86400
