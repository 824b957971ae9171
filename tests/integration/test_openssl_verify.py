"""An assessor without popcert can check a signed report with plain OpenSSL (Ed25519, -rawin)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests.unit.report.sample_report

from harness.report import sign
from harness.report.render import render_all
from harness.signing import keys as signing_keys
from harness.signing import trust
from tests.unit.report.sample_report import registered_certified_report


def _openssl_supports_ed25519_rawin(tmp: Path) -> str | None:
    if shutil.which("openssl") is None:
        return "openssl is not installed"
    keys = signing_keys.keys_new(tmp / "probe", "probe")
    message = tmp / "probe" / "m"
    message.write_bytes(b"probe")
    signature = tmp / "probe" / "m.sig"
    signature.write_bytes(signing_keys.load_private_key(keys.private_key).sign(b"probe"))
    probe = _openssl_verify(keys.public_key, message, signature)
    if probe.returncode != 0:
        return f"this openssl cannot verify Ed25519 with -rawin: {probe.stderr.strip()[:200]}"
    return None


def _openssl_verify(public_key: Path, report: Path, signature: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public_key), "-rawin",
         "-in", str(report), "-sigfile", str(signature)],
        capture_output=True, text=True, timeout=30, check=False)


def test_openssl_verifies_a_signed_report_and_rejects_a_tampered_one(tmp_path: Path) -> None:
    unsupported = _openssl_supports_ed25519_rawin(tmp_path)
    if unsupported:
        pytest.skip(unsupported)
    keys = signing_keys.keys_new(tmp_path / "keys", "assessor")
    # A whole run's report: `popcert sign` refuses one whose content does not hold.
    report = render_all(registered_certified_report(), tmp_path / "run", formats=("json",))["json"]
    signature = sign.sign_report(report, keys.private_key)

    good = _openssl_verify(keys.public_key, report, signature)
    assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout

    # popcert agrees with OpenSSL when the key comes from the trust store.
    store = tmp_path / "trusted_keys"
    trusted = [k.key for k in [trust.trust_key(keys.public_key, store)]]
    assert sign.verify(report, signature, trusted).signature_ok
    # The key the trust store holds is a PEM plain OpenSSL reads too.
    assert _openssl_verify(store / "assessor.pub.pem", report, signature).returncode == 0

    report.write_bytes(report.read_bytes().replace(b'"CERTIFIED"', b'"NOT CERTIFIED"', 1))
    bad = _openssl_verify(keys.public_key, report, signature)
    assert bad.returncode != 0 and "Signature Verification Failure" in (bad.stdout + bad.stderr)
    assert not sign.verify(report, signature, trusted).signature_ok

