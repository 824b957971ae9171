"""The TLS checks, each reading the suite's one sslyze scan (harness/suites/tls/__init__.py).

Each ``tls.*`` defect switch of the city system fails exactly one check here;
TLS-MOZILLA-INTERMEDIATE reports only what no dedicated check reports.
"""

from __future__ import annotations

from cryptography import x509
from sslyze import ClientAuthRequirementEnum

from harness.checks import CheckResult, Evidence, Severity, check
from harness.suites.tls import analysis, mozilla
from harness.suites.tls.context import TlsContext


@check("TLS-PROTOCOL-LEGACY", severity=Severity.HIGH,
       defect="tls.allows_tls10",
       requirements=["CONN-TRANSPORT-TLS", "RFC8996-TLS10-TLS11", "RFC7568-SSL3", "RFC6176-SSL2"])
def no_legacy_protocols(ctx: TlsContext) -> CheckResult:
    """The endpoint refuses SSLv2, SSLv3, TLS 1.0 and TLS 1.1."""
    try:
        accepted = analysis.accepted_suites(ctx.scan)
    except analysis.IncompleteScan as incomplete:
        return CheckResult.errored(str(incomplete), ctx.reproduction())
    legacy = analysis.legacy_protocols(accepted)
    offered = [v for v, suites in accepted.items() if suites]
    evidence = [Evidence.measurement("protocols_accepted", ", ".join(offered))]
    if not legacy:
        return CheckResult.passed(f"only {', '.join(offered)} accepted", *evidence)
    for version in legacy:
        evidence.append(Evidence.finding(ctx.target.display, None,
                                         "TLS-PROTOCOL-LEGACY", f"{version} accepted with "
                                         f"{', '.join(accepted[version])}", severity="high"))
    attributed = analysis.judge_tls12_suites(accepted).legacy_attributed
    if attributed:
        evidence.append(Evidence.note(
            "these weak suites are also accepted on TLS 1.2 because the legacy protocols need "
            f"them; remove them together with TLS 1.0/1.1: {sorted(attributed)}"))
    return CheckResult.failed(f"legacy protocols accepted: {', '.join(legacy)}",
                              *evidence, ctx.reproduction())


@check("TLS-CIPHERS-STRONG", severity=Severity.HIGH,
       defect="tls.weak_ciphers",
       requirements=["CONN-TRANSPORT-TLS", "MOZILLA-TLS-INTERMEDIATE-CIPHERS"])
def strong_ciphers_only(ctx: TlsContext) -> CheckResult:
    """Every TLS 1.2 cipher suite has forward secrecy and is AEAD."""
    try:
        accepted = analysis.accepted_suites(ctx.scan)
    except analysis.IncompleteScan as incomplete:
        return CheckResult.errored(str(incomplete), ctx.reproduction())
    judgement = analysis.judge_tls12_suites(accepted)
    evidence = [Evidence.measurement("tls12_suites_accepted", len(accepted.get("TLSv1.2", [])))]
    if judgement.legacy_attributed:
        evidence.append(Evidence.note(
            "weak TLS 1.2 suites that TLS 1.0/1.1 also use are reported by TLS-PROTOCOL-LEGACY: "
            f"{sorted(judgement.legacy_attributed)}"))
    if not judgement.weak:
        return CheckResult.passed("every TLS 1.2 suite is (EC)DHE + AEAD", *evidence)
    for suite, reasons in sorted(judgement.weak.items()):
        evidence.append(Evidence.finding(ctx.target.display, None,
                                         "TLS-CIPHERS-STRONG", f"{suite}: {', '.join(reasons)}",
                                         severity="high"))
    return CheckResult.failed(f"{len(judgement.weak)} weak TLS 1.2 suite(s) accepted: "
                              f"{', '.join(sorted(judgement.weak))}", *evidence,
                              ctx.reproduction())


def _leaf_chain(ctx: TlsContext) -> list[x509.Certificate] | CheckResult:
    try:
        return analysis.leaf_and_chain(ctx.scan)
    except analysis.IncompleteScan as incomplete:
        return CheckResult.errored(str(incomplete), ctx.reproduction())


@check("TLS-CERT-CHAIN", severity=Severity.CRITICAL,
       defect="tls.self_signed",
       requirements=["CONN-TRANSPORT-TLS", "RFC5280-PATH-VALIDATION"])
