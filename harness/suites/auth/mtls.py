"""AUTH checks of mutual TLS: where the profile requires mTLS, a caller without a valid
national-CA client certificate is refused, even with a genuine bearer token.

Refused means the TLS handshake failed (the server's alert, or a reset right after it) or an HTTP
401/403. A timeout or a closed port is not a refusal: that is ``error``, the SUT did not answer.
"""

from __future__ import annotations

from harness.checks import CheckResult, Evidence, Severity, check
from harness.net import TlsMaterial
from harness.suites.auth.context import AuthContext
from harness.suites.auth.probe import Probe

# Failures that mean the server ended the handshake (TLS 1.3 reports the alert on first read).
_TLS_REFUSAL_MARKERS = ("ssl", "tls", "alert", "certificate", "handshake", "reset",
                        "disconnected", "eof", "broken pipe", "remoteprotocolerror")
_NOT_A_REFUSAL_MARKERS = ("timeout", "timed out", "connection refused", "errno 111",
                          "refused by scope", "name or service",
                          "certificate_verify_failed")


def refused_at_tls(error: str | None) -> bool:
    """Whether a transport failure is the server refusing the client certificate."""
    if not error:
        return False
    text = error.lower()
    if any(marker in text for marker in _NOT_A_REFUSAL_MARKERS):
        return False
    return any(marker in text for marker in _TLS_REFUSAL_MARKERS)


def _skip_unless_required(ctx: AuthContext) -> CheckResult | None:
    if ctx.mtls_required:
        return None
    profile = ctx.run.profile
    return CheckResult.skipped(f"profile {profile.name} does not require mTLS "
                               f"(mtls: {profile.mtls})")


def _probe_with(ctx: AuthContext, description: str, tls: TlsMaterial) -> Probe:
    with ctx.run.http(tls=tls) as client:
        return ctx.read(description, ctx.token(), client=client, tls=tls)


def _judge(ctx: AuthContext, description: str, tls: TlsMaterial, what: str) -> CheckResult:
    if (skipped := _skip_unless_required(ctx)) is not None:
        return skipped
    if (problem := ctx.baseline_problem()) is not None:
        return problem  # the portal's valid certificate must work, or refusals prove nothing
    probe = _probe_with(ctx, description, tls)
    ex = probe.exchange
    if ex.error is not None:
        if refused_at_tls(ex.error):
            return CheckResult.passed(f"{what}: refused in the TLS handshake ({ex.error[:160]})",
                                      *probe.evidence())
        return CheckResult.errored(f"{what}: could not decide, no usable answer ({ex.error})",
                                   *probe.evidence())
    if ex.status in (401, 403):
        return CheckResult.passed(f"{what}: refused with HTTP {ex.status}", *probe.evidence())
    if ex.status is not None and 200 <= ex.status < 300:
        return CheckResult.failed(f"{what}: {description} was served (HTTP {ex.status})",
                                  *probe.evidence(), _note(tls))
    return CheckResult.failed(f"{what}: answered HTTP {ex.status} instead of a TLS refusal or "
                              "401/403", *probe.evidence(), _note(tls))


def _note(tls: TlsMaterial) -> Evidence:
    return Evidence.note(f"client certificate: {tls.client_cert or 'none'}",
                         title="TLS client credentials presented")


def _judge_portal_certificate(ctx: AuthContext, kind: str, description: str,
                              what: str) -> CheckResult:
    """``_judge`` with one of the portal's deliberately bad client certificates (mock PKI)."""
    if (skipped := _skip_unless_required(ctx)) is not None:
        return skipped  # before the PKI is touched: without mTLS no certificate is needed
    tls = ctx.portal.certificate(kind)
    return _judge(ctx, description, tls, what)


@check("AUTH-MTLS-REQUIRED", severity=Severity.CRITICAL,
       requirements=["PROFILE-MTLS", "CONN-SEC-MTLS"], defect="mtls.optional")
def mtls_required(ctx: AuthContext) -> CheckResult:
    """A caller without a client certificate is refused although its token is genuine."""
    tls = TlsMaterial(ctx.tls.ca_bundle)
    return _judge(ctx, "genuine token over TLS without a client certificate", tls,
                  "connection without a client certificate")


@check("AUTH-MTLS-EXPIRED", severity=Severity.HIGH,
       requirements=["PROFILE-MTLS", "CONN-SEC-MTLS", "RFC5280-VALIDITY"],
       defect="mtls.expired_cert_accepted")
def mtls_expired(ctx: AuthContext) -> CheckResult:
    """A caller presenting an expired national-CA client certificate is refused."""
    return _judge_portal_certificate(
        ctx, "expired", "genuine token with the portal's expired client certificate",
        "expired client certificate")


@check("AUTH-MTLS-FOREIGN-CA", severity=Severity.CRITICAL,
       requirements=["PROFILE-MTLS", "CONN-SEC-MTLS", "RFC5280-PATH-VALIDATION"],
       defect="mtls.foreign_ca_accepted")
def mtls_foreign_ca(ctx: AuthContext) -> CheckResult:
    """A caller presenting a client certificate from a foreign CA is refused."""
    return _judge_portal_certificate(
        ctx, "foreign", "genuine token with a portal certificate issued by a foreign CA",
        "client certificate from a foreign CA")
