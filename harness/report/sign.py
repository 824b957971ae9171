"""Signing and verifying report.json: a detached Ed25519 signature, checkable by plain OpenSSL.

The signature file ``report.json.sig`` is the raw 64-byte Ed25519 signature of the exact bytes of
report.json (which are canonical), so an assessor without popcert can run:
    openssl pkeyutl -verify -pubin -inkey assessor.pub.pem -rawin -in report.json -sigfile report.json.sig
Keys, signatures and canonical bytes are harness.signing's; this module adds what a report needs
(its integrity, known versions and verdict).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from harness.errors import PopcertError
from harness.report.document import schema_errors
from harness.report.specs import known_harness_versions, known_specs
from harness.signing.canonical import canonical_json, is_canonical
from harness.signing.keys import (
    SIGNATURE_SUFFIX,
    KeyFileError,
    fingerprint,
    load_private_key,
    load_public_key,
    read_signature,
    sign_bytes,
)
from harness.untrusted import MAX_REPORT_DEPTH, json_text_depth


@dataclass
class VerifyResult:
    """The outcome of ``verify``: valid only when every reason list is empty."""

    signature_ok: bool = False
    reasons: list[str] = field(default_factory=list)
    verdict: str | None = None
    signer_fingerprint: str | None = None

    @property
    def valid(self) -> bool:
        return self.signature_ok and not self.reasons


def sign_report(report_path: Path, key_path: Path) -> Path:
    """Sign report.json; rewrites it canonically first if needed. Returns the .sig path.

    Refuses (PopcertError, every reason) a report `popcert verify` would call invalid for its
    content: a signature vouches for the report, so it is never put on one whose verdict does not
    re-derive, whose results were deleted or whose registered checks were trimmed.
    """
    key = load_private_key(key_path)
    raw = report_path.read_bytes()
    if json_text_depth(raw.decode("utf-8", errors="replace")) > MAX_REPORT_DEPTH:
        raise PopcertError(f"{report_path}: nests deeper than {MAX_REPORT_DEPTH} levels — "
                           "not a popcert report")
    try:
        report: dict[str, Any] = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise PopcertError(f"{report_path}: not a JSON report") from None
    problems = report_problems(report, report_path)
    if problems:
        raise PopcertError(f"{report_path}: not signed — the report is not what its run "
                           "produced (re-run the certification; never edit report.json):\n"
                           + "\n".join(f"  - {problem}" for problem in problems))
    if not is_canonical(raw):
        raw = canonical_json(report)
        report_path.write_bytes(raw)
    signature_path = report_path.with_name(report_path.name + SIGNATURE_SUFFIX)
    signature_path.write_bytes(sign_bytes(raw, key))
    return signature_path


def verify(report_path: Path, sig_path: Path, public_keys: Path | Sequence[Ed25519PublicKey], *,
           known: dict[str, dict[str, str]] | None = None,
           harness_versions: set[str] | None = None, check_verdict: bool = True) -> VerifyResult:
    """Check signature, integrity (schema, canonical bytes), known versions and the verdict.

    ``public_keys``: the trusted keys (from the trust store), or one key file the caller trusts.
    The signature must be by one of them. The verdict must be the one the profile's rule gives
    for the report's own results. ``known``/``harness_versions`` default to this popcert's.
    Raises PopcertError for unusable inputs (missing files, bad key): a usage error, not a verdict.
    """
    keys = [load_public_key(public_keys)] if isinstance(public_keys, Path) else list(public_keys)
    if not keys:
        raise KeyFileError("no trusted assessor key — trust one with "
                           "`popcert keys trust ASSESSOR.pub.pem`")
    try:
        raw = report_path.read_bytes()
    except OSError as missing:
        raise PopcertError(f"{report_path}: cannot read the report ({missing.strerror})") from None
    try:
        signature = read_signature(sig_path)
    except OSError as missing:
        raise PopcertError(f"{sig_path}: cannot read the signature ({missing.strerror})") from None
    result = VerifyResult(signer_fingerprint=None)
    for key in keys:
        try:
            key.verify(signature, raw)
        except InvalidSignature:
            continue
        result.signature_ok, result.signer_fingerprint = True, fingerprint(key)
        break
    else:
        result.reasons.append("signature does not match any trusted key: the report was changed "
                              "after signing, or it was signed by a key you do not trust")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        result.reasons.append("report.json is not valid UTF-8 JSON")
        return result
    if json_text_depth(text) > MAX_REPORT_DEPTH:
        # No popcert report nests this deep; parsing it would only exhaust the stack.
        result.reasons.append(f"report.json nests deeper than {MAX_REPORT_DEPTH} levels")
        return result
    try:
        report = json.loads(text)
    except ValueError:
        result.reasons.append("report.json is not valid UTF-8 JSON")
        return result
    if not is_canonical(raw):
        result.reasons.append("report.json is not in canonical form (sorted keys, compact, UTF-8)")
    if isinstance(report, dict):
        result.verdict = (report.get("verdict") or {}).get("status")
    result.reasons.extend(report_problems(report, report_path, known=known,
                                          harness_versions=harness_versions,
                                          check_verdict=check_verdict))
    return result


def report_problems(report: Any, report_path: Path | None = None, *,
                    known: dict[str, dict[str, str]] | None = None,
                    harness_versions: set[str] | None = None,
                    check_verdict: bool = True) -> list[str]:
    """Everything wrong with the report's content (not its signature): schema, versions this
    popcert knows, and (harness.report.integrity) the verdict re-derived over popcert's registry
    and profile, every result present, the results' digest chain and the run mode's banner."""
    problems = [f"schema: {problem}" for problem in schema_errors(report)]
    if not isinstance(report, dict):
        return problems
    schema_ok = not problems
    problems.extend(_unknown_versions(report, known if known is not None else known_specs(),
                                      harness_versions or known_harness_versions()))
    if check_verdict and schema_ok:
        from harness.report.integrity import content_problems

        problems.extend(content_problems(report, report_path=report_path))
    return problems


def _unknown_versions(report: dict[str, Any], known: dict[str, dict[str, str]],
                      harness_versions: set[str]) -> list[str]:
    reasons = []
    version = (report.get("harness") or {}).get("version")
    if version not in harness_versions:
        reasons.append(f"harness version {version!r} is unknown to this popcert "
                       f"(known: {', '.join(sorted(harness_versions))})")
    for name, spec in sorted((report.get("specs") or {}).items()):
        if not isinstance(spec, dict):
            continue
        versions = known.get(name)
        if versions is None:
            reasons.append(f"spec {name!r} is unknown (known specs: {', '.join(sorted(known)) or 'none'})")
        elif spec.get("version") not in versions:
            reasons.append(f"spec {name} version {spec.get('version')!r} is unknown "
                           f"(known: {', '.join(sorted(versions))})")
        elif versions[spec["version"]] != spec.get("sha256"):
            reasons.append(f"spec {name} {spec['version']}: sha256 differs from the published spec "
                           "(the run used a modified spec)")
    return reasons
