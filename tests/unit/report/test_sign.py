"""Signing: Ed25519 over the canonical bytes; verify catches tampering, wrong keys, unknown specs."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from harness.errors import PopcertError
from harness.report import sign
from harness.report.render import render_all
from harness.signing import keys as signing_keys
from harness.signing.canonical import canonical_json
from tests.unit.report.sample_report import (
    HARNESS_VERSION,
    SAMPLE_SPECS,
    registered_certified_report,
    sample_report,
    sign_unchecked,
)

KNOWN = {name: {spec["version"]: spec["sha256"]} for name, spec in SAMPLE_SPECS.items()}


def _verify(report: Path, sig: Path, pub: Path, **kw) -> sign.VerifyResult:  # type: ignore[no-untyped-def]
    # The sample is not a whole run of this popcert (a handful of checks, made-up spec hashes):
    # these tests are about the signature and the versions; content is test_trust's and
    # test_integrity's.
    kw.setdefault("known", KNOWN)
    kw.setdefault("harness_versions", {HARNESS_VERSION})
    kw.setdefault("check_verdict", False)
    return sign.verify(report, sig, pub, **kw)


@pytest.fixture()
def signed(tmp_path: Path) -> tuple[Path, Path, signing_keys.KeyPair]:
    keys = signing_keys.keys_new(tmp_path / "keys", "assessor")
    report = render_all(sample_report(), tmp_path / "run", formats=("json",))["json"]
    return report, sign_unchecked(report, keys.private_key), keys


def test_keys_new_writes_pkcs8_0600_and_refuses_overwrite(tmp_path: Path) -> None:
    pair = signing_keys.keys_new(tmp_path, "assessor")
    assert stat.S_IMODE(pair.private_key.stat().st_mode) == 0o600
    assert pair.private_key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert pair.public_key.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert pair.fingerprint.startswith("SHA256:")
    with pytest.raises(PopcertError, match="already exists"):
        signing_keys.keys_new(tmp_path, "assessor")


def test_signed_report_verifies(signed: tuple[Path, Path, signing_keys.KeyPair]) -> None:
    report, sig, keys = signed
    assert sig.name == "report.json.sig" and len(sig.read_bytes()) == 64
    outcome = _verify(report, sig, keys.public_key)
    assert outcome.valid, outcome.reasons
    assert outcome.verdict == "NOT CERTIFIED" and outcome.signer_fingerprint == keys.fingerprint


def test_tampered_report_fails(signed: tuple[Path, Path, signing_keys.KeyPair]) -> None:
    report, sig, keys = signed
    report.write_bytes(report.read_bytes().replace(b'"NOT CERTIFIED"', b'"CERTIFIED"', 1))
    outcome = _verify(report, sig, keys.public_key)
    assert not outcome.valid and "signature does not match" in outcome.reasons[0]


def test_reformatted_report_fails_even_if_content_is_equal(signed: tuple[Path, Path, signing_keys.KeyPair]) -> None:
    report, sig, keys = signed
    report.write_text(json.dumps(json.loads(report.read_bytes()), indent=2, ensure_ascii=False))
    outcome = _verify(report, sig, keys.public_key)
    assert not outcome.valid
    assert any("canonical" in r for r in outcome.reasons)


def test_another_key_fails(signed: tuple[Path, Path, signing_keys.KeyPair], tmp_path: Path) -> None:
    report, sig, _ = signed
    other = signing_keys.keys_new(tmp_path / "other", "mallory")
    assert not _verify(report, sig, other.public_key).valid


def test_base64_signature_is_accepted(signed: tuple[Path, Path, signing_keys.KeyPair], tmp_path: Path) -> None:
    report, sig, keys = signed
    b64 = tmp_path / "report.json.sig.b64"
    b64.write_text(base64.b64encode(sig.read_bytes()).decode() + "\n")
    assert _verify(report, b64, keys.public_key).valid


def _sign_dict(tmp_path: Path, report: dict, keys: signing_keys.KeyPair) -> tuple[Path, Path]:  # type: ignore[type-arg]
    path = tmp_path / "custom" / "report.json"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(canonical_json(report))
    return path, sign_unchecked(path, keys.private_key)


def test_unknown_spec_version_fails_with_a_clear_reason(signed: tuple[Path, Path, signing_keys.KeyPair],
                                                       tmp_path: Path) -> None:
    _, _, keys = signed
    report = sample_report()
    report["specs"]["npdb"]["version"] = "v9"
    outcome = _verify(*_sign_dict(tmp_path, report, keys), keys.public_key)
    assert outcome.signature_ok and not outcome.valid
    assert outcome.reasons == ["spec npdb version 'v9' is unknown (known: v1)"]


def test_modified_spec_and_unknown_harness_fail(signed: tuple[Path, Path, signing_keys.KeyPair], tmp_path: Path) -> None:
    _, _, keys = signed
    report = sample_report()
    report["specs"]["connection"]["sha256"] = "f" * 64
    report["harness"]["version"] = "9.9.9"
    reasons = _verify(*_sign_dict(tmp_path, report, keys), keys.public_key).reasons
    assert any("harness version '9.9.9' is unknown" in r for r in reasons)
    assert any("spec connection v1: sha256 differs" in r for r in reasons)


def test_schema_invalid_report_fails_even_when_signed(signed: tuple[Path, Path, signing_keys.KeyPair],
                                                      tmp_path: Path) -> None:
    _, _, keys = signed
    report = sample_report()
    del report["results"][0]["check"]["severity"]
    outcome = _verify(*_sign_dict(tmp_path, report, keys), keys.public_key)
    assert outcome.signature_ok and any(r.startswith("schema: results[0].check") for r in outcome.reasons)


def test_sign_rewrites_a_non_canonical_report(tmp_path: Path) -> None:
    keys = signing_keys.keys_new(tmp_path, "a")
    path = tmp_path / "report.json"
    report = registered_certified_report()
    path.write_text(json.dumps(report, indent=2))
    sig = sign.sign_report(path, keys.private_key)
    assert path.read_bytes() == canonical_json(report)
    assert sign.verify(path, sig, keys.public_key).valid


def test_default_known_specs_come_from_this_repo(signed: tuple[Path, Path, signing_keys.KeyPair]) -> None:
    report, sig, keys = signed
    # The sample's fake sha256 values are not this repository's specs.
    reasons = sign.verify(report, sig, keys.public_key, check_verdict=False).reasons
    assert reasons and all("spec" in r for r in reasons)


def test_unusable_inputs_are_usage_errors(signed: tuple[Path, Path, signing_keys.KeyPair], tmp_path: Path) -> None:
    report, sig, keys = signed
    with pytest.raises(PopcertError, match="cannot read the signature"):
        _verify(report, tmp_path / "none.sig", keys.public_key)
    with pytest.raises(PopcertError, match="not a PEM public key"):
        _verify(report, sig, report)
    with pytest.raises(PopcertError, match="not an Ed25519 signature"):
        _verify(report, report, keys.public_key)
    with pytest.raises(PopcertError, match="not an unencrypted PEM private key"):
        sign.sign_report(report, keys.public_key)
