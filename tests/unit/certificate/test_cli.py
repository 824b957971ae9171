"""The assessor's commands end to end: issue, list, show, revoke, verify, registry site."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from harness.commands.main import app
from harness.signing.keys import keys_new
from tests.unit.certificate.conftest import Lab, certified, not_certified

runner = CliRunner()


def _popcert(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_issue_list_show_revoke_verify_site(lab: Lab, tmp_path: Path) -> None:
    report = lab.report(certified(system="Cổng dịch vụ công Hà Nội"))
    code, out = _popcert("certificate", "issue", str(report), "--key", str(lab.key),
                         "--assessor", "Lê Văn C")
    assert code == 0, out
    certificate = report.parent / "certificate.json"
    serial = json.loads(certificate.read_bytes())["serial"]
    assert f"issued {serial}" in out

    code, out = _popcert("certificate", "verify", str(certificate))
    assert code == 0 and f"VALID: certificate {serial}, valid" in out

    code, out = _popcert("certificate", "list", "--json")
    assert code == 0 and json.loads(out)[0]["status"] == "valid"
    code, out = _popcert("certificate", "show", serial)
    assert code == 0 and json.loads(out)["system"]["name"] == "Cổng dịch vụ công Hà Nội"

    code, out = _popcert("certificate", "revoke", serial, "--reason", "source changed",
                         "--key", str(lab.key))
    assert code == 0, out
    code, out = _popcert("certificate", "verify", str(certificate))
    assert code == 1 and "revoked on" in out and "source changed" in out
    code, out = _popcert("certificate", "list")
    assert "revoked" in out

    code, out = _popcert("registry", "site", str(tmp_path / "site"))
    assert code == 0 and (tmp_path / "site" / "index.html").exists()


def test_not_certified_report_is_a_usage_error(lab: Lab) -> None:
    code, out = _popcert("certificate", "issue", str(lab.report(not_certified())), "--key",
                         str(lab.key), "--assessor", "A")
    assert code == 2 and "not CERTIFIED" in out


def test_a_key_outside_the_trust_store_cannot_issue_or_revoke(lab: Lab, tmp_path: Path) -> None:
    stranger = keys_new(tmp_path / "stranger", "stranger")
    code, out = _popcert("certificate", "issue", str(lab.report(certified())), "--key",
                         str(stranger.private_key), "--assessor", "A")
    assert code == 2 and "not in the trust store" in out
    code, out = _popcert("certificate", "revoke", "PC-2026-000000000000", "--reason", "x",
                         "--key", str(stranger.private_key))
    assert code == 2 and "not in the trust store" in out


def test_verify_of_a_missing_file_is_a_usage_error(lab: Lab, tmp_path: Path) -> None:
    code, out = _popcert("certificate", "verify", str(tmp_path / "nothing.json"))
    assert code == 2 and "cannot read" in out


def test_a_file_that_is_not_a_registry_is_a_usage_error(lab: Lab, tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("this is not SQLite\n" * 200, encoding="utf-8")
    code, out = _popcert("certificate", "list", "--registry", str(not_a_database))
    assert code == 2 and "certificate registry" in out and "Traceback" not in out
    code, out = _popcert("certificate", "list", "--registry", "postgresql+nosuchdriver://x@127.0.0.1/db")
    assert code == 2 and "cannot open it" in out


def test_hostile_certificate_files_are_refused_in_one_line(lab: Lab, tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    huge = tmp_path / "huge.json"
    huge.write_text('{"certificate_version": "1.0", "x": "' + "a" * 300_000 + '"}', encoding="utf-8")
    for path in (deep, huge):
        code, out = _popcert("certificate", "verify", str(path))
        assert code == 2 and "Traceback" not in out and str(path) in out
