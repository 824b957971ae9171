"""Mozilla "intermediate" compliance, minus what the dedicated TLS checks already report.

sslyze's checker returns issues keyed by topic (``tls_versions``, ``ciphers``, ``certificate_path_
validation``, ...). A defect must fail exactly one check, so each issue is either *covered* (a
dedicated check fails for the same cause on the same scan: shown as a note) or *own* (only this
check reports it: it fails). See docs/tls-sast.md §Mozilla.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from sslyze import AllScanCommandsAttempts, ServerScanResult
from sslyze.mozilla_tls_profile.tls_config_checker import (
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    ServerScanResultIncomplete,
    TlsConfigurationAsJson,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)

from harness.suites.tls import analysis


@dataclass(frozen=True)
class MozillaVerdict:
    own: dict[str, str]  # issue key -> message, reported only by TLS-MOZILLA-INTERMEDIATE
    covered: dict[str, str]  # issue key -> "<message> (reported by CHECK-ID)"


def mozilla_configuration(name: str) -> TlsConfigurationAsJson:
    return MozillaTlsConfiguration.get(TlsConfigurationEnum(name))


def mozilla_issues(result: ServerScanResult, config: TlsConfigurationAsJson) -> dict[str, str]:
    try:
        check_server_against_tls_configuration(result, config)
    except ServerNotCompliantWithTlsConfiguration as non_compliant:
        return dict(non_compliant.issues)
    except ServerScanResultIncomplete as incomplete:
        raise analysis.IncompleteScan(str(incomplete)) from None
    return {}


def judge(result: ServerScanResult, scan: AllScanCommandsAttempts, config: TlsConfigurationAsJson,
          host: str, ca_bundle: Path | None, now: dt.datetime) -> MozillaVerdict:
    """``scan`` is ``result.scan_result`` (sslyze's checker reads the whole result)."""
    issues = mozilla_issues(result, config)
    accepted = analysis.accepted_suites(scan)
    legacy = analysis.legacy_protocols(accepted)
    ciphers = analysis.judge_tls12_suites(accepted)
    chain = analysis.leaf_and_chain(scan)
    own: dict[str, str] = {}
    covered: dict[str, str] = {}
    for key, message in issues.items():
        owner = _dedicated_owner(key, accepted, legacy, ciphers, config, chain, host,
                                 ca_bundle, now)
        if owner is None:
            own[key] = message
        elif isinstance(owner, tuple):  # partly covered: keep only what no other check reports
            own[key], covered[key] = owner
        else:
            covered[key] = f"{message} (reported by {owner})"
    return MozillaVerdict(own, covered)


def _dedicated_owner(key: str, accepted: dict[str, list[str]], legacy: list[str],
                     ciphers: analysis.CipherJudgement, config: TlsConfigurationAsJson,
                     chain: list[x509.Certificate], host: str, ca_bundle: Path | None,
                     now: dt.datetime) -> str | tuple[str, str] | None:
    if key == "tls_versions" and legacy:
        return "TLS-PROTOCOL-LEGACY"
    if key == "ciphers":
        objected = {s for v, suites in accepted.items() if v != "TLSv1.3" for s in suites
                    if s not in config.ciphers.iana}
        by_protocol = {s for v in analysis.LEGACY_VERSIONS for s in accepted.get(v, [])}
        by_ciphers = set(ciphers.weak)
        rest = objected - by_protocol - by_ciphers
        if not rest:
            return "TLS-PROTOCOL-LEGACY/TLS-CIPHERS-STRONG"
        return (f"cipher suites {sorted(rest)} are outside Mozilla intermediate",
                f"{sorted(objected - rest)} (reported by TLS-PROTOCOL-LEGACY/TLS-CIPHERS-STRONG)")
    if key == "certificate_path_validation":
        leaf = chain[0]
        if analysis.chain_problem(chain, ca_bundle, now):
            return "TLS-CERT-CHAIN"
        if analysis.hostname_problem(leaf, host):
            return "TLS-CERT-HOSTNAME"
        if analysis.days_to_expiry(leaf, now) < 0:
            return "TLS-CERT-EXPIRY"
    return None
