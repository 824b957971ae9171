"""keys new / sign / verify / diff through typer, with the exit codes CI relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from harness.commands import reports as commands
from harness.report.render import render_all
from tests.unit.report.sample_report import certified_report, sample_report


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    keys = typer.Typer()
    keys.command("new")(commands.keys_new)
    app.add_typer(keys, name="keys")
    app.command()(commands.sign)
    app.command()(commands.verify)
    app.command()(commands.diff)
    return app


def _repo_report() -> dict:  # type: ignore[type-arg]
    """A NOT CERTIFIED report as a whole run of this popcert writes it (real specs and version,
    every registered check with a result), so `popcert sign` signs it and the default verify
    accepts it."""
    from harness.report.rederive import rederived_verdict
    from tests.unit.report.sample_report import as_run_wrote_it, doc, registered_certified_report

    report = registered_certified_report()
    failing = next(r for r in report["results"] if r["check"]["id"] == "AUTH-JWT-ALG-NONE")
    failing["status"], failing["summary"] = "fail", "a token with alg none was accepted"
    report["summary"]["by_status"] = {"pass": len(report["results"]) - 1, "fail": 1}
    report["summary"]["by_suite"]["auth"]["pass"] -= 1
    report["summary"]["by_suite"]["auth"]["fail"] = 1
    as_run_wrote_it(report)
    report["verdict"] = rederived_verdict(doc(report)).to_json()
    return report


def test_keys_sign_verify_roundtrip(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "new", "--out-dir", str(tmp_path / "k"), "--name", "assessor"])
    assert made.exit_code == 0, made.output
    assert "fingerprint: SHA256:" in made.output
    report = render_all(_repo_report(), tmp_path / "run", formats=("json",))["json"]
    signed = runner.invoke(app, ["sign", str(report), "--key", str(tmp_path / "k/assessor.key.pem")])
    assert signed.exit_code == 0, signed.output
    verified = runner.invoke(app, ["verify", str(report), "-p", str(tmp_path / "k/assessor.pub.pem")])
    assert verified.exit_code == 0, verified.output
    assert "VALID" in verified.output and "NOT CERTIFIED" in verified.output

    report.write_bytes(report.read_bytes().replace(b"alg none", b"alg NONE"))
    tampered = runner.invoke(app, ["verify", str(report), "-p", str(tmp_path / "k/assessor.pub.pem")])
    assert tampered.exit_code == 1 and "signature does not match" in tampered.output


def test_verify_usage_errors_exit_2(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    report = render_all(_repo_report(), tmp_path / "run", formats=("json",))["json"]
    missing_key = runner.invoke(app, ["verify", str(report), "-p", str(tmp_path / "k" / "none.pem")])
    assert missing_key.exit_code == 2 and "cannot read the public key" in missing_key.output
    runner.invoke(app, ["keys", "new", "-o", str(tmp_path / "k"), "-n", "a"])
    no_sig = runner.invoke(app, ["verify", str(report), "-p", str(tmp_path / "k" / "a.pub.pem")])
    assert no_sig.exit_code == 2 and "report.json.sig" in no_sig.output
    # A key lying next to the report is never trusted (anyone can put one there).
    runner.invoke(app, ["keys", "new", "-o", str(tmp_path / "run"), "-n", "a"])
    beside = runner.invoke(app, ["verify", str(report), "-p", str(tmp_path / "run" / "a.pub.pem")])
    assert beside.exit_code == 2 and "report's folder" in beside.output
    runner.invoke(app, ["keys", "new", "-o", str(tmp_path / "run" / "keys"), "-n", "a"])
    below = runner.invoke(app, ["verify", str(report), "-p", str(tmp_path / "run/keys/a.pub.pem")])
    assert below.exit_code == 2 and "report's folder" in below.output
    again = runner.invoke(app, ["keys", "new", "-o", str(tmp_path / "run"), "-n", "a"])
    assert again.exit_code == 2 and "already exists" in again.output


def test_diff_exit_code_reflects_regression(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(json.dumps(sample_report()), encoding="utf-8")
    good.write_text(json.dumps(certified_report()), encoding="utf-8")
    improved = runner.invoke(app, ["diff", str(bad), str(good), "--plain"])
    assert improved.exit_code == 0 and "verdict: NOT CERTIFIED -> CERTIFIED" in improved.output
    regressed = runner.invoke(app, ["diff", str(good), str(bad)])
    assert regressed.exit_code == 1 and "AUTH-JWT-ALG-NONE" in regressed.output
    broken = runner.invoke(app, ["diff", str(good), str(tmp_path / "missing.json")])
    assert broken.exit_code == 2


def test_diff_of_an_edited_report_names_the_broken_field(app: typer.Typer, tmp_path: Path) -> None:
    edited = sample_report()
    edited["results"][0]["status"] = "\x1b[32mpass"
    good, bad = tmp_path / "good.json", tmp_path / "edited.json"
    good.write_text(json.dumps(certified_report()), encoding="utf-8")
    bad.write_text(json.dumps(edited), encoding="utf-8")
    refused = CliRunner().invoke(app, ["diff", str(good), str(bad)])
    assert refused.exit_code == 2 and "results[0].status" in refused.output
    assert "\x1b" not in refused.output and "Traceback" not in refused.output