def certificate_chain_valid(ctx: TlsContext) -> CheckResult:
    """The server certificate chains to the configured CA."""
    chain = _leaf_chain(ctx)
    if isinstance(chain, CheckResult):
        return chain
    problem = analysis.chain_problem(chain, ctx.ca_bundle, ctx.now)
    subjects = [c.subject.rfc4514_string() for c in chain]
    evidence = [Evidence.note(f"received chain: {subjects}; CA bundle: {ctx.ca_bundle}")]
    if ctx.ca_bundle is None:
        return CheckResult.errored(problem or "no CA bundle", *evidence)
    if problem is None:
        return CheckResult.passed("the chain validates to the configured CA", *evidence)
    return CheckResult.failed(f"the chain does not validate: {problem}", *evidence,
                              ctx.reproduction())


@check("TLS-CERT-HOSTNAME", severity=Severity.HIGH,
       defect="tls.hostname_mismatch",
       requirements=["CONN-TRANSPORT-TLS", "RFC6125-SERVICE-IDENTITY"])
def certificate_matches_host(ctx: TlsContext) -> CheckResult:
    """The server certificate's subjectAltNames cover the SUT's host."""
    chain = _leaf_chain(ctx)
    if isinstance(chain, CheckResult):
        return chain
    problem = analysis.hostname_problem(chain[0], ctx.host)
    names = Evidence.measurement("certificate_names", ", ".join(analysis.describe_names(chain[0])))
    if problem is None:
        return CheckResult.passed(f"the certificate names {ctx.host}", names)
    return CheckResult.failed(problem, names, ctx.reproduction())


@check("TLS-CERT-EXPIRY", severity=Severity.MEDIUM,
       defect="tls.expiring_cert",
       requirements=["PROFILE-TLS-EXPIRY"])
def certificate_not_expiring(ctx: TlsContext) -> CheckResult:
    """The server certificate does not expire within the profile's renewal window."""
    chain = _leaf_chain(ctx)
    if isinstance(chain, CheckResult):
        return chain
    days = analysis.days_to_expiry(chain[0], ctx.now)
    measured = Evidence.measurement("days_to_expiry", round(days, 1), "days",
                                    limit=ctx.min_days_to_expiry)
    expires = chain[0].not_valid_after_utc.isoformat()
    if days >= ctx.min_days_to_expiry:
        return CheckResult.passed(f"expires {expires}, in {days:.0f} days", measured,
                                  days_to_expiry=days)
    state = "expired" if days < 0 else f"expires in {days:.1f} days"
    return CheckResult.failed(f"certificate {state} ({expires}); renew at least "
                              f"{ctx.min_days_to_expiry} days ahead", measured,
                              ctx.reproduction(), days_to_expiry=days)


@check("TLS-MOZILLA-INTERMEDIATE", severity=Severity.MEDIUM,
       defect="tls.long_lived_cert",
       requirements=["MOZILLA-TLS-INTERMEDIATE"])
def mozilla_intermediate(ctx: TlsContext) -> CheckResult:
    """The endpoint complies with Mozilla's intermediate TLS configuration."""
    try:
        config = mozilla.mozilla_configuration(ctx.mozilla_config)
        verdict = mozilla.judge(ctx.result, ctx.scan, config, ctx.host, ctx.ca_bundle, ctx.now)
    except analysis.IncompleteScan as incomplete:
        return CheckResult.errored(f"Mozilla check impossible: {incomplete}{_mtls_hint(ctx)}",
                                   ctx.reproduction())
    except ValueError as unknown:
        return CheckResult.errored(f"unknown Mozilla configuration {ctx.mozilla_config!r}: {unknown}")
    evidence = [Evidence.note(f"{key}: {message}", title="covered by a dedicated check")
                for key, message in sorted(verdict.covered.items())]
    if not verdict.own:
        summary = f"compliant with Mozilla {ctx.mozilla_config}"
        if verdict.covered:
            summary += f" apart from {len(verdict.covered)} issue(s) other TLS checks report"
        return CheckResult.passed(summary, *evidence)
    for key, message in sorted(verdict.own.items()):
        evidence.append(Evidence.finding(ctx.target.display, None,
                                         f"mozilla.{key}", message, severity="medium"))
    return CheckResult.failed(f"not Mozilla {ctx.mozilla_config}: "
                              + "; ".join(verdict.own.values()), *evidence, ctx.reproduction())


def _mtls_hint(ctx: TlsContext) -> str:
    """Some sslyze probes (renegotiation) need the client certificate when the SUT requires mTLS."""
    probing = ctx.result.connectivity_result
    required = probing is not None and probing.client_auth_requirement == ClientAuthRequirementEnum.REQUIRED
    if required and ctx.target.client_cert is None:
        return (" — the SUT requires a client certificate: set target.client_cert and "
                "target.client_key (a portal certificate from the national CA)")
    return ""
