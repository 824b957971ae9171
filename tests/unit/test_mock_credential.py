"""`popcert mock credential`: what a reproduction's variable line runs to get a credential of the
mock NPDB (issue 21 §2). The happy path against a live mock is
tests/integration/test_reproduction_replay.py; here, each mistake is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import jwt
from typer.testing import CliRunner

from harness.commands.main import app


def test_no_mock_state_is_one_line_naming_the_folder_and_the_fix(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["mock", "credential", "token", "--state-dir",
                                      str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no mock NPDB state here" in result.output and "POPCERT_NPDB_STATE_DIR" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_credential_or_kind_is_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["mock", "credential", "password"]).exit_code == 2
    assert runner.invoke(app, ["mock", "credential", "cert", "--kind", "stolen"]).exit_code == 2


def test_a_token_and_a_certificate_path_from_a_mock_state_folder(tmp_path: Path) -> None:
    from popcert_npdb.client import TestPKI

    TestPKI(tmp_path).ensure()  # the folder `popcert mock serve` makes
    runner = CliRunner()
    token = runner.invoke(app, ["mock", "credential", "token", "--client", "portal-b",
                                "--scope", "dossier.read"], env={"POPCERT_NPDB_STATE_DIR":
                                                                  str(tmp_path)})
    assert token.exit_code == 0, token.output
    claims = jwt.decode(token.output.strip(), options={"verify_signature": False})
    assert claims["client_id"] == "portal-b" and claims["scope"] == "dossier.read"
    assert claims["aud"] == "connection-api"
    cert = runner.invoke(app, ["mock", "credential", "cert", "--kind", "expired",
                               "--state-dir", str(tmp_path)])
    assert cert.exit_code == 0 and Path(cert.output.strip()).is_file()
