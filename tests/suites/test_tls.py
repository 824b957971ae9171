"""The TLS suite against real TLS servers on 127.0.0.1: compliant passes, each tls.* defect fails
exactly its own check. One sslyze scan per server, shared by all checks (as the suite context does).
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from harness.checks import CheckResult, Status, SuiteUnavailable
from harness.registry import default_registry
from harness.suites.tls import analysis
from harness.suites.tls import context as tls_suite
from harness.suites.tls.scan import TlsTarget
from popcert_city.tls_profile import (
    TLS_DEFECTS,
    build_server_context,
    server_certificate,
)
from popcert_npdb.pki import IssuedCert, TestPKI

pytestmark = pytest.mark.integration

# defect switch -> the one check it must fail, as the checks declare it
EXPECTED_FAILURE = {d: c.id for c in default_registry().for_suite("tls") for d in c.defects}


class TinyHttpsServer:
    """A minimal HTTPS responder on 127.0.0.1:0 for sslyze to scan; stopped by ``close``."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(3)
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except (OSError, ssl.SSLError):
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        self.listener.close()
        self.thread.join(timeout=2)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    pki = TestPKI(tmp_path_factory.mktemp("tls-state"))
    pki.ensure()
    return pki


@pytest.fixture(scope="module")
def portal(pki: TestPKI) -> IssuedCert:
    return pki.issue("portal", kind="client", sans=())


def _start(pki: TestPKI, defects: frozenset[str]) -> TinyHttpsServer:
    cert, key = server_certificate(defects, pki, "city-system")
    # mTLS required, like a ministry-level SUT: the scan must present the portal's certificate.
    return TinyHttpsServer(build_server_context(defects, cert, key, pki.ca_path, "required"))


