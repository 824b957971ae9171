"""Issue 24 item 5: bidi overrides, ESC sequences and other control characters in a system name,
an assessor's name or a revocation reason reach neither certificate.html, nor the registry site, nor
the terminal output of the certificate commands (the same strip_control as report.html).
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from harness.commands.main import app
from tests.hostile.inputs import CONTROL, CONTROL_TEXT
from tests.unit.certificate.conftest import Lab, certified

runner = CliRunner()
SYSTEM, SYSTEM_SHOWN = CONTROL_TEXT["system"]
ASSESSOR, ASSESSOR_SHOWN = CONTROL_TEXT["assessor"]
REASON, REASON_SHOWN = CONTROL_TEXT["reason"]


def _popcert(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _issue(lab: Lab) -> tuple[Path, str, str]:
    report = lab.report(certified(system=SYSTEM))
    code, out = _popcert("certificate", "issue", str(report), "--key", str(lab.key),
                         "--assessor", ASSESSOR)
    assert code == 0, out
    certificate = report.parent / "certificate.json"
    return certificate, json.loads(certificate.read_bytes())["serial"], out


def test_certificate_page_and_issue_output_carry_no_control_characters(lab: Lab) -> None:
    certificate, serial, out = _issue(lab)
    assert not CONTROL.search(out), repr(out)
    assert f"issued {serial} to {SYSTEM_SHOWN}, valid until" in out
    page = certificate.with_name("certificate.html").read_text(encoding="utf-8")
    assert not CONTROL.search(page)
    assert SYSTEM_SHOWN in page and ASSESSOR_SHOWN in page
    # The signed document keeps what the report said; only what is shown is cleaned.
    assert json.loads(certificate.read_bytes())["system"]["name"] == SYSTEM


def test_list_show_revoke_verify_print_no_control_characters(lab: Lab) -> None:
    certificate, serial, _ = _issue(lab)
    code, out = _popcert("certificate", "list")
    assert code == 0 and not CONTROL.search(out) and out.rstrip().endswith(SYSTEM_SHOWN)
    code, out = _popcert("certificate", "list", "--json")
    assert code == 0 and not CONTROL.search(out)
    assert json.loads(out)[0]["system"] == SYSTEM_SHOWN  # still valid JSON
    code, out = _popcert("certificate", "show", serial)
    assert code == 0 and not CONTROL.search(out) and "\\u001b" not in out
    assert json.loads(out)["assessor"]["name"] == ASSESSOR_SHOWN
    code, out = _popcert("certificate", "revoke", serial, "--reason", REASON, "--key", str(lab.key))
    assert code == 0 and not CONTROL.search(out)
    code, out = _popcert("certificate", "verify", str(certificate))
    assert code == 1 and not CONTROL.search(out) and REASON_SHOWN in out


def test_registry_site_carries_no_control_characters(lab: Lab, tmp_path: Path) -> None:
    _, serial, _ = _issue(lab)
    assert _popcert("certificate", "revoke", serial, "--reason", REASON, "--key", str(lab.key))[0] == 0
    code, out = _popcert("registry", "site", str(tmp_path / "site"))
    assert code == 0, out
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert not CONTROL.search(html)
    assert SYSTEM_SHOWN in html and ASSESSOR_SHOWN in html and REASON_SHOWN in html
    assert SYSTEM_SHOWN.lower() in html  # the search index (data-search) too


def test_an_error_line_carries_no_control_characters(lab: Lab, tmp_path: Path) -> None:
    missing = tmp_path / "no\x1b[2Jsuch\u202e.json"
    code, out = _popcert("certificate", "verify", str(missing))
    assert code == 2 and not CONTROL.search(out) and "Traceback" not in out
