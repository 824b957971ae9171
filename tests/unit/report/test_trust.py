"""Verify means certified by the assessor: trusted keys only, and a verdict that follows from the results.

The attack this stops: a NOT CERTIFIED report edited to CERTIFIED and re-signed with the
attacker's own key (its public key dropped next to the report) used to verify as VALID.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.commands.main import app
from harness.errors import PopcertError
from harness.report.render import render_all
from harness.report.sign import sign_report
from harness.signing import trust
from harness.signing.keys import keys_new
from tests.unit.report.sample_report import as_run_wrote_it, registered_certified_report, sign_unchecked

runner = CliRunner()


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The assessor's key trusted in a store under XDG_CONFIG_HOME (the default location)."""
    monkeypatch.delenv(trust.TRUST_STORE_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    keys_new(tmp_path / "assessor-keys", "assessor")
    trusted = runner.invoke(app, ["keys", "trust", str(tmp_path / "assessor-keys/assessor.pub.pem")])
    assert trusted.exit_code == 0, trusted.output
    return tmp_path / "config" / "popcert" / "trusted_keys"


def _signed(tmp_path: Path, report: dict[str, Any], key: Path, folder: str = "run") -> Path:
    """The report signed with ``key``: by `popcert sign` when its content holds, else as any
    Ed25519 tool signs bytes (`popcert sign` refuses it; verify must catch it all the same)."""
    path = render_all(report, tmp_path / folder, formats=("json",))["json"]
    try:
        sign_report(path, key)
    except PopcertError:
        sign_unchecked(path, key)
    return path


def _not_certified() -> dict[str, Any]:
    report = registered_certified_report()
    failing = next(r for r in report["results"] if r["check"]["id"] == "AUTH-JWT-ALG-NONE")
    failing["status"], failing["summary"] = "fail", "a token with alg none was accepted"
    report["summary"]["by_status"] = {"pass": len(report["results"]) - 1, "fail": 1}
    report["summary"]["by_suite"]["auth"] = {"pass": report["summary"]["by_suite"]["auth"]["pass"] - 1,
                                             "fail": 1}
    report["verdict"] = {"status": "NOT CERTIFIED",
                         "reasons": ["AUTH-JWT-ALG-NONE: mandatory check ended fail"],
                         "blocking": ["AUTH-JWT-ALG-NONE"]}
    return as_run_wrote_it(report)


def test_keys_trust_stores_the_key_under_the_config_dir(store: Path, tmp_path: Path) -> None:
    assert (store / "assessor.pub.pem").is_file()
    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0 and "assessor  SHA256:" in listed.output
    again = runner.invoke(app, ["keys", "trust", str(tmp_path / "assessor-keys/assessor.pub.pem")])
    assert again.exit_code == 0  # the same key twice changes nothing
    keys_new(tmp_path / "other", "assessor")
    clash = runner.invoke(app, ["keys", "trust", str(tmp_path / "other/assessor.pub.pem")])
    assert clash.exit_code == 2 and "already trusted under the name" in clash.output


def test_a_consistent_report_by_a_trusted_assessor_is_valid(store: Path, tmp_path: Path) -> None:
    report = _signed(tmp_path, registered_certified_report(), tmp_path / "assessor-keys/assessor.key.pem")
    verified = runner.invoke(app, ["verify", str(report)])
    assert verified.exit_code == 0, verified.output
    assert "VALID: signature by assessor SHA256:" in verified.output
    assert "verdict CERTIFIED" in verified.output


def test_forged_certified_report_resigned_by_an_attacker_is_invalid(store: Path, tmp_path: Path) -> None:
    genuine = _signed(tmp_path, _not_certified(), tmp_path / "assessor-keys/assessor.key.pem")
    forged = json.loads(genuine.read_text(encoding="utf-8"))
    forged["verdict"] = {"status": "CERTIFIED", "reasons": [], "blocking": []}
    # The attacker signs with their own key and ships its public key in the report's folder.
    keys_new(tmp_path / "forged", "assessor")
    report = _signed(tmp_path, forged, tmp_path / "forged/assessor.key.pem", folder="forged")
    verified = runner.invoke(app, ["verify", str(report)], catch_exceptions=False)
    assert verified.exit_code == 1, verified.output
    assert "does not match any trusted key" in verified.output
    pinned = runner.invoke(app, ["verify", str(report), "--public-key",
                                 str(tmp_path / "forged/assessor.pub.pem")])
    assert pinned.exit_code == 2 and "report's folder" in pinned.output


def test_a_verdict_contradicting_the_results_is_invalid_even_when_signed_by_the_assessor(
        store: Path, tmp_path: Path) -> None:
    lying = _not_certified()
    lying["verdict"] = {"status": "CERTIFIED", "reasons": [], "blocking": []}
    report = _signed(tmp_path, lying, tmp_path / "assessor-keys/assessor.key.pem")
    verified = runner.invoke(app, ["verify", str(report)])
    assert verified.exit_code == 1, verified.output
    assert "contradicts the report's own results" in verified.output
    assert "AUTH-JWT-ALG-NONE: mandatory check ended fail" in verified.output


def test_a_dropped_mandatory_result_or_an_out_of_date_waiver_cannot_certify(
        store: Path, tmp_path: Path) -> None:
    dropped = registered_certified_report()
    dropped["results"] = [r for r in dropped["results"] if r["check"]["id"] != "AUTH-SCOPE"]
    stale = _not_certified()
    failing = next(r for r in stale["results"] if r["status"] == "fail")
    failing["waiver"] = {"check_id": failing["check"]["id"], "reason": "fix in 2.3", "assessor": "A",
                         "approved_on": "2024-01-01", "expires": "2024-12-31", "valid": True}
    stale["verdict"] = {"status": "CERTIFIED", "reasons": [], "blocking": []}
    key = tmp_path / "assessor-keys/assessor.key.pem"
    for name, report in (("dropped", dropped), ("stale", stale)):
        verified = runner.invoke(app, ["verify", str(_signed(tmp_path, report, key, folder=name))])
        assert verified.exit_code == 1 and "contradicts" in verified.output, (name, verified.output)


def test_verify_without_a_trusted_key_is_a_usage_error(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(trust.TRUST_STORE_ENV, str(tmp_path / "empty-store"))
    keys_new(tmp_path / "keys", "assessor")
    report = _signed(tmp_path, registered_certified_report(), tmp_path / "keys/assessor.key.pem")
    (report.parent / "assessor.pub.pem").write_bytes((tmp_path / "keys/assessor.pub.pem").read_bytes())
    verified = runner.invoke(app, ["verify", str(report)])
    assert verified.exit_code == 2 and "popcert keys trust" in verified.output