@pytest.fixture(scope="module")
def scans(pki: TestPKI, portal: IssuedCert) -> Iterator[dict[str, tls_suite.TlsContext]]:
    """One scan per server: the compliant one and one per tls.* defect."""
    variants = {"compliant": frozenset(), **{d: frozenset({d}) for d in sorted(TLS_DEFECTS)}}
    servers = {name: _start(pki, defects) for name, defects in variants.items()}
    try:
        yield {name: tls_suite.scan_context(TlsTarget("127.0.0.1", server.port, pki.ca_path,
                                                      portal.cert_path, portal.key_path))
               for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.close()


def _run_all(ctx: tls_suite.TlsContext) -> dict[str, CheckResult]:
    return {c.id: c.function(ctx) for c in default_registry().for_suite("tls")}


def _failing(results: dict[str, CheckResult]) -> set[str]:
    return {check_id for check_id, r in results.items() if r.status != Status.PASS}


def test_compliant_server_passes_every_tls_check(scans: dict[str, tls_suite.TlsContext]) -> None:
    results = _run_all(scans["compliant"])
    assert _failing(results) == set(), {k: r.summary for k, r in results.items()}
    assert len(results) == 6


@pytest.mark.parametrize("defect", sorted(EXPECTED_FAILURE))
def test_each_defect_fails_exactly_its_check(scans: dict[str, tls_suite.TlsContext],
                                             defect: str) -> None:
    results = _run_all(scans[defect])
    assert _failing(results) == {EXPECTED_FAILURE[defect]}, {k: r.summary for k, r in results.items()}
    assert results[EXPECTED_FAILURE[defect]].status == Status.FAIL


def test_every_tls_check_declares_its_defect() -> None:
    checks = default_registry().for_suite("tls")
    assert all(len(c.defects) == 1 for c in checks)
    assert len(EXPECTED_FAILURE) == len(checks)
    assert set(EXPECTED_FAILURE) == TLS_DEFECTS


def test_legacy_protocol_failure_names_versions_and_the_suites_it_drags_in(
        scans: dict[str, tls_suite.TlsContext]) -> None:
    result = _run_all(scans["tls.allows_tls10"])["TLS-PROTOCOL-LEGACY"]
    assert "TLSv1" in result.summary and "TLSv1.1" in result.summary
    notes = [e.data["text"] for e in result.evidence if e.kind == "note"]
    assert any("CBC_SHA" in n for n in notes)  # CBC suites reported here, not by TLS-CIPHERS-STRONG


def test_mozilla_check_lists_issues_covered_elsewhere_as_notes(
        scans: dict[str, tls_suite.TlsContext]) -> None:
    result = _run_all(scans["tls.allows_tls10"])["TLS-MOZILLA-INTERMEDIATE"]
    assert result.status == Status.PASS
    covered = " ".join(e.data["text"] for e in result.evidence if e.kind == "note")
    assert "tls_versions" in covered and "TLS-PROTOCOL-LEGACY" in covered


def test_long_lived_failure_reports_the_lifespan(scans: dict[str, tls_suite.TlsContext]) -> None:
    result = _run_all(scans["tls.long_lived_cert"])["TLS-MOZILLA-INTERMEDIATE"]
    assert "800 days" in result.summary
    assert any(e.kind == "finding" for e in result.evidence)


def test_expiry_threshold_comes_from_the_profile(scans: dict[str, tls_suite.TlsContext]) -> None:
    expiring = scans["tls.expiring_cert"]
    assert _run_all(replace(expiring, min_days_to_expiry=3))["TLS-CERT-EXPIRY"].status == Status.PASS
    long_window = replace(scans["compliant"], min_days_to_expiry=400)
    assert _run_all(long_window)["TLS-CERT-EXPIRY"].status == Status.FAIL


def test_missing_client_certificate_makes_the_mozilla_check_an_error_with_a_hint(
        pki: TestPKI) -> None:
    # Without the portal certificate sslyze still sees protocols, suites and the certificate,
    # but not renegotiation: the Mozilla check cannot decide and says how to fix the config.
    server = _start(pki, frozenset())
    try:
        ctx = tls_suite.scan_context(TlsTarget("127.0.0.1", server.port, pki.ca_path))
    finally:
        server.close()
    results = _run_all(ctx)
    assert _failing(results) == {"TLS-MOZILLA-INTERMEDIATE"}
    assert results["TLS-MOZILLA-INTERMEDIATE"].status == Status.ERROR
    assert "target.client_cert" in results["TLS-MOZILLA-INTERMEDIATE"].summary


def test_unreachable_endpoint_makes_the_suite_unavailable() -> None:
    # The engine records this summary and evidence as `error` on every TLS check.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound but not listening: connection refused
        with pytest.raises(SuiteUnavailable) as unavailable:
            tls_suite.scan_context(TlsTarget("127.0.0.1", port))
    assert unavailable.value.summary.startswith("no TLS scan:")
    assert f"127.0.0.1:{port}" in unavailable.value.summary
    assert unavailable.value.evidence[0].kind == "reproduction"


def test_plain_http_target_is_an_error() -> None:
    from harness.suites.tls.scan import TlsScanError

    with pytest.raises(TlsScanError, match="not an https URL"):
        TlsTarget.from_url("http://127.0.0.1:8080")


def test_suite_context_scans_the_configured_target(
        pki: TestPKI, portal: IssuedCert, tmp_path: Path) -> None:
    from harness.config import config_from_dict
    from harness.net import ScopeGuard
    from harness.profiles import Profile
    from harness.run_context import RunContext

    server = _start(pki, frozenset({"tls.expiring_cert"}))
    try:
        config = config_from_dict({
            "system": {"name": "city", "organisation": "test", "level": "province"},
            "target": {"base_url": f"https://127.0.0.1:{server.port}", "ca_bundle": str(pki.ca_path),
                       "client_cert": str(portal.cert_path), "client_key": str(portal.key_path)},
        }, tmp_path)
        profile = Profile(name="t", version="1", title_vi="t", title_en="t", mandatory=["TLS-*"],
                          thresholds={"tls": {"min_days_to_expiry": 3}})
        run = RunContext(config, profile, tmp_path, ScopeGuard(["127.0.0.1"]), tmp_path)
        suite = default_registry().suite("tls")
        assert suite is not None
        factory = suite.context(run)
        ctx = next(factory)
        factory.close()
    finally:
        server.close()
    assert ctx.min_days_to_expiry == 3
    assert _failing(_run_all(ctx)) == set()  # 5 days left is fine under a 3-day window


# Offline judgements: no network.

@pytest.mark.parametrize(("suite", "weak"), [
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", []),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", []),
    ("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", []),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", ["no forward secrecy"]),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", ["not AEAD"]),
    ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", ["no forward secrecy", "not AEAD"]),
    ("TLS_ECDH_anon_WITH_AES_128_CBC_SHA", ["anonymous key exchange", "not AEAD"]),
])
def test_suite_weaknesses(suite: str, weak: list[str]) -> None:
    assert analysis.suite_weaknesses(suite) == weak


def test_weak_suites_only_on_tls12_are_the_cipher_checks_own() -> None:
    accepted = {"TLSv1": ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"],
                "TLSv1.2": ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256",
                            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]}
    judged = analysis.judge_tls12_suites(accepted)
    assert set(judged.weak) == {"TLS_RSA_WITH_AES_128_GCM_SHA256"}
    assert set(judged.legacy_attributed) == {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"}


def _cert_with(names: list[x509.GeneralName]) -> x509.Certificate:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(key, hashes.SHA256()))


def test_hostname_rules() -> None:
    import ipaddress

    wildcard = _cert_with([x509.DNSName("*.city.example.vn"), x509.IPAddress(
        ipaddress.ip_address("10.0.0.1"))])
    assert analysis.hostname_problem(wildcard, "api.city.example.vn") is None
    assert analysis.hostname_problem(wildcard, "a.b.city.example.vn") is not None
    assert analysis.hostname_problem(wildcard, "city.example.vn") is not None
    assert analysis.hostname_problem(wildcard, "10.0.0.1") is None
    # The CN says 127.0.0.1, but only subjectAltName counts (RFC 6125).
    assert analysis.hostname_problem(wildcard, "127.0.0.1") is not None
